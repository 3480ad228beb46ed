using System.Security.Cryptography;
using System.Text;
using EdgeImage.K0s;
using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.K0s;

public sealed class K0sReleaseTests : IDisposable
{
    private const string Version = "v1.34.1+k0s.0";

    private readonly string _root = Directory.CreateTempSubdirectory("eig-k0s-").FullName;
    private readonly MirrorFetcher _fetcher = new();

    private string ReleaseDir => Path.Combine(_root, "releases");
    private string CacheDir => Path.Combine(_root, "cache");

    [Fact]
    public async Task Verified_binary_enters_the_cache_and_its_path_is_returned()
    {
        var binary = AmdStandInBinary();
        Publish("k0s-v1.34.1+k0s.0-amd64", binary);

        var path = await new K0sRelease(_fetcher).FetchAsync(Request("amd64", new Uri(ReleaseDir).AbsoluteUri), Context());

        Assert.Equal(binary, File.ReadAllBytes(path));
        Assert.Equal(new ContentCache(CacheDir, NullBuildLog.Instance).PathFor(Sha256(binary)), path);
    }

    [Fact]
    public async Task Second_fetch_is_served_from_the_cache_even_after_the_source_lost_the_binary()
    {
        var binary = Arm64StandInElf();
        Publish("k0s-v1.34.1+k0s.0-arm64", binary);
        var release = new K0sRelease(_fetcher);
        var first = await release.FetchAsync(Request("arm64", ReleaseDir), Context());
        File.Delete(Path.Combine(ReleaseDir, Version, "k0s-v1.34.1+k0s.0-arm64"));

        var second = await release.FetchAsync(Request("arm64", ReleaseDir), Context());
        var offline = await release.FetchAsync(Request("arm64", Path.Combine(_root, "nowhere")), Context() with { Offline = true });

        Assert.Equal(first, second);
        Assert.Equal(first, offline);
        Assert.Equal(binary, File.ReadAllBytes(second));
    }

