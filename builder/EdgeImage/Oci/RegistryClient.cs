using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text.Json;

namespace EdgeImage.Oci;

/// <summary>
/// Reads manifests and blobs over the registry HTTP API v2 (the OCI distribution spec). A 401 is
/// answered once, the way docker and containerd do: for `WWW-Authenticate: Bearer realm=...` a
/// token is fetched from the realm (sending the registry's login from the auth files as Basic
/// auth, or anonymously without one; a docker identity token goes by OAuth2's refresh-token grant
/// in a POST form instead, as containerd sends it) and the request retried with it; for `Basic realm=...`
/// (htpasswd registries) the request is retried with the login itself. A login goes only to the
/// registry and to the realm its challenge names, and only over https or loopback; redirects are
/// followed here, not by the handler, so an Authorization header never follows a redirect to
/// another host (registries send blobs to storage or a CDN by a signed redirect). https always,
/// except for loopback registries and hosts the caller names as insecure, which are spoken to in
/// plain http. Nothing here trusts what it reads; <see cref="OciPuller"/> verifies every byte
/// against its digest.
/// </summary>
public sealed class RegistryClient(HttpClient http, IReadOnlySet<string>? insecureRegistries = null, RegistryAuth? auth = null)
{
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    private const int MaxRedirects = 5;

    /// <summary>The OAuth2 client_id of the refresh-token grant (containerd sends its own name the same way).</summary>
    private const string OAuthClientId = "edgeimage";

    private static readonly string[] ManifestTypes = [OciIndex, OciManifest, DockerManifestList, DockerManifest];

    private readonly RegistryAuth _auth = auth ?? RegistryAuth.None;
    private readonly Dictionary<string, AuthenticationHeaderValue> _authorizations = new(StringComparer.Ordinal);
    private readonly Lock _authorizationsGate = new();

    /// <summary>An HttpClient that leaves redirects to the registry client, which decides where an Authorization header may go.</summary>
    public static HttpClient CreateHttpClient(RegistryTrust? trust = null) => new(CreateHandler(trust));

