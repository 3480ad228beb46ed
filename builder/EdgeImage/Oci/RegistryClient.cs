using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace EdgeImage.Oci;

/// <summary>
/// Reads manifests and blobs over the registry HTTP API v2 (the OCI distribution spec). Anonymous
/// pulls, with the bearer token flow registries such as Docker Hub and GHCR require even for public
/// images: a 401 carrying `WWW-Authenticate: Bearer realm=...` is answered by fetching a token from
/// the realm and retrying once with it. https always, except for loopback registries and hosts the
/// caller names as insecure, which are spoken to in plain http. Nothing here trusts what it reads;
/// <see cref="OciPuller"/> verifies every byte against its digest.
/// </summary>
public sealed class RegistryClient(HttpClient http, IReadOnlySet<string>? insecureRegistries = null)
{
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    private static readonly string[] ManifestTypes = [OciIndex, OciManifest, DockerManifestList, DockerManifest];

    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly Lock _tokensGate = new();

    /// <summary>GET /v2/REPOSITORY/manifests/DIGEST with the manifest types this builder can read; the caller disposes the response.</summary>
    public Task<HttpResponseMessage> GetManifestAsync(ImageReference image, string digest, CancellationToken cancellation) =>
        GetAsync(image, $"manifests/{digest}", ManifestTypes, cancellation);

    /// <summary>GET /v2/REPOSITORY/blobs/DIGEST (redirects to storage are followed); the caller disposes the response.</summary>
    public Task<HttpResponseMessage> GetBlobAsync(ImageReference image, string digest, CancellationToken cancellation) =>
        GetAsync(image, $"blobs/{digest}", [], cancellation);

    public Uri BaseUrl(ImageReference image)
    {
        var host = image.ApiHost;
        var bare = host.StartsWith('[') ? host[..(host.IndexOf(']') + 1)] : host.Split(':')[0];
        var plain = IsLoopback(bare) || (insecureRegistries?.Contains(host) ?? false) || (insecureRegistries?.Contains(image.Registry) ?? false);
        return new Uri($"{(plain ? "http" : "https")}://{host}/v2/{image.Repository}/");
    }

    private async Task<HttpResponseMessage> GetAsync(ImageReference image, string path, string[] accept, CancellationToken cancellation)
    {
        var url = new Uri(BaseUrl(image), path);
        var tokenKey = $"{image.ApiHost}/{image.Repository}";
        string? token;
        lock (_tokensGate)
        {
            token = _tokens.GetValueOrDefault(tokenKey);
        }
        var response = await SendAsync(url, accept, token, image, cancellation);
        if (response.StatusCode == HttpStatusCode.Unauthorized
            && response.Headers.WwwAuthenticate.Select(h => BearerChallenge.TryParse(h.ToString())).OfType<BearerChallenge>().FirstOrDefault() is { } challenge)
        {
            response.Dispose();
            token = await FetchTokenAsync(challenge, image, cancellation);
            lock (_tokensGate)
            {
                _tokens[tokenKey] = token;
            }
            response = await SendAsync(url, accept, token, image, cancellation);
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        var code = response.StatusCode;
        response.Dispose();
        throw code switch
        {
            HttpStatusCode.NotFound => new EdgeImageException($"{image}: {url} answered {status}",
                "Check the image name and that the digest exists in that registry (`skopeo inspect docker://NAME@DIGEST`).", ExitCodes.NotFound),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new EdgeImageException($"{image}: {url} answered {status}",
                "The registry refuses anonymous pulls of this image; only public images can be pulled so far."),
            _ => new EdgeImageException($"{image}: {url} answered {status}", "Check the registry, or try again later."),
        };
    }

    private async Task<HttpResponseMessage> SendAsync(Uri url, string[] accept, string? token, ImageReference image, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var type in accept)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellation.IsCancellationRequested))
        {
            throw new EdgeImageException($"{image}: cannot reach {url}: {e.Message}",
                "Check the network and the registry name; registries on this machine (localhost, 127.0.0.1) are spoken to over http.",
                ExitCodes.Failure, e);
        }
    }

    private async Task<string> FetchTokenAsync(BearerChallenge challenge, ImageReference image, CancellationToken cancellation)
    {
        var url = challenge.TokenUrl(image.Repository);
        if (url.Scheme != Uri.UriSchemeHttps && !IsLoopback(url.Host))
        {
            throw new EdgeImageException($"{image}: the registry wants a token from {url}, which is not https",
                "A token fetched in plain text can be stolen; the registry's configuration is wrong.", ExitCodes.VerificationFailed);
        }
        using var response = await SendAsync(url, [], null, image, cancellation);
        if (!response.IsSuccessStatusCode)
        {
            throw new EdgeImageException($"{image}: token endpoint {url} answered {(int)response.StatusCode} {response.ReasonPhrase}",
                "The registry refuses anonymous pulls of this image; only public images can be pulled so far.");
        }
        var body = await response.Content.ReadAsByteArrayAsync(cancellation);
        return TokenIn(body) ?? throw new EdgeImageException($"{image}: token endpoint {url} answered without a token",
            "The registry's token service is not one this builder understands (it expects JSON with \"token\").");
    }

    /// <summary>The token of a token-service answer: "token", or OAuth2's "access_token" some services send instead.</summary>
    private static string? TokenIn(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return ((string[])["token", "access_token"])
                .Select(name => json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null)
                .FirstOrDefault(token => !string.IsNullOrEmpty(token));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsLoopback(string host) =>
        host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
