using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using EdgeImage.Oci;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Oci;

/// <summary>
/// The registry client's logins against a loopback HTTP server double, PrivateRegistryDouble, that
/// answers like a private registry: repositories under basic/ challenge with `Basic realm` (an
/// htpasswd registry), those under bearer/ with `Bearer realm` whose token endpoint wants the login
/// as Basic auth (and answers a POST with 404, as token services without OAuth2 do), those under
/// oauth/ with a realm that takes only OAuth2's refresh-token grant, and redirect/ sends blobs elsewhere, to a second server (StorageDouble, another
/// port: another host as far as origins go) or to a path of its own. What a loopback server cannot
/// be (a registry on another machine, an https one) is a RecordingHandlerDouble under HttpClient.
/// </summary>
public sealed class RegistryLoginTests : IDisposable
{
    private const string User = "fleet";
    private const string Password = "correct-horse-SECRET";
    private static readonly string GoodBasic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"layers":[]}""");
    private static readonly string ManifestDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Manifest));
    private const string IdentityToken = "id/token+SECRET==";
    private const string AzurePlaceholderUser = "00000000-0000-0000-0000-000000000000";

    private readonly string _dir = Directory.CreateTempSubdirectory("eig-reglogin-").FullName;
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly LoopbackHttpServerDouble _registry;
    private readonly LoopbackHttpServerDouble _storage;
    private readonly HttpClient _http = RegistryClient.CreateHttpClient();

    public RegistryLoginTests()
    {
        _registry = new(PrivateRegistryDouble);
        _storage = new(StorageDouble);
    }

    [Fact]
    public async Task Bearer_challenge_sends_the_login_as_basic_auth_to_the_realm_and_retries_with_the_token()
    {
        var image = Image("bearer/app");

        using var response = await Client(Login(User, Password)).GetManifestAsync(image, ManifestDigest, default);

        Assert.Equal(Manifest, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(
            [
                $"registry GET /v2/bearer/app/manifests/{ManifestDigest} auth=",
                $"registry GET /token?service=test-registry&scope=repository%3Abearer%2Fapp%3Apull auth={GoodBasic}",
                $"registry GET /v2/bearer/app/manifests/{ManifestDigest} auth=Bearer token-for-{User}",
            ],
            _requests.ToArray());
    }

    [Fact]
    public async Task Basic_challenge_is_answered_by_retrying_with_the_login_which_later_requests_send_at_once()
    {
        var client = Client(Login(User, Password));
        var image = Image("basic/app");

        (await client.GetManifestAsync(image, ManifestDigest, default)).Dispose();
        using var second = await client.GetManifestAsync(image, ManifestDigest, default);

        Assert.Equal(Manifest, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(
            [
                $"registry GET /v2/basic/app/manifests/{ManifestDigest} auth=",
                $"registry GET /v2/basic/app/manifests/{ManifestDigest} auth={GoodBasic}",
                $"registry GET /v2/basic/app/manifests/{ManifestDigest} auth={GoodBasic}",
            ],
            _requests.ToArray());
    }

    [Theory]
    [InlineData("basic/app")]
    [InlineData("bearer/app")]
    public async Task Registry_that_wants_a_login_without_one_is_an_error_saying_how_to_supply_it(string repository)
    {
        var image = Image(repository);

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Client(RegistryAuth.None).GetManifestAsync(image, ManifestDigest, default));

        Assert.Contains($"registry 127.0.0.1:{_registry.Port} wants a login and no auth file has one for it", error.Message);
        Assert.Contains("401", error.Message);
        Assert.Contains($"skopeo login --authfile FILE 127.0.0.1:{_registry.Port}", error.Hint);
        Assert.Contains("--registry-auth FILE", error.Hint);
    }

    [Theory]
    [InlineData("basic/app", 2)]
    [InlineData("bearer/app", 2)]
    public async Task Wrong_password_is_an_error_after_one_try_that_names_user_and_file_but_not_the_password(string repository, int requests)
    {
        var wrong = "wrong-SECRET-guess";
        var file = Login(User, wrong);
        var image = Image(repository);

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Client(file).GetManifestAsync(image, ManifestDigest, default));

        Assert.Equal(requests, _requests.Count);
        Assert.Contains($"answered 401 Unauthorized to the login of user '{User}' for 127.0.0.1:{_registry.Port} from {file.Paths[0]}", error.Message);
        var text = error.Message + error.Hint + error.InnerException?.Message;
        Assert.DoesNotContain("SECRET", text);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{wrong}")), text);
    }

    [Fact]
    public async Task Credential_helper_for_the_registry_is_an_error_naming_it_and_the_file()
    {
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, $$"""{"credHelpers": {"127.0.0.1:{{_registry.Port}}": "pass"} }""");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            Client(RegistryAuth.Locate(path, _ => null)).GetManifestAsync(Image("basic/app"), ManifestDigest, default));

        Assert.Contains($"credential helper 'pass' (127.0.0.1:{_registry.Port} in {path})", error.Message);
        Assert.Contains("inline (\"auth\")", error.Hint);
    }

    [Fact]
    public async Task Redirect_to_another_host_does_not_carry_the_authorization()
    {
        using var response = await Client(Login(User, Password)).GetBlobAsync(Image("redirect/app"), "sha256:cdn", default);

        Assert.Equal("blob from storage", await response.Content.ReadAsStringAsync());
        Assert.Equal(
            [
                "registry GET /v2/redirect/app/blobs/sha256:cdn auth=",
                $"registry GET /v2/redirect/app/blobs/sha256:cdn auth={GoodBasic}",
                "storage GET /blob?signature=abc auth=",
            ],
            _requests.ToArray());
    }

    [Fact]
    public async Task Redirect_within_the_registry_keeps_the_authorization()
    {
        using var response = await Client(Login(User, Password)).GetBlobAsync(Image("redirect/app"), "sha256:local", default);

        Assert.Equal("blob from the registry", await response.Content.ReadAsStringAsync());
        Assert.Equal($"registry GET /v2/redirect/app/stored auth={GoodBasic}", _requests.Last());
    }

    [Fact]
    public async Task Password_is_not_sent_in_plain_http_to_a_registry_on_another_machine()
    {
        var handler = new RecordingHandlerDouble(_ => Challenge("Basic realm=\"lan\""));
        using var http = new HttpClient(handler);
        var client = new RegistryClient(http, new HashSet<string> { "registry.lan:5000" }, LoginFor("registry.lan:5000"));

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            client.GetManifestAsync(ImageReference.Parse($"registry.lan:5000/app@{ManifestDigest}"), ManifestDigest, default));

        Assert.Contains("asks for a password over plain http", error.Message);
        Assert.Equal(["GET http://registry.lan:5000/v2/app/manifests/" + ManifestDigest + " auth="], handler.Requests);
    }

    [Fact]
    public async Task Redirect_from_https_to_http_is_refused()
    {
        var handler = new RecordingHandlerDouble(request => request.RequestUri!.Scheme == "https"
            ? new HttpResponseMessage(HttpStatusCode.TemporaryRedirect) { Headers = { Location = new Uri("http://cdn.example/blob") } }
            : new HttpResponseMessage(HttpStatusCode.OK));
        using var http = new HttpClient(handler);

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            new RegistryClient(http).GetBlobAsync(ImageReference.Parse($"registry.example/app@{ManifestDigest}"), "sha256:x", default));

        Assert.Contains("redirects to http://cdn.example/blob, which is not https", error.Message);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Identity_token_is_posted_as_an_oauth2_refresh_token_grant_to_the_realm_and_the_access_token_is_used()
    {
        var image = Image("oauth/app");

        using var response = await Client(IdentityTokenLogin(AzurePlaceholderUser + ":")).GetManifestAsync(image, ManifestDigest, default);

        Assert.Equal(Manifest, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(
            [
                $"registry GET /v2/oauth/app/manifests/{ManifestDigest} auth=",
                "registry POST /oauth2/token auth= type=application/x-www-form-urlencoded body=grant_type=refresh_token&service=test-registry"
                + "&scope=repository%3Aoauth%2Fapp%3Apull+repository%3Aoauth%2Fbase%3Apull&client_id=edgeimage&refresh_token=id%2Ftoken%2BSECRET%3D%3D",
                $"registry GET /v2/oauth/app/manifests/{ManifestDigest} auth=Bearer oauth-access-token",
            ],
            _requests.ToArray());
    }

    [Fact]
    public async Task Rejected_identity_token_is_an_error_naming_key_and_file_but_not_the_token()
    {
        var auth = IdentityTokenLogin(null, token: "expired-SECRET");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Client(auth).GetManifestAsync(Image("oauth/app"), ManifestDigest, default));

        Assert.Contains($"token endpoint http://127.0.0.1:{_registry.Port}/oauth2/token answered 401 Unauthorized to the identity token for 127.0.0.1:{_registry.Port} from {auth.Paths[0]}", error.Message);
        Assert.DoesNotContain("SECRET", error.Message + error.Hint);
        Assert.Equal(2, _requests.Count);
    }

    [Fact]
    public async Task Token_service_without_oauth2_is_an_error_for_an_identity_token_alone_saying_how_to_log_in()
    {
        var auth = IdentityTokenLogin(AzurePlaceholderUser + ":");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Client(auth).GetManifestAsync(Image("bearer/app"), ManifestDigest, default));

        Assert.Contains($"token endpoint http://127.0.0.1:{_registry.Port}/token answered 404 Not Found to the OAuth2 request for the identity token for 127.0.0.1:{_registry.Port} from {auth.Paths[0]}", error.Message);
        Assert.Contains($"skopeo login --authfile {auth.Paths[0]} 127.0.0.1:{_registry.Port}", error.Hint);
        Assert.DoesNotContain("SECRET", error.Message + error.Hint);
        Assert.Equal(2, _requests.Count);
        Assert.StartsWith("registry POST /token auth= ", _requests.Last());
    }

    [Fact]
    public async Task Token_service_without_oauth2_gets_the_password_next_to_the_identity_token_as_basic_auth()
    {
        using var response = await Client(IdentityTokenLogin($"{User}:{Password}")).GetManifestAsync(Image("bearer/app"), ManifestDigest, default);

        Assert.Equal(Manifest, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(
            [
                $"registry GET /v2/bearer/app/manifests/{ManifestDigest} auth=",
                $"registry POST /token auth= type=application/x-www-form-urlencoded body=grant_type=refresh_token&service=test-registry&scope=repository%3Abearer%2Fapp%3Apull&client_id=edgeimage&refresh_token=id%2Ftoken%2BSECRET%3D%3D",
                $"registry GET /token?service=test-registry&scope=repository%3Abearer%2Fapp%3Apull auth={GoodBasic}",
                $"registry GET /v2/bearer/app/manifests/{ManifestDigest} auth=Bearer token-for-{User}",
            ],
            _requests.ToArray());
    }

    [Fact]
    public async Task Identity_token_alone_is_not_offered_to_a_basic_challenge()
    {
        var auth = IdentityTokenLogin(null);

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Client(auth).GetManifestAsync(Image("basic/app"), ManifestDigest, default));

        Assert.Contains($"the login for 127.0.0.1:{_registry.Port} in {auth.Paths[0]} is only an identity token", error.Message);
        Assert.Single(_requests);
    }

    [Fact]
    public async Task Identity_token_is_not_sent_to_a_plain_http_realm_on_another_machine()
    {
        var handler = new RecordingHandlerDouble(_ => Challenge("Bearer realm=\"http://auth.example/token\",service=\"registry.example\""));
        using var http = new HttpClient(handler);
        var client = new RegistryClient(http, null, IdentityTokenLoginFor("registry.example", null));

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            client.GetManifestAsync(ImageReference.Parse($"registry.example/app@{ManifestDigest}"), ManifestDigest, default));

        Assert.Contains("wants a token from http://auth.example/token", error.Message);
        Assert.Equal(["GET https://registry.example/v2/app/manifests/" + ManifestDigest + " auth="], handler.Requests);
    }

    [Fact]
    public async Task Identity_token_post_is_not_repeated_where_the_realm_redirects()
    {
        var handler = new RecordingHandlerDouble(request => request.RequestUri!.Host == "registry.example"
            ? Challenge("Bearer realm=\"https://auth.example/token\",service=\"registry.example\"")
            : new HttpResponseMessage(HttpStatusCode.TemporaryRedirect) { Headers = { Location = new Uri("https://elsewhere.example/token") } });
        using var http = new HttpClient(handler);
        var client = new RegistryClient(http, null, IdentityTokenLoginFor("registry.example", null));

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            client.GetManifestAsync(ImageReference.Parse($"registry.example/app@{ManifestDigest}"), ManifestDigest, default));

        Assert.Contains("token endpoint https://auth.example/token answered 307 Temporary Redirect", error.Message);
        Assert.Equal(["GET https://registry.example/v2/app/manifests/" + ManifestDigest + " auth=", "POST https://auth.example/token auth="], handler.Requests);
        Assert.DoesNotContain("SECRET", error.Message + error.Hint);
    }

    public void Dispose()
    {
        _http.Dispose();
        _registry.Dispose();
        _storage.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private RegistryClient Client(RegistryAuth auth) => new(_http, null, auth);

    private ImageReference Image(string repository) => ImageReference.Parse($"127.0.0.1:{_registry.Port}/{repository}@{ManifestDigest}");

    private RegistryAuth Login(string user, string password) => LoginFor($"127.0.0.1:{_registry.Port}", user, password);

    private RegistryAuth LoginFor(string registry, string user = User, string password = Password)
    {
        var path = Path.Combine(_dir, "auth.json");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        File.WriteAllText(path, $$"""{"auths": {"{{registry}}": {"auth": "{{auth}}"} } }""");
        return RegistryAuth.Locate(path, _ => null);
    }

    /// <param name="auth">What "auth" decodes to (docker writes the placeholder user and an empty password next to the token), or null for no "auth".</param>
    private RegistryAuth IdentityTokenLogin(string? auth, string token = IdentityToken) => IdentityTokenLoginFor($"127.0.0.1:{_registry.Port}", auth, token);

    private RegistryAuth IdentityTokenLoginFor(string registry, string? auth, string token = IdentityToken)
    {
        var path = Path.Combine(_dir, "config.json");
        var field = auth is null ? "" : $"\"auth\": \"{Convert.ToBase64String(Encoding.UTF8.GetBytes(auth))}\", ";
        File.WriteAllText(path, $$"""{"auths": {"{{registry}}": { {{field}}"identitytoken": "{{token}}"} } }""");
        return RegistryAuth.Locate(path, _ => null);
    }

    private static HttpResponseMessage Challenge(string header)
    {
        var response = new HttpResponseMessage(HttpStatusCode.Unauthorized);
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", header);
        return response;
    }

    private byte[] PrivateRegistryDouble(HttpListenerRequest request, HttpListenerResponse response)
    {
        var auth = request.Headers["Authorization"] ?? "";
        var url = request.Url!;
        var form = request.HttpMethod == "POST" ? new StreamReader(request.InputStream).ReadToEnd() : null;
        _requests.Enqueue($"registry {request.HttpMethod} {url.PathAndQuery} auth={auth}" + (form is null ? "" : $" type={request.ContentType} body={form}"));
        if (url.AbsolutePath == "/oauth2/token")
        {
            var fields = System.Web.HttpUtility.ParseQueryString(form ?? "");
            var good = fields["grant_type"] == "refresh_token" && fields["refresh_token"] == IdentityToken;
            response.StatusCode = good ? 200 : 401;
            return Encoding.UTF8.GetBytes(good ? """{"access_token":"oauth-access-token"}""" : "{}");
        }
        if (url.AbsolutePath == "/token" && form is not null)
        {
            response.StatusCode = 404;
            return [];
        }
        if (url.AbsolutePath == "/token")
        {
            response.StatusCode = auth == GoodBasic ? 200 : 401;
            return Encoding.UTF8.GetBytes(auth == GoodBasic ? $$"""{"token":"token-for-{{User}}"}""" : "{}");
        }
        var bearer = url.AbsolutePath.StartsWith("/v2/bearer/", StringComparison.Ordinal);
        var oauth = url.AbsolutePath.StartsWith("/v2/oauth/", StringComparison.Ordinal);
        if (auth != (bearer ? $"Bearer token-for-{User}" : oauth ? "Bearer oauth-access-token" : GoodBasic))
        {
            response.StatusCode = 401;
            response.AddHeader("WWW-Authenticate", bearer
                ? $"Bearer realm=\"http://127.0.0.1:{_registry.Port}/token\",service=\"test-registry\",scope=\"repository:bearer/app:pull\""
                : oauth
                ? $"Bearer realm=\"http://127.0.0.1:{_registry.Port}/oauth2/token\",service=\"test-registry\",scope=\"repository:oauth/app:pull repository:oauth/base:pull\""
                : "Basic realm=\"test-registry\"");
            return [];
        }
        if (url.AbsolutePath.EndsWith("/blobs/sha256:cdn", StringComparison.Ordinal))
        {
            response.StatusCode = 307;
            response.RedirectLocation = $"http://127.0.0.1:{_storage.Port}/blob?signature=abc";
            return [];
        }
        if (url.AbsolutePath.EndsWith("/blobs/sha256:local", StringComparison.Ordinal))
        {
            response.StatusCode = 302;
            response.RedirectLocation = "/v2/redirect/app/stored";
            return [];
        }
        return url.AbsolutePath.EndsWith("/stored", StringComparison.Ordinal) ? Encoding.UTF8.GetBytes("blob from the registry") : Manifest;
    }

    private byte[] StorageDouble(HttpListenerRequest request, HttpListenerResponse response)
    {
        _requests.Enqueue($"storage {request.HttpMethod} {request.Url!.PathAndQuery} auth={request.Headers["Authorization"] ?? ""}");
        return Encoding.UTF8.GetBytes("blob from storage");
    }

    /// <summary>A test double for the network under HttpClient: answers every request with the test's response and records it.</summary>
    private sealed class RecordingHandlerDouble(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add($"{request.Method} {request.RequestUri} auth={request.Headers.Authorization}");
            return Task.FromResult(respond(request));
        }
    }
}
