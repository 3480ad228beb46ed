using EdgeImage.Packages;
using EdgeImage.Profiles;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests;

/// <summary>
/// `edgeimage rootfs` end to end against a local Debian archive signed by a test key: what it writes
/// when everything verifies, and that every refusal leaves no output and an unchanged cache.
/// </summary>
public sealed class RootfsBuildTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-rootfs-build-").FullName;
    private readonly LocalDebianRepo _repo = LocalDebianRepo.Create(
    [
        new TestPackage { Name = "base-files", Essential = true, Priority = "required", Files = new Dictionary<string, string> { ["etc/debian_version"] = "13.0\n" } },
        new TestPackage { Name = "libedge1", Files = new Dictionary<string, string> { ["usr/lib/libedge.so.1"] = "lib" } },
        new TestPackage { Name = "edge-app", Depends = "libedge1 (>= 1.0)", Files = new Dictionary<string, string> { ["usr/bin/edge-app"] = "app" } },
        new TestPackage { Name = "edge-rival", ExtraFields = [new("Conflicts", "edge-app")] },
        // Together these two try to write outside the root: one plants a symlink that climbs out,
        // the other ships a file below it.
        new TestPackage { Name = "edge-planter", Symlinks = new Dictionary<string, string> { ["usr/share/edge-escape"] = "../../../../../../tmp" } },
        new TestPackage { Name = "edge-climber", Depends = "edge-planter", Files = new Dictionary<string, string> { ["usr/share/edge-escape/pwned"] = "x" } },
    ]);

    private string Cache => Path.Combine(_dir, "cache");

    private string Output => Path.Combine(_dir, "out", "rootfs.tar");

    public void Dispose()
    {
        _repo.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private Profile Profile(params string[] packages) => new()
    {
        Name = "local",
        Arch = "amd64",
        Board = "generic-efi",
        Suite = "trixie",
        Mirror = _repo.Root,
        Keyring = _repo.KeyringPath,
        Packages = packages,
        IncludeRequired = true,
        SourcePath = "profiles/local.yaml",
    };

    private Task<long> BuildAsync(Profile profile, RecordingBuildLog? log = null)
    {
        var work = Path.Combine(_dir, "work");
        Directory.CreateDirectory(work);
        var context = new BuildContext
        {
            CacheDir = Cache,
            WorkDir = work,
            SourceDateEpoch = 1_700_000_000,
            VerificationTime = DateTimeOffset.UtcNow,
            Log = log ?? new RecordingBuildLog(),
        };
        using var fetcher = new MirrorFetcher();
        return new RootfsBuild(fetcher, new MirrorDiscovery()).WriteTarAsync(new RootfsRequest { Profile = profile }, Output, context);
    }

    private Dictionary<string, string> CacheSnapshot() => Directory.Exists(Cache)
        ? Directory.GetFiles(Cache, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .ToDictionary(f => f, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))))
        : [];

    private void AssertNothingWritten(Dictionary<string, string> cacheBefore)
    {
        Assert.False(File.Exists(Output));
        Assert.Empty(Directory.Exists(Path.GetDirectoryName(Output)) ? Directory.GetFiles(Path.GetDirectoryName(Output)!) : []);
        Assert.Equal(cacheBefore, CacheSnapshot());
    }

    [Fact]
    public async Task A_rebuild_reuses_the_resolution_and_the_unpacked_archives_and_writes_the_same_tar()
    {
        var first = new RecordingBuildLog();
        await BuildAsync(Profile("edge-app"), first);
        var tar = File.ReadAllBytes(Output);
        Assert.Contains(first.Infos, l => l.Contains("resolve: 3 packages for 1 requested (", StringComparison.Ordinal));
        Assert.Equal(3, Directory.GetFiles(Path.Combine(Cache, "unpacked"), "*.tar", SearchOption.AllDirectories).Length);

        var second = new RecordingBuildLog();
        await BuildAsync(Profile("edge-app"), second);

        Assert.Contains(second.Infos, l => l.Contains("resolve: 3 packages for 1 requested, as resolved before", StringComparison.Ordinal));
        Assert.Equal(tar, File.ReadAllBytes(Output));

        // Another request is resolved afresh, not served the first one's answer.
        var third = new RecordingBuildLog();
        await BuildAsync(Profile("libedge1"), third);
        Assert.Contains(third.Infos, l => l.Contains("resolve: 2 packages for 1 requested (", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Writes_a_tar_with_the_dependency_closure_owned_by_root()
    {
        await BuildAsync(Profile("edge-app"));

        var listing = TestTool.Run("tar", ["-tvf", Output]);
        Assert.Contains("./usr/bin/edge-app", listing);
        Assert.Contains("./usr/lib/libedge.so.1", listing);
        Assert.Contains("./etc/debian_version", listing);
        Assert.Contains("./var/lib/dpkg/status", listing);
        Assert.DoesNotContain("edge-rival", listing);
        Assert.All(listing.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Contains(" 0/0 ", line));
    }

    [Fact]
    public async Task Two_builds_of_the_same_inputs_are_byte_identical()
    {
        await BuildAsync(Profile("edge-app"));
        var first = File.ReadAllBytes(Output);
        File.Delete(Output);

        await BuildAsync(Profile("edge-app"));

        Assert.Equal(first, File.ReadAllBytes(Output));
    }

    [Fact]
    public async Task A_tampered_InRelease_is_refused_and_nothing_is_written()
    {
        await BuildAsync(Profile("edge-app"));
        File.Delete(Output);
        var cache = CacheSnapshot();
        var inRelease = Path.Combine(_repo.SuiteDir, "InRelease");
        File.WriteAllText(inRelease, File.ReadAllText(inRelease).Replace("Codename: trixie", "Codename: trixiX", StringComparison.Ordinal));

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => BuildAsync(Profile("edge-app")));

        Assert.Equal(ExitCodes.VerificationFailed, e.ExitCode);
        AssertNothingWritten(cache);
    }

    [Fact]
    public async Task A_tampered_deb_is_refused_and_not_cached()
    {
        var deb = _repo.DebPath("libedge1");
        var bytes = File.ReadAllBytes(deb);
        bytes[^10] ^= 0xff;
        File.WriteAllBytes(deb, bytes);
        var tampered = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => BuildAsync(Profile("edge-app")));

        Assert.Contains("libedge1", e.Message);
        Assert.False(File.Exists(Output));
        Assert.DoesNotContain(tampered, CacheSnapshot().Values);
    }

    [Fact]
    public async Task A_package_writing_through_a_symlink_out_of_the_root_is_refused_and_nothing_is_written()
    {
        var e = await Assert.ThrowsAsync<EdgeImageException>(() => BuildAsync(Profile("edge-climber")));

        Assert.Contains("edge-escape", e.Message);
        Assert.Contains("outside", e.Message);
        Assert.False(File.Exists(Output));
        Assert.False(File.Exists("/tmp/pwned"));
    }

    [Fact]
    public async Task A_missing_package_is_named_with_the_profile_that_asks_for_it()
    {
        var e = await Assert.ThrowsAsync<EdgeImageException>(() => BuildAsync(Profile("edge-app", "no-such-package")));

        Assert.Contains("no-such-package", e.Message);
        Assert.False(File.Exists(Output));
    }

    [Fact]
    public async Task Packages_that_conflict_are_refused()
    {
        var e = await Assert.ThrowsAsync<EdgeImageException>(() => BuildAsync(Profile("edge-app", "edge-rival")));

        Assert.Contains("edge-rival", e.Message + e.Hint);
        Assert.False(File.Exists(Output));
    }
}
