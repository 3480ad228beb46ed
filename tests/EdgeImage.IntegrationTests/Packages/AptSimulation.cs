using System.Diagnostics;
using System.Text.RegularExpressions;
using EdgeImage.Packages;

namespace EdgeImage.IntegrationTests.Packages;

/// <summary>
/// The host's own apt-get, run against a private state directory (its own sources.list, an empty
/// dpkg status, no host apt.conf.d) so it sees only the chosen suite and architecture. It serves as
/// the reference the resolver must agree with, and its downloaded Packages index is the resolver's input.
/// </summary>
internal sealed partial class AptSimulation
{
    private static readonly TimeSpan IndexMaxAge = TimeSpan.FromHours(12);

    private readonly string _root;

    private readonly string _sourcesLine;

    private AptSimulation(string architecture, string root, string sourcesLine)
    {
        Architecture = architecture;
        _root = root;
        _sourcesLine = sourcesLine;
    }

    public string Architecture { get; }

    /// <summary>Prepares (or reuses, when fresh) the apt state for one suite/arch of the mirror under a stable temp path.</summary>
    public static AptSimulation ForSuite(string architecture, string suite = "trixie")
    {
        var root = Path.Combine(Path.GetTempPath(), $"edgeimage-apt-{suite}-{architecture}");
        var apt = new AptSimulation(architecture, root,
            $"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {HostMirror.Url()} {suite} main");
        apt.Prepare(IndexMaxAge);
        return apt;
    }

    /// <summary>apt state over a local flat repository holding exactly <paramref name="packagesFile"/>, in <paramref name="root"/>.</summary>
    public static AptSimulation ForLocalIndex(string packagesFile, string architecture, string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "repo"));
        File.WriteAllText(Path.Combine(root, "repo", "Packages"), packagesFile);
        var apt = new AptSimulation(architecture, root, $"deb [trusted=yes allow-insecure=yes] file:{root}/repo ./");
        apt.Prepare(TimeSpan.Zero);
        return apt;
    }

    private string ConfigFile => Path.Combine(_root, "apt.conf");

    public string PackagesFile => Directory.EnumerateFiles(Path.Combine(_root, "state", "lists"), "*Packages").Single();

    private void Prepare(TimeSpan maxAge)
    {
        foreach (var dir in new[] { "state/lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d" })
        {
            Directory.CreateDirectory(Path.Combine(_root, dir));
        }
        File.WriteAllText(Path.Combine(_root, "status"), "");
        File.WriteAllText(Path.Combine(_root, "etc", "sources.list"),
            _sourcesLine + "\n");
        // Read through APT_CONFIG before anything else, so the host's apt.conf.d never applies.
        File.WriteAllText(ConfigFile, $"""
            Dir::Etc::Parts "{_root}/etc/apt.conf.d";
            Dir::Etc::Main "/dev/null";
            Dir::Etc::SourceList "{_root}/etc/sources.list";
            Dir::Etc::SourceParts "/nonexistent";
            Dir::Etc::Preferences "/nonexistent";
            Dir::Etc::PreferencesParts "{_root}/etc/preferences.d";
            Dir::State "{_root}/state";
            Dir::State::status "{_root}/status";
            Dir::Cache "{_root}/cache";
            Acquire::GzipIndexes "false";
            Acquire::Languages "none";
            APT::Architecture "{Architecture}";
            APT::Architectures "{Architecture}";
            APT::Install-Recommends "false";
            Debug::NoLocking "true";

            """);

        var fresh = Directory.EnumerateFiles(Path.Combine(_root, "state", "lists"), "*Packages")
            .Any(f => DateTime.UtcNow - File.GetLastWriteTimeUtc(f) < maxAge);
        if (!fresh)
        {
            Run("update");
        }
    }

    public IReadOnlyList<PackageRecord> ReadIndex()
    {
        using var reader = new StreamReader(PackagesFile);
        return [.. ControlParagraph.ParseAll(reader).Select(p => PackageRecord.FromParagraph(p, PackagesFile))];
    }

    /// <summary>(name, version) of every package apt-get install --simulate would install.</summary>
    public IReadOnlyList<(string Name, string Version)> SimulateInstall(IEnumerable<string> packages) =>
        TrySimulateInstall(packages, out var output) ?? throw new InvalidOperationException($"apt-get install --simulate failed:\n{output}");

    /// <summary>Like <see cref="SimulateInstall"/>, but null when apt-get refuses (unmet dependencies, unknown package).</summary>
    public IReadOnlyList<(string Name, string Version)>? TrySimulateInstall(IEnumerable<string> packages, out string output)
    {
        var (exitCode, stdout, stderr) = Run(["install", "--simulate", .. packages]);
        output = stdout + stderr;
        return exitCode != 0
            ? null
            : [.. InstLine().Matches(stdout).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).OrderBy(p => p.Item1, StringComparer.Ordinal)];
    }

    private (int ExitCode, string Stdout, string Stderr) Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("apt-get")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["APT_CONFIG"] = ConfigFile, ["LC_ALL"] = "C.UTF-8" },
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && arguments[0] == "update")
        {
            throw new InvalidOperationException($"apt-get update failed ({process.ExitCode}):\n{stdout.Result}\n{stderr}");
        }
        return (process.ExitCode, stdout.Result, stderr);
    }

    [GeneratedRegex(@"^Inst (\S+) \((\S+) ", RegexOptions.Multiline)]
    private static partial Regex InstLine();
}
