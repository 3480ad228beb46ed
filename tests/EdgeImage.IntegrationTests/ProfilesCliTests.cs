using System.Text.RegularExpressions;
using EdgeImage.Profiles;

namespace EdgeImage.IntegrationTests;

/// <summary>`edgeimage profiles` end to end: the built CLI, its output and its exit codes.</summary>
public sealed class ProfilesCliTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("edgeimage-cli-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task List_prints_one_plain_row_per_shipped_profile()
    {
        var run = await Cli.RunAsync("profiles", "list");

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches(@"^NAME\s+ARCH\s+BOARD\s+DESCRIPTION$", lines[0]);
        Assert.Equal(5, lines.Length);
        Assert.Matches(@"^rpi-armv7\s+armhf\s+rpi-armv7\s+Raspberry Pi", lines.Single(l => l.StartsWith("rpi-armv7 ", StringComparison.Ordinal)));
        Assert.Matches(@"^generic-x86_64\s+amd64\s+generic-efi\s+\S", lines.Single(l => l.StartsWith("generic-x86_64 ", StringComparison.Ordinal)));
        Assert.DoesNotContain("debian-trixie", run.Stdout);
        Assert.DoesNotContain("\u001b[", run.Stdout);
    }

    [Fact]
    public async Task Show_prints_the_effective_profile_which_loads_back_unchanged()
    {
        var run = await Cli.RunAsync("profiles", "show", "rpi-armv7");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("# set in profiles/rpi-armv7.yaml:4\narch: armhf\n", run.Stdout);
        Assert.Matches(new Regex(@"^# set in profiles/base/debian-trixie\.yaml:\d+\npackages:\n  - systemd\n", RegexOptions.Multiline), run.Stdout);
        var copy = Path.Combine(_scratch, "rpi-armv7.yaml");
        File.WriteAllText(copy, run.Stdout);
        var reloaded = ProfileLoader.Load(copy);
        Assert.Equal(("armhf", "linux-image-armmp", "rpi-armv7"), (reloaded.Arch, reloaded.Kernel.Package, reloaded.Board));
        Assert.Equal(["main", "non-free-firmware"], reloaded.Components);
    }

    [Fact]
    public async Task Invalid_profile_exits_3_with_every_error_as_file_line_column_and_no_stack_trace()
    {
        File.WriteAllText(Path.Combine(_scratch, "bad.yaml"), "name: bad\narch: mips\nbord: x\n");

        var run = await Cli.RunAsync(["profiles", "show", "bad", "--profiles-dir", _scratch], new CliOptions { WorkingDirectory = _scratch });

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.StartsWith("error: 3 errors in profile bad.yaml:\n", run.Stderr);
        Assert.Contains("bad.yaml:2:7: 'arch' must be one of amd64, arm64, armhf, not 'mips'", run.Stderr);
        Assert.Contains("bad.yaml:3:1: unknown key 'bord' (did you mean 'board'?)", run.Stderr);
        Assert.Contains("\nhint: ", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public async Task List_exits_3_when_one_profile_is_broken_but_still_lists_the_others()
    {
        File.WriteAllText(Path.Combine(_scratch, "bad.yaml"), "name: bad\narch: amd64\n");
        File.WriteAllText(Path.Combine(_scratch, "good.yaml"), "name: good\narch: arm64\nboard: generic-efi\n");

        var run = await Cli.RunAsync(["profiles", "list"], new CliOptions { Environment = new Dictionary<string, string?> { ["EDGEIMAGE_PROFILES"] = _scratch } });

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Matches(new Regex(@"^good\s+arm64\s+generic-efi$", RegexOptions.Multiline), run.Stdout);
        Assert.Contains("missing required key 'board'", run.Stderr);
    }

    [Fact]
    public async Task Unknown_profile_exits_5_and_names_the_available_ones()
    {
        var run = await Cli.RunAsync("profiles", "show", "rpi5");

        Assert.True(run.ExitCode == 5, run.ToString());
        Assert.Contains("unknown profile 'rpi5'", run.Stderr);
        Assert.Contains("Available profiles: generic-aarch64, generic-x86_64, rpi-armv7, rpi4-aarch64", run.Stderr);
    }

    [Fact]
    public async Task Outside_the_repository_the_cli_finds_the_profiles_next_to_its_build()
    {
        var run = await Cli.RunAsync(["profiles", "show", "generic-aarch64"], new CliOptions { WorkingDirectory = _scratch });

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("\narch: arm64\n", run.Stdout);
    }
}