    [Fact]
    public async Task Damaged_cache_entry_is_not_handed_out_offline()
    {
        Publish("k0s-v1.34.1+k0s.0-arm64", Arm64StandInElf());
        var release = new K0sRelease(_fetcher);
        var path = await release.FetchAsync(Request("arm64", ReleaseDir), Context());
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("rotted"));

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            release.FetchAsync(Request("arm64", ReleaseDir), Context() with { Offline = true }));

        Assert.Equal(ExitCodes.NotFound, error.ExitCode);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Binary_whose_sha256_differs_from_sha256sums_is_refused_and_not_cached()
    {
        var binary = AmdStandInBinary();
        Publish("k0s-v1.34.1+k0s.0-amd64", binary, listedSha256: Sha256([1, 2, 3]));

        var error = await Refused(Request("amd64", ReleaseDir));

        Assert.Contains("k0s-v1.34.1+k0s.0-amd64", error.Message);
        Assert.Contains(Sha256(binary), error.Message);
        Assert.Contains(Sha256([1, 2, 3]), error.Message);
        Assert.NotNull(error.Hint);
    }

    [Fact]
    public async Task Binary_without_a_line_in_sha256sums_is_refused()
    {
        Publish("k0s-v1.34.1+k0s.0-amd64", AmdStandInBinary(), listedName: "k0s-v1.34.1+k0s.0-arm64");

        var error = await Refused(Request("amd64", ReleaseDir));

        Assert.Contains("no sha256 line", error.Message);
        Assert.Contains("sha256sums.txt", error.Message);
    }

    [Fact]
    public async Task X86_64_binary_is_refused_for_an_arm64_profile()
    {
        Publish("k0s-v1.34.1+k0s.0-arm64", AmdStandInBinary());

        var error = await Refused(Request("arm64", ReleaseDir));

        Assert.Contains("binary is for amd64, expected arm64", error.Message);
    }

    [Fact]
    public async Task Non_elf_file_is_refused()
    {
        Publish("k0s-v1.34.1+k0s.0-arm64", Encoding.ASCII.GetBytes("<html>rate limited</html>" + new string(' ', 100)));

        var error = await Refused(Request("arm64", ReleaseDir));

        Assert.Contains("not an ELF binary", error.Message);
    }

    [Theory]
    [InlineData("amd64", "k0s-v1.34.1+k0s.0-amd64")]
    [InlineData("arm64", "k0s-v1.34.1+k0s.0-arm64")]
    [InlineData("armhf", "k0s-v1.34.1+k0s.0-arm")]
    public void Asset_names_use_k0s_architecture_names(string architecture, string asset) =>
        Assert.Equal(asset, K0sRelease.AssetName(Request(architecture, ReleaseDir)));

    [Fact]
    public void Version_that_could_leave_the_release_directory_is_a_profile_error()
    {
        var error = Assert.Throws<EdgeImageException>(() =>
            K0sRelease.AssetName(Request("amd64", ReleaseDir) with { Version = "../v1.34.1+k0s.0" }));

        Assert.Equal(ExitCodes.InvalidProfile, error.ExitCode);
    }

    [Fact]
    public async Task Binary_with_a_cosign_signature_made_by_openssl_is_accepted_and_verified_again_offline()
    {
        var binary = AmdStandInBinary();
        Publish("k0s-v1.34.1+k0s.0-amd64", binary);
        var key = OpensslKey("cosign");
        SignWithOpenssl(key, "k0s-v1.34.1+k0s.0-amd64");
        var request = Request("amd64", ReleaseDir) with { CosignKey = key + ".pub" };
        var release = new K0sRelease(_fetcher);

        var path = await release.FetchAsync(request, Context());
        var offline = await release.FetchAsync(request with { Source = Path.Combine(_root, "nowhere") }, Context() with { Offline = true });

        Assert.Equal(binary, File.ReadAllBytes(path));
        Assert.Equal(path, offline);
    }

    [Fact]
    public async Task Binary_changed_after_signing_is_refused_even_when_sha256sums_lists_the_new_one()
    {
        Publish("k0s-v1.34.1+k0s.0-amd64", AmdStandInBinary());
        var key = OpensslKey("cosign");
        SignWithOpenssl(key, "k0s-v1.34.1+k0s.0-amd64");
        var tampered = AmdStandInBinary();
        tampered[^1] ^= 0xff;
        Publish("k0s-v1.34.1+k0s.0-amd64", tampered);

        var error = await Refused(Request("amd64", ReleaseDir) with { CosignKey = key + ".pub" });

        Assert.Contains("cosign signature", error.Message);
        Assert.Contains("does not verify", error.Message);
    }

    [Fact]
    public async Task Altered_signature_and_a_signature_by_another_key_are_refused()
    {
        Publish("k0s-v1.34.1+k0s.0-amd64", AmdStandInBinary());
        var key = OpensslKey("cosign");
        var other = OpensslKey("other");
        var signature = SignWithOpenssl(key, "k0s-v1.34.1+k0s.0-amd64");
        var der = Convert.FromBase64String(signature);
        der[^3] ^= 0x01;
        File.WriteAllText(SignaturePath("k0s-v1.34.1+k0s.0-amd64"), Convert.ToBase64String(der));

        await Refused(Request("amd64", ReleaseDir) with { CosignKey = key + ".pub" });
        SignWithOpenssl(key, "k0s-v1.34.1+k0s.0-amd64");
        await Refused(Request("amd64", ReleaseDir) with { CosignKey = other + ".pub" });
        await new K0sRelease(_fetcher).FetchAsync(Request("amd64", ReleaseDir) with { CosignKey = key + ".pub" }, Context());
    }

    [Fact]
    public async Task A_password_in_the_release_source_never_reaches_the_log_or_the_error()
    {
        var log = new EdgeImage.Tests.Fixtures.RecordingBuildLog();
        // Nothing listens on the discard port: the fetch fails at once.
        var request = Request("amd64", "http://edge:s3cret@127.0.0.1:9/k0s");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => new K0sRelease(_fetcher).FetchAsync(request, Context() with { Log = log }));

        Assert.Contains("edge:***@127.0.0.1:9", error.Message + error.Hint);
        Assert.DoesNotContain("s3cret", error.ToString());
        Assert.DoesNotContain(log.Infos.Concat(log.Warnings).Concat(log.VerboseLines), line => line.Contains("s3cret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Missing_signature_is_an_error_and_nothing_is_cached()
    {
        Publish("k0s-v1.34.1+k0s.0-amd64", AmdStandInBinary());
        var key = OpensslKey("cosign");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            new K0sRelease(_fetcher).FetchAsync(Request("amd64", ReleaseDir) with { CosignKey = key + ".pub" }, Context()));

        Assert.EndsWith("k0s-v1.34.1+k0s.0-amd64.sig: not found", error.Message);
        Assert.Contains("cosign_key", error.Hint);
        Assert.False(Directory.Exists(Path.Combine(CacheDir, "sha256")));
    }

    [Fact]
    public async Task Cached_binary_fetched_without_a_key_is_not_handed_out_offline_once_a_key_is_required()
    {
        Publish("k0s-v1.34.1+k0s.0-amd64", AmdStandInBinary());
        var release = new K0sRelease(_fetcher);
        await release.FetchAsync(Request("amd64", ReleaseDir), Context());

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => release.FetchAsync(
            Request("amd64", ReleaseDir) with { CosignKey = OpensslKey("cosign") + ".pub" }, Context() with { Offline = true }));

        Assert.Contains("cosign signature is not in the cache", error.Message);
    }

    [Fact]
    public async Task Airgap_bundle_is_verified_by_the_profiles_sha256_and_must_be_a_tar()
    {
        var tar = Path.Combine(_root, "bundle.tar");
        TestTool.Run("tar", ["-cf", tar, "-C", "/usr/bin", "true"]);
        var sha = Sha256(File.ReadAllBytes(tar));
        var release = new K0sRelease(_fetcher);

        var path = await release.FetchAirgapBundleAsync(Request("amd64", ReleaseDir), tar, sha, Context());
        var wrongSha = await Assert.ThrowsAsync<EdgeImageException>(() =>
            release.FetchAirgapBundleAsync(Request("arm64", ReleaseDir), tar, Sha256([1]), Context()));
        Publish("k0s-airgap-bundle-v1.34.1+k0s.0-arm64", Encoding.ASCII.GetBytes(new string('x', 1000)));
        var notTar = await Assert.ThrowsAsync<EdgeImageException>(() =>
            release.FetchAirgapBundleAsync(Request("arm64", ReleaseDir), null, null, Context()));

        Assert.Equal(File.ReadAllBytes(tar), File.ReadAllBytes(path));
        Assert.Contains("given in the profile (k0s.airgap_bundle_sha256)", wrongSha.Message);
        Assert.Contains("k0s-airgap-bundle-v1.34.1+k0s.0-arm64", notTar.Message);
        Assert.Contains("not a tar archive", notTar.Message);
    }

    [Fact]
    public void Cosign_key_on_another_curve_is_a_profile_error()
    {
        var key = Path.Combine(_root, "p384");
        TestTool.Run("openssl", ["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", key]);
        TestTool.Run("openssl", ["ec", "-in", key, "-pubout", "-out", key + ".pub"]);

        var error = Assert.Throws<EdgeImageException>(() => CosignSignature.FromFile(key + ".pub"));

        Assert.Equal(ExitCodes.InvalidProfile, error.ExitCode);
        Assert.Contains("another curve than P-256", error.Message);
    }

    [Fact]
    public void Signature_that_is_not_strict_der_is_rejected()
    {
        var key = OpensslKey("cosign");
        var blob = Path.Combine(_root, "blob");
        File.WriteAllBytes(blob, [1, 2, 3]);
        var der = Convert.FromBase64String(TestTool.Run("bash", ["-c", $"openssl dgst -sha256 -sign '{key}' '{blob}' | base64 -w0"]));
        var verifier = CosignSignature.FromFile(key + ".pub");
        var sha = SHA256.HashData([1, 2, 3]);
        // Same r and s, but the sequence length in long form: valid BER, not DER.
        var ber = new byte[] { 0x30, 0x81, der[1] }.Concat(der[2..]).ToArray();

        Assert.True(verifier.Verifies(sha, Encoding.ASCII.GetBytes(Convert.ToBase64String(der) + "\n")));
        Assert.False(verifier.Verifies(sha, Encoding.ASCII.GetBytes(Convert.ToBase64String(ber))));
        Assert.False(verifier.Verifies(SHA256.HashData([1, 2, 4]), Encoding.ASCII.GetBytes(Convert.ToBase64String(der))));
        Assert.False(verifier.Verifies(sha, "not base64!"u8));
    }

    public void Dispose()
    {
        _fetcher.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<EdgeImageException> Refused(K0sReleaseRequest request)
    {
        var error = await Assert.ThrowsAsync<EdgeImageException>(() => new K0sRelease(_fetcher).FetchAsync(request, Context()));
        Assert.Equal(ExitCodes.VerificationFailed, error.ExitCode);
        Assert.Contains(Version, error.Message);
        Assert.False(Directory.Exists(Path.Combine(CacheDir, "sha256")) &&
            Directory.EnumerateFiles(Path.Combine(CacheDir, "sha256"), "*", SearchOption.AllDirectories).Any());
        Assert.False(Directory.Exists(Path.Combine(CacheDir, "k0s")));
        return error;
    }

    [Fact]
    public async Task A_release_download_that_stalls_once_is_fetched_again_and_verified()
    {
        var binary = AmdStandInBinary();
        Publish("k0s-v1.34.1+k0s.0-amd64", binary);
        using var site = new EdgeImage.Tests.Packages.HttpMirrorDouble(ReleaseDir) { StallSuffix = "-amd64", StallTimes = 1 };
        using var fetcher = new MirrorFetcher { IdleTimeout = TimeSpan.FromSeconds(1) };
        var log = new RecordingBuildLog();

        var path = await new K0sRelease(fetcher).FetchAsync(Request("amd64", site.Url), Context() with { Log = log }).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(binary, File.ReadAllBytes(path));
        Assert.Equal(1, site.Stalled);
        var warning = Assert.Single(log.Warnings);
        Assert.Equal($"k0s-v1.34.1+k0s.0-amd64: transfer from {site.Url}v1.34.1+k0s.0/k0s-v1.34.1+k0s.0-amd64 broke off (no data from {site.Url}v1.34.1+k0s.0/k0s-v1.34.1+k0s.0-amd64 for 1 s); retrying", warning);
    }

    [Theory]
    [InlineData("-amd64")]
    [InlineData("/sha256sums.txt")]
    public async Task A_release_file_that_stalls_every_time_fails_with_the_ways_around_and_caches_nothing(string stalling)
    {
        Publish("k0s-v1.34.1+k0s.0-amd64", AmdStandInBinary());
        using var site = new EdgeImage.Tests.Packages.HttpMirrorDouble(ReleaseDir) { StallSuffix = stalling, StallTimes = int.MaxValue };
        using var fetcher = new MirrorFetcher { IdleTimeout = TimeSpan.FromSeconds(1) };

        var error = await Assert.ThrowsAsync<EdgeImageException>(() =>
            new K0sRelease(fetcher).FetchAsync(Request("amd64", site.Url), Context() with { Log = new RecordingBuildLog() }).WaitAsync(TimeSpan.FromSeconds(30)));

        var url = $"{site.Url}v1.34.1+k0s.0{stalling}";
        Assert.Equal(ExitCodes.Failure, error.ExitCode);
        Assert.EndsWith($": transfer from {(stalling == "-amd64" ? url.Replace("-amd64", "/k0s-v1.34.1+k0s.0-amd64", StringComparison.Ordinal) : url)} failed 3 times: no data from {(stalling == "-amd64" ? url.Replace("-amd64", "/k0s-v1.34.1+k0s.0-amd64", StringComparison.Ordinal) : url)} for 1 s", error.Message);
        Assert.Contains("if this machine cannot reach 127.0.0.1: give the binary with --k0s-binary PATH", error.Hint);
        Assert.Equal(3, site.Stalled);
        Assert.False(Directory.Exists(Path.Combine(CacheDir, "k0s")));
        Assert.Empty(Directory.Exists(Path.Combine(_root, "work")) ? Directory.GetFiles(Path.Combine(_root, "work")) : []);
    }

    private static K0sReleaseRequest Request(string architecture, string source) =>
        new() { Version = Version, Architecture = architecture, Source = source };

    private BuildContext Context() => new()
    {
        CacheDir = CacheDir,
        WorkDir = Path.Combine(_root, "work"),
        SourceDateEpoch = 1,
        VerificationTime = DateTimeOffset.UnixEpoch,
    };

    /// <summary>Lays a file out like the release downloads: VERSION/ASSET next to VERSION/sha256sums.txt.</summary>
    private void Publish(string asset, byte[] content, string? listedSha256 = null, string? listedName = null)
    {
        var dir = Path.Combine(ReleaseDir, Version);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, asset), content);
        File.WriteAllText(Path.Combine(dir, "sha256sums.txt"),
            $"{Sha256([9])}  k0s-{Version}-other\n{listedSha256 ?? Sha256(content)}  {listedName ?? asset}\n");
    }

    /// <summary>An ECDSA P-256 key pair made by openssl, as `cosign generate-key-pair` makes: PATH (private) and PATH.pub (PEM PUBLIC KEY).</summary>
    private string OpensslKey(string name)
    {
        var key = Path.Combine(_root, name + ".key");
        TestTool.Run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
        TestTool.Run("openssl", ["ec", "-in", key, "-pubout", "-out", key + ".pub"]);
        return key;
    }

    /// <summary>Signs a published asset as `cosign sign-blob --key` does: base64 of openssl's DER ECDSA signature over SHA-256, in ASSET.sig.</summary>
    private string SignWithOpenssl(string key, string asset)
    {
        var signature = TestTool.Run("bash", ["-c", $"openssl dgst -sha256 -sign '{key}' '{Path.Combine(ReleaseDir, Version, asset)}' | base64 -w0"]);
        File.WriteAllText(SignaturePath(asset), signature);
        return signature;
    }

    private string SignaturePath(string asset) => Path.Combine(ReleaseDir, Version, asset + ".sig");

    /// <summary>Stand-in for the amd64 k0s binary: the host's /usr/bin/true, a real x86-64 ELF.</summary>
    private static byte[] AmdStandInBinary() => File.ReadAllBytes("/usr/bin/true");

    /// <summary>Stand-in for the arm64 k0s binary: just a 64-bit little-endian ELF header with e_machine AArch64.</summary>
    private static byte[] Arm64StandInElf()
    {
        var elf = new byte[64];
        "\u007fELF"u8.CopyTo(elf);
        elf[4] = 2; // ELFCLASS64
        elf[5] = 1; // little-endian
        elf[6] = 1; // EV_CURRENT
        elf[16] = 2; // ET_EXEC
        elf[18] = 183; // EM_AARCH64
        return elf;
    }

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
