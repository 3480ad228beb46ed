using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using EdgeImage.Oci;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Oci;

/// <summary>
/// The registry client against a loopback HTTP server double whose TokenRegistryDouble answers like
/// a registry behind a token service (Docker Hub's flow): 401 + WWW-Authenticate: Bearer, a token
/// endpoint, and manifests only for requests that carry the token.
/// </summary>
public sealed class RegistryClientTests : IDisposable
{
    private const string Token = "token-for-test/app";
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}""");
    private static readonly string ManifestDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Manifest));

    private readonly LoopbackHttpServerDouble _server;
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly HttpClient _http = new();

    public RegistryClientTests() => _server = new(TokenRegistryDouble);

    [Fact]
    public async Task Challenge_is_answered_with_a_token_from_the_realm_and_the_request_retried_with_it()
    {
        var client = new RegistryClient(_http);
        var image = ImageReference.Parse($"127.0.0.1:{_server.Port}/test/app@{ManifestDigest}");

        using var response = await client.GetManifestAsync(image, ManifestDigest, default);

        Assert.Equal(Manifest, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(
            [
                $"GET /v2/test/app/manifests/{ManifestDigest} auth=",
                "GET /token?service=test-registry&scope=repository%3Atest%2Fapp%3Apull auth=",
                $"GET /v2/test/app/manifests/{ManifestDigest} auth=Bearer {Token}",
            ],
            _requests.ToArray());
    }

    [Fact]
    public async Task Token_is_reused_for_the_next_request_to_the_same_repository()
    {
        var client = new RegistryClient(_http);
        var image = ImageReference.Parse($"127.0.0.1:{_server.Port}/test/app@{ManifestDigest}");

        (await client.GetManifestAsync(image, ManifestDigest, default)).Dispose();
        (await client.GetManifestAsync(image, ManifestDigest, default)).Dispose();

        Assert.Equal(4, _requests.Count);
        Assert.EndsWith($"auth=Bearer {Token}", _requests.Last());
    }

    [Fact]
    public async Task Manifest_request_accepts_oci_and_docker_manifests_and_indexes()
    {
        var client = new RegistryClient(_http);
        var image = ImageReference.Parse($"127.0.0.1:{_server.Port}/test/accept@{ManifestDigest}");

        using var response = await client.GetManifestAsync(image, ManifestDigest, default);

        var accepted = await response.Content.ReadAsStringAsync();
        Assert.Contains(RegistryClient.OciIndex, accepted);
        Assert.Contains(RegistryClient.OciManifest, accepted);
        Assert.Contains(RegistryClient.DockerManifestList, accepted);
        Assert.Contains(RegistryClient.DockerManifest, accepted);
    }

    [Fact]
    public async Task Refused_token_is_an_error_naming_the_token_endpoint()
    {
        var client = new RegistryClient(_http);
        var image = ImageReference.Parse($"127.0.0.1:{_server.Port}/private/app@{ManifestDigest}");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => client.GetManifestAsync(image, ManifestDigest, default));

        Assert.Contains($"token endpoint http://127.0.0.1:{_server.Port}/token", error.Message);
        Assert.Contains("401", error.Message);
    }

    [Theory]
    [InlineData("registry.example/app", "https://registry.example/v2/app/")]
    [InlineData("registry.example:5000/team/app", "https://registry.example:5000/v2/team/app/")]
    [InlineData("127.0.0.1:5000/app", "http://127.0.0.1:5000/v2/app/")]
    [InlineData("localhost:5000/app", "http://localhost:5000/v2/app/")]
    [InlineData("nginx", "https://registry-1.docker.io/v2/library/nginx/")]
    [InlineData("bitnami/nginx", "https://registry-1.docker.io/v2/bitnami/nginx/")]
    public void Https_is_used_except_for_loopback_registries(string name, string expected) =>
        Assert.Equal(expected, new RegistryClient(_http).BaseUrl(ImageReference.Parse($"{name}@{ManifestDigest}")).AbsoluteUri);

    [Fact]
    public void Registry_named_insecure_is_spoken_to_over_http() =>
        Assert.Equal("http://registry.lan:5000/v2/app/",
            new RegistryClient(_http, new HashSet<string> { "registry.lan:5000" }).BaseUrl(ImageReference.Parse($"registry.lan:5000/app@{ManifestDigest}")).AbsoluteUri);

    [Fact]
    public void Challenge_parameters_are_read_with_quoted_commas_and_escapes()
    {
        var challenge = BearerChallenge.TryParse("""Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="x\"y" """);

        Assert.Equal(new BearerChallenge("https://auth.example/token", "registry.example", "repository:a/b:pull,push"), challenge);
        Assert.Equal("https://auth.example/token?service=registry.example&scope=repository%3Aa%2Fb%3Apull%2Cpush", challenge!.TokenUrl("a/b").AbsoluteUri);
        Assert.Null(BearerChallenge.TryParse("Basic realm=\"registry\""));
    }

    [Theory]
    [InlineData("nginx:1.27@sha256:", "docker.io", "library/nginx", "1.27")]
    [InlineData("ghcr.io/org/app@sha256:", "ghcr.io", "org/app", null)]
    [InlineData("localhost/app:v1@sha256:", "localhost", "app", "v1")]
    public void Reference_names_registry_repository_and_tag(string prefix, string registry, string repository, string? tag)
    {
        var reference = ImageReference.Parse(prefix + ManifestDigest[7..]);

        Assert.Equal((registry, repository, tag, ManifestDigest), (reference.Registry, reference.Repository, reference.Tag, reference.Digest));
    }

    [Theory]
    [InlineData("armhf", "linux", "arm", "v7", true)]
    [InlineData("armhf", "linux", "arm", "v6", false)]
    [InlineData("armhf", "linux", "arm", null, false)]
    [InlineData("arm64", "linux", "arm64", null, true)]
    [InlineData("arm64", "linux", "arm64", "v8", true)]
    [InlineData("amd64", "linux", "amd64", null, true)]
    [InlineData("amd64", "windows", "amd64", null, false)]
    public void Platform_matches_index_entries_by_os_architecture_and_variant(string debian, string os, string arch, string? variant, bool fits) =>
        Assert.Equal(fits, OciPlatform.ForDebian(debian).Accepts(os, arch, variant));

    public void Dispose()
    {
        _http.Dispose();
        _server.Dispose();
    }

    private byte[] TokenRegistryDouble(HttpListenerRequest request, HttpListenerResponse response)
    {
        var auth = request.Headers["Authorization"] ?? "";
        var url = request.Url!;
        _requests.Enqueue($"{request.HttpMethod} {url.PathAndQuery} auth={auth}");
        if (url.AbsolutePath == "/token")
        {
            var repository = Uri.UnescapeDataString(url.Query).Split("repository:")[1].Split(':')[0];
            var known = repository is "test/app" or "test/accept" && request.QueryString["service"] == "test-registry";
            response.StatusCode = known ? 200 : 401;
            return Encoding.UTF8.GetBytes(known ? $$"""{"token":"token-for-{{repository}}","expires_in":300}""" : "{}");
        }
        if (auth != $"Bearer token-for-{url.AbsolutePath.Split('/')[2]}/{url.AbsolutePath.Split('/')[3]}")
        {
            var repository = $"{url.AbsolutePath.Split('/')[2]}/{url.AbsolutePath.Split('/')[3]}";
            response.StatusCode = 401;
            response.AddHeader("WWW-Authenticate", $"Bearer realm=\"http://127.0.0.1:{_server.Port}/token\",service=\"test-registry\",scope=\"repository:{repository}:pull\"");
            return [];
        }
        if (url.AbsolutePath.Contains("/test/accept/", StringComparison.Ordinal))
        {
            return Encoding.UTF8.GetBytes(request.Headers["Accept"] ?? "");
        }
        response.ContentType = RegistryClient.OciManifest;
        return Manifest;
    }
}
