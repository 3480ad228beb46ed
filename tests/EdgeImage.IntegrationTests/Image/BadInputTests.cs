using System.Diagnostics;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>
/// `edgeimage build` refuses what it cannot build with a message and a hint, a non-zero exit code,
/// and nothing left behind: no image or manifest under its final name, no partial file and no work
/// directory.
/// </summary>
public sealed class BadInputTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>Nothing listens on the discard port: a build that touches the mirror fails differently.</summary>
    private const string UnreachableMirror = "http://127.0.0.1:9/debian";

    private static readonly string GenericX86 = Path.Combine(Cli.RepositoryRoot, "profiles", "generic-x86_64");

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-bad-input-");

    private string OutputRoot => Path.Combine(_work.FullName, "out");

    [Fact]
    public async Task A_root_that_does_not_fit_its_slot_is_refused_naming_the_partition_size_to_raise()
    {
        var profile = Profile("tiny-root", "partitions:\n  root: 16\n");

        var result = await HeavyWork.RunAsync(() => BuildAsync(profile));

        Assert.Equal(ExitCodes.InvalidProfile, result.ExitCode);
        Assert.Contains("does not fit a 16 MiB slot", result.Stderr);
        Assert.Contains("hint: raise `partitions.root` in " + profile, result.Stderr);
        AssertNothingLeftBehind("tiny-root");
    }

    [Fact]
    public async Task A_boot_partition_too_small_for_the_kernels_fails_while_the_root_compresses_and_stops_the_compression()
    {
        // The ESP is written alongside the squashfs compression: its failure must cancel tar2sqfs
        // rather than wait for it, and be the error the user sees.
        var profile = Profile("tiny-boot", "partitions:\n  boot: 16\n");

        var result = await HeavyWork.RunAsync(() => BuildAsync(profile));

        Assert.Contains("error: the ESP partition (16 MiB) cannot hold its", result.Stderr);
        Assert.Contains("hint: raise `partitions.boot`", result.Stderr);
        Assert.DoesNotContain("root: squashfs", result.Stderr);
        AssertNothingLeftBehind("tiny-boot");
    }

    [Fact]
    public async Task A_kernel_package_the_suite_does_not_have_is_refused_by_name()
    {
        var profile = Profile("no-kernel", "kernel:\n  package: linux-image-doesnotexist\n");

        var result = await BuildAsync(profile);

        Assert.Equal(ExitCodes.NotFound, result.ExitCode);
        Assert.Contains("error: kernel package linux-image-doesnotexist not found in trixie/main for amd64", result.Stderr);
        // The hint points at the line that names the kernel, not at the base profile's package list.
        Assert.Contains($"hint: Check `kernel.package` in {profile}:", result.Stderr);
        AssertNothingLeftBehind("no-kernel");
    }

    [Fact]
    public async Task A_board_without_a_disk_backend_is_refused_at_its_profile_line_before_anything_is_downloaded()
    {
        var profile = Profile("no-board", "board: nope\n");
        var cache = Directory.CreateDirectory(Path.Combine(_work.FullName, "cache"));

        var result = await BuildAsync(profile, [], new()
        {
            ["EDGEIMAGE_MIRROR"] = UnreachableMirror,
            ["EDGEIMAGE_CACHE"] = cache.FullName,
        });

        Assert.Equal(ExitCodes.InvalidProfile, result.ExitCode);
        Assert.Contains($"error: {profile}:3:", result.Stderr);
        Assert.Contains("board 'nope' has no disk image backend", result.Stderr);
        Assert.Contains("hint: set `board:` to one of generic-efi, rpi-armv7, rpi4-aarch64", result.Stderr);
        Assert.Empty(cache.EnumerateFileSystemInfos());
        AssertNothingLeftBehind("no-board");
    }

    [Fact]
    public async Task An_unknown_compression_is_refused_before_anything_is_downloaded()
    {
        var cache = Directory.CreateDirectory(Path.Combine(_work.FullName, "cache"));

        var result = await BuildAsync("generic-x86_64", ["--compression", "foo"], new()
        {
            ["EDGEIMAGE_MIRROR"] = UnreachableMirror,
            ["EDGEIMAGE_CACHE"] = cache.FullName,
        });

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("error: unknown squashfs compression 'foo'", result.Stderr);
        Assert.Contains("hint: use one of: zstd, xz, gzip, lz4, lzo", result.Stderr);
        Assert.Empty(cache.EnumerateFileSystemInfos());
        AssertNothingLeftBehind("generic-x86_64");
    }

    [Fact]
    public async Task A_missing_host_tool_is_named_with_the_Debian_package_that_provides_it()
    {
        // A PATH with dotnet alone: tar2sqfs (and mtools) live in /usr/bin, which the builder only
        // finds through PATH; it also looks in /usr/sbin and /sbin, where they are not.
        var bin = Directory.CreateDirectory(Path.Combine(_work.FullName, "bin"));
        var dotnet = Environment.ProcessPath is { } host && Path.GetFileName(host) == "dotnet" ? host : TrixieDebs.Run("sh", "-c", "command -v dotnet").Trim();
        File.CreateSymbolicLink(Path.Combine(bin.FullName, "dotnet"), dotnet);
        Assert.False(File.Exists("/usr/sbin/tar2sqfs") || File.Exists("/sbin/tar2sqfs"), "tar2sqfs is in sbin here; this test cannot hide it");

        var result = await BuildAsync("generic-x86_64", [], new()
        {
            ["PATH"] = bin.FullName,
            ["EDGEIMAGE_MIRROR"] = UnreachableMirror,
        });

        Assert.Equal(ExitCodes.MissingTool, result.ExitCode);
        Assert.Matches(@"error: required host tools? not found: .*\btar2sqfs\b", result.Stderr);
        Assert.Matches(@"hint: install the Debian packages?: apt-get install .*\bsquashfs-tools-ng\b", result.Stderr);
        AssertNothingLeftBehind("generic-x86_64");
    }

    public void Dispose() => _work.Delete(recursive: true);

    /// <summary>A profile that extends the shipped generic-x86_64 with <paramref name="body"/>.</summary>
    private string Profile(string name, string body)
    {
        var path = Path.Combine(_work.FullName, name + ".yaml");
        File.WriteAllText(path, $"name: {name}\nextends: {GenericX86}\n{body}");
        return path;
    }

    private Task<CliResult> BuildAsync(string profile) => BuildAsync(profile, [], new()
    {
        ["EDGEIMAGE_CACHE"] = Path.Combine(Path.GetTempPath(), "edgeimage-integration-cache"),
    });

    private async Task<CliResult> BuildAsync(string profile, string[] extra, Dictionary<string, string?> environment)
    {
        var name = Path.GetFileNameWithoutExtension(profile);
        var clock = Stopwatch.StartNew();
        var result = await Cli.RunAsync(["build", "--profile", profile, "--out", Path.Combine(OutputRoot, name), "--no-k0s", .. extra], new CliOptions
        {
            Environment = environment,
            Timeout = BootCheckImage.BuildTimeout,
        });
        output.WriteLine($"{result}\n({clock.Elapsed.TotalSeconds:0.0}s)");
        Assert.NotEqual(0, result.ExitCode);
        Assert.DoesNotContain("   at ", result.Stderr);
        return result;
    }

    private void AssertNothingLeftBehind(string name)
    {
        var outDir = Path.Combine(OutputRoot, name);
        if (Directory.Exists(outDir))
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(outDir));
        }
        if (Directory.Exists(OutputRoot))
        {
            // The work directory lives beside the output directory.
            Assert.All(Directory.EnumerateFileSystemEntries(OutputRoot), e => Assert.Equal(name, Path.GetFileName(e)));
        }
    }
}
