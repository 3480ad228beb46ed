using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeImage.Oci;
using EdgeImage.Packages;

namespace EdgeImage.IntegrationTests.Airgap;

/// <summary>docker-registry with htpasswd auth (over https with a CA made for it when <paramref name="tls"/>), seeded by skopeo with --dest-creds.</summary>
public abstract class PrivateRegistryFixture(bool tls) : IAsyncLifetime
{
    public LocalRegistry Registry { get; } = new() { Login = (PrivateSeededRegistry.User, PrivateSeededRegistry.Password), Tls = tls };

    public TestPlatformImage Single { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Registry.InitializeAsync();
        var layout = new TestImageLayout(Path.Combine(Registry.Scratch, "layout"));
        Single = layout.AddImage("single", "amd64");
        Registry.Push(layout.Directory, "single", "team/private", "1");
    }

    public Task DisposeAsync() => Registry.DisposeAsync();
}

/// <summary>docker-registry with htpasswd auth over plain http.</summary>
public sealed class PrivateSeededRegistry() : PrivateRegistryFixture(tls: false)
{
    public const string User = "fleet";
    public const string Password = "edge-SECRET-pw";
}

/// <summary>
/// Pulls from a registry that answers with `WWW-Authenticate: Basic` (Debian's docker-registry with
/// htpasswd auth), with a login written by `skopeo login --authfile`, the way the README tells
/// operators to write one.
/// </summary>
[Trait("Category", "airgap")]
public sealed class PrivateRegistryPullTests(PrivateSeededRegistry seeded) : IClassFixture<PrivateSeededRegistry>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("eig-private-pull-").FullName;
    private readonly HttpClient _http = RegistryClient.CreateHttpClient();

    private ImageReference Reference => ImageReference.Parse($"{seeded.Registry.Host}/team/private:1@{seeded.Single.ManifestDigest}");

    [Fact]
    public async Task Login_from_a_skopeo_auth_file_pulls_the_image_with_every_digest_verified()
    {
        var authFile = Path.Combine(_root, "auth.json");
        TrixieDebs.Run("skopeo", "login", "--authfile", authFile, "--tls-verify=false",
            "-u", PrivateSeededRegistry.User, "-p", PrivateSeededRegistry.Password, seeded.Registry.Host);
        var logins = RegistryAuth.Locate(null, name => name == "REGISTRY_AUTH_FILE" ? authFile : null);

        var pulled = await new OciPuller(new RegistryClient(_http, null, logins)).PullAsync(Reference, OciPlatform.ForDebian("amd64"), Context());

        Assert.Equal(seeded.Single.ManifestDigest, pulled.Manifest.Digest);
        Assert.Equal([seeded.Single.ConfigDigest, seeded.Single.LayerDigest], pulled.Blobs.Select(b => b.Digest));
        Assert.All(pulled.Blobs, blob => Assert.True(File.Exists(new ContentCache(Context().CacheDir, NullBuildLog.Instance).PathFor(blob.Hex))));
    }

    [Fact]
    public async Task Pull_without_a_login_fails_naming_the_registry_and_how_to_log_in()
    {
        var logins = RegistryAuth.Locate(null, _ => null);

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            new OciPuller(new RegistryClient(_http, null, logins)).PullAsync(Reference, OciPlatform.ForDebian("amd64"), Context()));

        Assert.Contains($"registry {seeded.Registry.Host} wants a login and no auth file has one for it", error.Message);
        Assert.Contains("401 Unauthorized", error.Message);
        Assert.Contains($"skopeo login --authfile FILE {seeded.Registry.Host}", error.Hint);
    }

    [Fact]
    public async Task Wrong_password_fails_naming_the_user_and_file_but_not_the_password()
    {
        var authFile = Path.Combine(_root, "wrong.json");
        var wrong = Convert.ToBase64String("fleet:not-the-SECRET"u8);
        File.WriteAllText(authFile, $$"""{"auths": {"{{seeded.Registry.Host}}": {"auth": "{{wrong}}"} } }""");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            new OciPuller(new RegistryClient(_http, null, RegistryAuth.Locate(authFile, _ => null))).PullAsync(Reference, OciPlatform.ForDebian("amd64"), Context()));

        Assert.Contains($"to the login of user 'fleet' for {seeded.Registry.Host} from {authFile}", error.Message);
        Assert.DoesNotContain("SECRET", error.Message + error.Hint);
        Assert.DoesNotContain(wrong, error.Message + error.Hint);
    }

    [Fact]
    public async Task Cli_build_with_registry_auth_pulls_the_private_image_and_never_prints_the_password()
    {
        var authFile = Path.Combine(_root, "auth.json");
        TrixieDebs.Run("skopeo", "login", "--authfile", authFile, "--tls-verify=false",
            "-u", PrivateSeededRegistry.User, "-p", PrivateSeededRegistry.Password, seeded.Registry.Host);

        // The pull comes before the package compose; an unreachable mirror ends the build right after it.
        var result = await Build("--registry-auth", authFile, "--mirror", "http://127.0.0.1:9/debian", "-v");

        Assert.Contains($"{Reference}: linux/amd64 manifest {seeded.Single.ManifestDigest}, 2 blobs", result.Stdout + result.Stderr);
        Assert.DoesNotContain("wants a login", result.Stderr);
        Assert.DoesNotContain("SECRET", result.Stdout + result.Stderr);
        Assert.NotEqual(0, result.ExitCode);
    }

    [Fact]
    public async Task Cli_build_without_a_login_exits_non_zero_with_the_clear_error()
    {
        var result = await Build();

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains($"registry {seeded.Registry.Host} wants a login and no auth file has one for it", result.Stderr);
        Assert.Contains("--registry-auth FILE", result.Stderr);
    }

    [Fact]
    public async Task Cli_build_with_a_malformed_auth_file_exits_at_once_naming_the_file_line_and_position()
    {
        var authFile = Path.Combine(_root, "broken.json");
        File.WriteAllText(authFile, "{\"auths\": {\n  \"x\": {\"auth\": SECRET}}}");

        var result = await Build("--registry-auth", authFile);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains($"{authFile}:2:17: not valid JSON", result.Stderr);
        Assert.DoesNotContain("SECRET", result.Stdout + result.Stderr);
    }

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>`edgeimage build` of a generic-x86_64 profile whose only k0s input from the network is the private image.</summary>
    private Task<CliResult> Build(params string[] options)
    {
        var profile = Path.Combine(_root, "edge-private.yaml");
        File.WriteAllText(profile, $"""
            name: edge-private
            extends: {Path.Combine(Cli.RepositoryRoot, "profiles", "generic-x86_64")}
            k0s:
              version: v1.34.1+k0s.0
              airgap: false
              images: ["{Reference}"]
            """);
        // No auth file from this machine's user may answer: HOME and XDG_RUNTIME_DIR point into the test's directory.
        return Cli.RunAsync(["build", "--profile", profile, "--out", Path.Combine(_root, "out"), "--k0s-binary", "/usr/bin/true", .. options], new CliOptions
        {
            Environment = new Dictionary<string, string?>
            {
                ["EDGEIMAGE_CACHE"] = Path.Combine(_root, "cache"),
                ["HOME"] = _root,
                ["XDG_RUNTIME_DIR"] = _root,
                ["REGISTRY_AUTH_FILE"] = null,
                ["DOCKER_CONFIG"] = null,
            },
            Timeout = TimeSpan.FromMinutes(3),
        });
    }

    private BuildContext Context() => new()
    {
        CacheDir = Path.Combine(_root, "cache"),
        WorkDir = Path.Combine(_root, "work"),
        SourceDateEpoch = 1_700_000_000,
        VerificationTime = DateTimeOffset.UnixEpoch,
    };
}

