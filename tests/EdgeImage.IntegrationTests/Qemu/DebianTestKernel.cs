using CliWrap;
using EdgeImage.Tools;

namespace EdgeImage.IntegrationTests.Qemu;

/// <summary>
/// A real Debian trixie amd64 kernel for direct-kernel boots, downloaded once with apt-get under a
/// private configuration (so the host's own sources, lists and caches are untouched) and kept in a
/// stable cache directory across test runs.
/// </summary>
public sealed class DebianTestKernel : IAsyncLifetime
{
    public const string Suite = "trixie";

    private static readonly string CacheDir = Path.Combine(Path.GetTempPath(), "edgeimage-test-cache", $"kernel-{Suite}-amd64");

    public string Vmlinuz { get; } = Path.Combine(CacheDir, "vmlinuz");

    /// <summary>The binary package the kernel came from, e.g. linux-image-6.12.57+deb13-amd64.</summary>
    public string Package => File.ReadAllText(Path.Combine(CacheDir, "package")).Trim();

    public async Task InitializeAsync()
    {
        if (File.Exists(Vmlinuz) && new FileInfo(Vmlinuz).Length > 0 && File.Exists(Path.Combine(CacheDir, "package")))
        {
            return;
        }
        var tools = new HostTools();
        tools.Require("apt-get", "apt-cache", "dpkg-deb", "tar");
        Directory.CreateDirectory(CacheDir);
        var apt = Path.Combine(CacheDir, "apt");
        foreach (var dir in new[] { "lists/partial", "cache/archives/partial", "empty", "download" })
        {
            Directory.CreateDirectory(Path.Combine(apt, dir));
        }
        var sources = Path.Combine(apt, "sources.list");
        await File.WriteAllTextAsync(sources,
            $"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {HostMirror.Url()} {Suite} main\n");
        string[] options =
        [
            "-q",
            "-o", $"Dir::Etc::SourceList={sources}",
            "-o", $"Dir::Etc::SourceParts={apt}/empty",
            "-o", $"Dir::Etc::Preferences={apt}/empty/none",
            "-o", $"Dir::Etc::PreferencesParts={apt}/empty",
            "-o", $"Dir::State={apt}",
            "-o", $"Dir::State::Lists={apt}/lists",
            "-o", "Dir::State::status=/dev/null",
            "-o", $"Dir::Cache={apt}/cache",
            "-o", "APT::Architecture=amd64",
            "-o", "APT::Architectures=amd64",
            "-o", "Acquire::Languages=none",
            "-o", "APT::Sandbox::User=root",
            "-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
        ];
        await tools.RunAsync("apt-get", [.. options, "update"]);
        // linux-image-amd64 is a metapackage; its Depends names the versioned image package.
        var meta = await tools.RunAsync("apt-cache", [.. options, "show", "--no-all-versions", "linux-image-amd64"]);
        var package = meta.Split('\n')
            .First(l => l.StartsWith("Depends:", StringComparison.Ordinal))["Depends:".Length..]
            .Split(',')
            .Select(d => d.Trim().Split(' ')[0])
            .First(d => d.StartsWith("linux-image-", StringComparison.Ordinal));
        var download = Path.Combine(apt, "download");
        await tools.RunAsync("apt-get", [.. options, "download", package], workingDirectory: download);
        var deb = Directory.GetFiles(download, "*.deb").Single();

        var extract = Path.Combine(apt, "extract");
        Directory.CreateDirectory(extract);
        // Only the kernel image, not the ~400 MB of modules beside it.
        await (CliWrap.Cli.Wrap("dpkg-deb").WithArguments(["--fsys-tarfile", deb])
               | CliWrap.Cli.Wrap("tar").WithArguments(["-x", "-C", extract, "--wildcards", "./boot/vmlinuz-*"])).ExecuteAsync();
        var vmlinuz = Directory.GetFiles(Path.Combine(extract, "boot"), "vmlinuz-*").Single();
        File.Move(vmlinuz, Vmlinuz + ".partial", overwrite: true);
        await File.WriteAllTextAsync(Path.Combine(CacheDir, "package"), package + "\n");
        File.Move(Vmlinuz + ".partial", Vmlinuz, overwrite: true);
        Directory.Delete(apt, recursive: true);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