    /// <summary>The handler of <see cref="CreateHttpClient"/>: no automatic redirects, and <paramref name="trust"/>'s CAs for TLS.</summary>
    public static SocketsHttpHandler CreateHandler(RegistryTrust? trust = null)
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        if (trust is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => trust.Accepts(certificate, chain, errors);
        }
        return handler;
    }

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
        var key = $"{image.ApiHost}/{image.Repository}";
        AuthenticationHeaderValue? authorization;
        lock (_authorizationsGate)
        {
            authorization = _authorizations.GetValueOrDefault(key);
        }
        var response = await SendAsync(url, accept, authorization, image, cancellation);
        RegistryLogin? login = null;
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            var challenges = response.Headers.WwwAuthenticate.Select(h => h.ToString()).ToList();
            var bearer = challenges.Select(BearerChallenge.TryParse).OfType<BearerChallenge>().FirstOrDefault();
            var basic = challenges.Any(c => c.StartsWith("Basic", StringComparison.OrdinalIgnoreCase));
            if (bearer is not null || basic)
            {
                var status = Status(response);
                response.Dispose();
                login = _auth.Find(image);
                authorization = bearer is not null
                    ? new AuthenticationHeaderValue("Bearer", await FetchTokenAsync(bearer, image, login, cancellation))
                    : BasicFor(image, url, status, login);
                lock (_authorizationsGate)
                {
                    _authorizations[key] = authorization;
                }
                response = await SendAsync(url, accept, authorization, image, cancellation);
            }
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        var answered = Status(response);
        var code = response.StatusCode;
        response.Dispose();
        throw code switch
        {
            HttpStatusCode.NotFound => new EdgeImageException($"{image}: {url} answered {answered}",
                "Check the image name and that the digest exists in that registry (`skopeo inspect docker://NAME@DIGEST`).", ExitCodes.NotFound),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => Denied(image, url.ToString(), answered, login),
            _ => new EdgeImageException($"{image}: {url} answered {answered}", "Check the registry, or try again later."),
        };
    }

    /// <summary>The login as Basic auth for a registry's own `Basic realm` challenge, never in plain text to another machine.</summary>
    private AuthenticationHeaderValue BasicFor(ImageReference image, Uri url, string status, RegistryLogin? login)
    {
        if (login?.Credential is not { } credential)
        {
            throw Denied(image, url.ToString(), status, login);
        }
        if (credential.TokenOnly)
        {
            throw new EdgeImageException($"{image}: registry {image.Registry} asks for a password ({status}, Basic auth) and the login for {login.Key} in {login.File} is only an identity token",
                $"Identity tokens are accepted by registries that hand out bearer tokens only; log in with a user name and password: `skopeo login --authfile {login.File} {image.Registry}`.");
        }
        if (url.Scheme != Uri.UriSchemeHttps && !IsLoopback(url.Host))
        {
            throw new EdgeImageException($"{image}: registry {image.Registry} asks for a password over plain http ({url})",
                "The password would cross the network readable by anyone on the way; serve the registry over https (--insecure-registry is for registries without a login).",
                ExitCodes.VerificationFailed);
        }
        return new AuthenticationHeaderValue("Basic", credential.Basic);
    }

    /// <summary>
    /// Sends a GET and follows redirects itself (up to five): the Authorization header goes along
    /// only while the target stays on the scheme, host and port it was meant for, and https never
    /// turns into http. With a <paramref name="form"/> it is a POST of that form, whose redirects
    /// are not followed at all: the form holds a secret meant for that URL alone.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Uri url, string[] accept, AuthenticationHeaderValue? authorization, ImageReference image, CancellationToken cancellation, FormUrlEncodedContent? form = null)
    {
        for (var hops = 0; ; hops++)
        {
            using var request = new HttpRequestMessage(form is null ? HttpMethod.Get : HttpMethod.Post, url) { Content = form };
            foreach (var type in accept)
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            }
            request.Headers.Authorization = authorization;
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
            }
            catch (HttpRequestException e) when (e.InnerException is AuthenticationException tls)
            {
                throw new EdgeImageException($"{image}: TLS with {url.GetLeftPart(UriPartial.Authority)} failed: {tls.Message}",
                    "If the registry's certificate comes from a private CA, give that CA with --registry-ca FILE (PEM); check the registry's host name against its certificate.",
                    ExitCodes.VerificationFailed, e);
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellation.IsCancellationRequested))
            {
                throw new EdgeImageException($"{image}: cannot reach {url}: {e.Message}",
                    "Check the network and the registry name; registries on this machine (localhost, 127.0.0.1) are spoken to over http.",
                    ExitCodes.Failure, e);
            }
            if (form is not null || (int)response.StatusCode is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is not { } location)
            {
                return response;
            }
            response.Dispose();
            var next = location.IsAbsoluteUri ? location : new Uri(url, location);
            if (hops == MaxRedirects || (url.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps))
            {
                throw new EdgeImageException($"{image}: {url} redirects to {next.GetLeftPart(UriPartial.Path)}, which is {(hops == MaxRedirects ? $"more than {MaxRedirects} redirects" : "not https")}",
                    "The registry or its storage is misconfigured; check the registry.", ExitCodes.VerificationFailed);
            }
            if (!SameOrigin(url, next))
            {
                authorization = null;
            }
            url = next;
        }
    }

    private async Task<string> FetchTokenAsync(BearerChallenge challenge, ImageReference image, RegistryLogin? login, CancellationToken cancellation)
    {
        var url = challenge.TokenUrl(image.Repository);
        if (url.Scheme != Uri.UriSchemeHttps && !IsLoopback(url.Host))
        {
            throw new EdgeImageException($"{image}: the registry wants a token from {url}, which is not https",
                "A token fetched in plain text can be stolen; the registry's configuration is wrong.", ExitCodes.VerificationFailed);
        }
        if (login?.Credential is { IdentityToken: { } identityToken } tokenLogin)
        {
            var realm = new Uri(challenge.Realm);
            using var form = new FormUrlEncodedContent(challenge.RefreshTokenForm(image.Repository, OAuthClientId, identityToken));
            using var oauth = await SendAsync(realm, [], null, image, cancellation, form);
            // Token services without OAuth2 (GCR's, Artifactory's) answer a POST with 404 or 405;
            // containerd then asks again by GET with Basic auth, which needs a password.
            if (oauth.StatusCode is not (HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed))
            {
                return await TokenFromAsync(oauth, image, $"token endpoint {realm}", login, cancellation);
            }
            if (tokenLogin.TokenOnly)
            {
                throw new EdgeImageException(
                    $"{image}: token endpoint {realm} answered {Status(oauth)} to the OAuth2 request for the identity token for {login.Key} from {login.File}: the registry's token service does not take identity tokens",
                    $"Log in again with a user name and password, which the token service takes as Basic auth: `skopeo login --authfile {login.File} {image.Registry}` (or put \"username\" and \"password\" for {login.Key} in {login.File}).");
            }
        }
        var basic = login?.Credential is { } credential ? new AuthenticationHeaderValue("Basic", credential.Basic) : null;
        using var response = await SendAsync(url, [], basic, image, cancellation);
        return await TokenFromAsync(response, image, $"token endpoint {url}", login, cancellation);
    }

    /// <summary>The token in a token service's answer, or the error for its refusal.</summary>
    private async Task<string> TokenFromAsync(HttpResponseMessage response, ImageReference image, string what, RegistryLogin? login, CancellationToken cancellation)
    {
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw Denied(image, what, Status(response), login);
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new EdgeImageException($"{image}: {what} answered {Status(response)}",
                "Check the registry's token service, or try again later.");
        }
        var body = await response.Content.ReadAsByteArrayAsync(cancellation);
        return TokenIn(body) ?? throw new EdgeImageException($"{image}: {what} answered without a token",
            "The registry's token service is not one this builder understands (it expects JSON with \"token\" or \"access_token\").");
    }

    /// <summary>The error for a refused request: wrong login, a login left to a helper, or none at all. Names the login's user and file, never its password.</summary>
    private EdgeImageException Denied(ImageReference image, string what, string status, RegistryLogin? login) => login switch
    {
        { Credential.TokenOnly: true } => new EdgeImageException(
            $"{image}: {what} answered {status} to the identity token for {login.Key} from {login.File}",
            $"The token has expired or been revoked, or its user may not pull {image.Registry}/{image.Repository}: log in again (`skopeo login --authfile {login.File} {image.Registry}`, or `docker login {image.Registry}`)."),
        { Credential: { } credential } => new EdgeImageException(
            $"{image}: {what} answered {status} to the login of user '{credential.Username}' for {login.Key} from {login.File}",
            $"The registry rejects that login, or the user may not pull {image.Registry}/{image.Repository}: check the password and log in again (`skopeo login --authfile {login.File} {image.Registry}`)."),
        { Helper: { } helper } => new EdgeImageException(
            $"{image}: {what} answered {status}; the login for {image.Registry} is left to the credential helper '{helper}' ({login.Key} in {login.File}), and EdgeImage does not run credential helpers",
            $"Use an auth file that holds the login inline (\"auth\"): `skopeo login --authfile FILE {image.Registry}`, then build with `--registry-auth FILE`."),
        _ => new EdgeImageException(
            $"{image}: {what} answered {status}: registry {image.Registry} wants a login and no auth file has one for it",
            $"Log in with `skopeo login --authfile FILE {image.Registry}` and build with `--registry-auth FILE` (or set $REGISTRY_AUTH_FILE); "
            + (_auth.Paths.Count == 0 ? "no auth file was found" : $"searched {string.Join(", ", _auth.Paths)}")
            + ". Check the image name too: registries answer this way for repositories that do not exist."),
    };

    private static string Status(HttpResponseMessage response) => $"{(int)response.StatusCode} {response.ReasonPhrase}";

    private static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && a.Port == b.Port && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase);

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
