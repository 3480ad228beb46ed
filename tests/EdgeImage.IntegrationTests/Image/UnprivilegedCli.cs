using System.Globalization;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>
/// Runs the built CLI as an unprivileged user to prove a build needs no root. When the tests run
/// as root (as CI does) the CLI runs as uid 65534 (nobody) through setpriv; otherwise the current
/// user already is unprivileged and runs it directly. Everything the CLI reads is copied into a
/// world-readable staging directory laid out like the repository (the CLI's bin folder, profiles/,
/// overlays/, and this project's test profiles and overlays), because the checkout itself may not be readable
/// by that user. HOME and the download cache belong to the user that runs the build; the cache is
/// kept between runs apart from root's caches, so neither ever holds files the other cannot replace.
/// </summary>
public sealed class UnprivilegedCli
{
    public const int NobodyUid = 65534;

    private const string StagingPrefix = "edgeimage-unprivileged-";

    private static readonly Lazy<UnprivilegedCli> LazyShared = new(Create);

    private UnprivilegedCli(string root, bool dropsPrivileges)
    {
        Root = root;
        DropsPrivileges = dropsPrivileges;
    }

    /// <summary>One staging copy per test run, removed when the test process ends.</summary>
    public static UnprivilegedCli Shared => LazyShared.Value;

    /// <summary>True when the tests run as root and the CLI runs as uid 65534.</summary>
    public bool DropsPrivileges { get; }

    /// <summary>The world-readable staging directory.</summary>
    public string Root { get; }

    /// <summary>The copy of the repository's files the CLI works in (its working directory).</summary>
    public string Repository => Path.Combine(Root, "repo");

    /// <summary>The test profile that adds the boot-check overlay to generic-x86_64.</summary>
    public string BootCheckProfile => Path.Combine(Repository, "tests", "EdgeImage.IntegrationTests", "profiles", "generic-x86_64-boot-check.yaml");

    /// <summary>The k0s stand-in (a test double, not the real k0s), readable by the unprivileged user.</summary>
    public string K0sStandIn => Path.Combine(Repository, "tests", "EdgeImage.IntegrationTests", "k0s-standin", "k0s");

    /// <summary>A test profile of this project's profiles/ by name, e.g. generic-x86_64-join.</summary>
    public string TestProfile(string name) => Path.Combine(Repository, "tests", "EdgeImage.IntegrationTests", "profiles", name + ".yaml");

    /// <summary>A directory the unprivileged user may write outputs to.</summary>
    public string Output => Path.Combine(Root, "out");

    private string Home => Path.Combine(Root, "home");

    private string Dll => Path.Combine(Root, "cli", "edgeimage.dll");

    /// <summary>Kept between test runs so the unprivileged builds start warm.</summary>
    public static string Cache { get; } = Path.Combine(Path.GetTempPath(),
        $"edgeimage-integration-cache-uid{(CurrentUid() == 0 ? NobodyUid : CurrentUid())}");

    public Task<CliResult> RunAsync(IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var dotnet = DotnetHost();
        var variables = new Dictionary<string, string?>
        {
            ["PATH"] = $"{Path.GetDirectoryName(dotnet)}:/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = Home,
            ["DOTNET_CLI_HOME"] = Home,
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["LANG"] = "C.UTF-8",
            ["TMPDIR"] = Path.GetTempPath(),
            ["EDGEIMAGE_CACHE"] = Cache,
            ["EDGEIMAGE_MIRROR"] = System.Environment.GetEnvironmentVariable("EDGEIMAGE_MIRROR"),
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            variables[name] = value;
        }
        return Cli.RunAsync(arguments, new CliOptions
        {
            WorkingDirectory = Repository,
            Dll = Dll,
            InheritEnvironment = false,
            Environment = variables,
            Timeout = timeout,
            Launcher = DropsPrivileges
                ? ["setpriv", $"--reuid={NobodyUid}", $"--regid={NobodyUid}", "--clear-groups", "--", dotnet]
                : [dotnet],
        });
    }

    /// <summary>The numeric owner of a file, as the kernel records it.</summary>
    public static int OwnerOf(string path) => int.Parse(Run("stat", "-c", "%u", path).Trim(), CultureInfo.InvariantCulture);

    /// <summary>The uid the CLI runs as.</summary>
    public int Uid => DropsPrivileges ? NobodyUid : CurrentUid();

    private static UnprivilegedCli Create()
    {
        RemoveStagingOfEndedRuns();
        var root = Path.Combine(Path.GetTempPath(), StagingPrefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // The next run removes it (RemoveStagingOfEndedRuns).
            }
        };
        var cli = new UnprivilegedCli(root, CurrentUid() == 0);

        Run("cp", "-r", Path.GetDirectoryName(Cli.Dll)!, Path.Combine(root, "cli"));
        Directory.CreateDirectory(cli.Repository);
        Run("cp", "-r", Path.Combine(Cli.RepositoryRoot, "profiles"), cli.Repository);
        Run("cp", "-rP", Path.Combine(Cli.RepositoryRoot, "overlays"), cli.Repository);
        var tests = Path.Combine(cli.Repository, "tests", "EdgeImage.IntegrationTests");
        Directory.CreateDirectory(tests);
        foreach (var folder in new[] { "profiles", "overlays", "k0s-standin" })
        {
            // -P keeps the overlay's unit-enabling symlink a symlink.
            Run("cp", "-rP", Path.Combine(Cli.RepositoryRoot, "tests", "EdgeImage.IntegrationTests", folder), tests);
        }
        Run("chmod", "-R", "a+rX", root);
        Directory.CreateDirectory(cli.Home);
        Directory.CreateDirectory(cli.Output);
        Directory.CreateDirectory(Cache);
        if (cli.DropsPrivileges)
        {
            Run("chown", "-R", $"{NobodyUid}:{NobodyUid}", cli.Home, cli.Output, Cache);
        }
        return cli;
    }

    /// <summary>
    /// The test host may be stopped before its exit handler has deleted the staging copy (with the
    /// image in it), so each run removes what runs that have ended left behind. The directory name
    /// carries the process id of its run; a run still going keeps its copy.
    /// </summary>
    private static void RemoveStagingOfEndedRuns()
    {
        foreach (var directory in Directory.EnumerateDirectories(Path.GetTempPath(), StagingPrefix + "*"))
        {
            var pid = Path.GetFileName(directory)[StagingPrefix.Length..];
            if (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out _) || !Directory.Exists("/proc/" + pid))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>The dotnet executable running these tests, so the unprivileged run uses the same runtime.</summary>
    private static string DotnetHost() =>
        Environment.ProcessPath is { } host && Path.GetFileName(host) == "dotnet"
            ? host
            : Run("sh", "-c", "command -v dotnet").Trim();

    /// <summary>The real uid of the test process.</summary>
    private static int CurrentUid() => int.Parse(
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static string Run(string tool, params string[] args) => TrixieDebs.Run(tool, args);
}
