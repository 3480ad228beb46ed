using System.Security.Cryptography;
using System.Text;
using EdgeImage.K0s;
using EdgeImage.Packages;

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