/// <summary>docker-registry over https (a CA made for it) with htpasswd auth: a private registry as its docs say to deploy one.</summary>
public sealed class TlsPrivateSeededRegistry() : PrivateRegistryFixture(tls: true);

/// <summary>
/// Pulls over https from a registry whose certificate comes from a private CA, trusted through
/// --registry-ca's <see cref="RegistryTrust"/> by this client only. The registry is addressed as
/// registry.test:PORT (a loopback address would be spoken to over http); the client's connections
/// are routed to 127.0.0.1, so TLS checks the certificate against the name registry.test.
/// </summary>
[Trait("Category", "airgap")]
public sealed class TlsPrivateRegistryPullTests(TlsPrivateSeededRegistry seeded) : IClassFixture<TlsPrivateSeededRegistry>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("eig-tls-pull-").FullName;

    private string Registry => $"{LocalRegistry.TlsName}:{seeded.Registry.Host.Split(':')[1]}";

    private ImageReference Reference => ImageReference.Parse($"{Registry}/team/private:1@{seeded.Single.ManifestDigest}");

    [Fact]
    public async Task Registry_ca_and_login_pull_over_https_with_every_digest_verified()
    {
        using var http = Client(RegistryTrust.Load(seeded.Registry.CaFile));

        var pulled = await new OciPuller(new RegistryClient(http, null, Login())).PullAsync(Reference, OciPlatform.ForDebian("amd64"), Context());

        Assert.Equal(seeded.Single.ManifestDigest, pulled.Manifest.Digest);
        Assert.Equal([seeded.Single.ConfigDigest, seeded.Single.LayerDigest], pulled.Blobs.Select(b => b.Digest));
    }

    [Fact]
    public async Task Without_the_registry_ca_the_pull_fails_saying_to_give_it()
    {
        using var http = Client(null);

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            new OciPuller(new RegistryClient(http, null, Login())).PullAsync(Reference, OciPlatform.ForDebian("amd64"), Context()));

        Assert.Contains($"TLS with https://{Registry} failed", error.Message);
        Assert.Contains("--registry-ca FILE", error.Hint);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private RegistryAuth Login()
    {
        var path = Path.Combine(_root, "auth.json");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{PrivateSeededRegistry.User}:{PrivateSeededRegistry.Password}"));
        File.WriteAllText(path, $$"""{"auths": {"{{Registry}}": {"auth": "{{auth}}"} } }""");
        return RegistryAuth.Locate(path, _ => null);
    }

    private HttpClient Client(RegistryTrust? trust)
    {
        var handler = RegistryClient.CreateHandler(trust);
        var port = int.Parse(seeded.Registry.Host.Split(':')[1], CultureInfo.InvariantCulture);
        handler.ConnectCallback = async (_, cancellation) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port, cancellation);
            return new NetworkStream(socket, ownsSocket: true);
        };
        return new HttpClient(handler);
    }

    private BuildContext Context() => new()
    {
        CacheDir = Path.Combine(_root, "cache"),
        WorkDir = Path.Combine(_root, "work"),
        SourceDateEpoch = 1_700_000_000,
        VerificationTime = DateTimeOffset.UnixEpoch,
    };
}
