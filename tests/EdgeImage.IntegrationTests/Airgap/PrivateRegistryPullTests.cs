using EdgeImage.Oci;
using EdgeImage.Packages;

namespace EdgeImage.IntegrationTests.Airgap;

/// <summary>docker-registry with htpasswd auth, seeded by skopeo with --dest-creds.</summary>
public sealed class PrivateSeededRegistry : IAsyncLifetime
{
    public const string User = "fleet";
    public const string Password = "edge-SECRET-pw";

    public LocalRegistry Registry { get; } = new() { Login = (User, Password) };

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

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private BuildContext Context() => new()
    {
        CacheDir = Path.Combine(_root, "cache"),
        WorkDir = Path.Combine(_root, "work"),
        SourceDateEpoch = 1_700_000_000,
        VerificationTime = DateTimeOffset.UnixEpoch,
    };
}
