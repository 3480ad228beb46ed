using System.CommandLine;
using System.Globalization;
using EdgeImage.Cli.Commands;

namespace EdgeImage.Cli;

/// <summary>Options every command that builds something shares, and the BuildContext they make.</summary>
internal static class BuildOptions
{
    public static readonly Option<string> Profile = new("--profile", "-p")
    {
        Description = "Profile name (see `edgeimage profiles list`) or path to a profile .yaml.",
        Required = true,
    };

    public static readonly Option<string?> Mirror = new("--mirror")
    {
        Description = "Debian mirror URL (default: $EDGEIMAGE_MIRROR, then the profile's mirror, then the host's apt sources).",
    };

    public static readonly Option<bool> Offline = new("--offline")
    {
        Description = "Build from the download cache alone; fails naming anything that is missing.",
    };

    public static readonly Option<string?> CacheDir = new("--cache-dir")
    {
        Description = "Download cache (default: $EDGEIMAGE_CACHE, else $XDG_CACHE_HOME/edgeimage, else ~/.cache/edgeimage).",
    };

    public static readonly Option<int> Jobs = new Option<int>("--jobs", "-j")
    {
        Description = "Parallel downloads.",
        DefaultValueFactory = _ => 4,
    }.Positive();

    public static void AddTo(Command command)
    {
        command.Options.Add(Profile);
        command.Options.Add(Mirror);
        command.Options.Add(Offline);
        command.Options.Add(CacheDir);
        command.Options.Add(Jobs);
    }

    /// <summary>
    /// SOURCE_DATE_EPOCH, when set, fixes every timestamp in the output and is also the time
    /// signatures are checked against (so an old snapshot can be rebuilt); otherwise the build uses
    /// the suite's Release date for output and the current time for verification.
    /// </summary>
    public static BuildContext Context(ParseResult parse, string workDir, IBuildLog log, CancellationToken cancellation)
    {
        var epochText = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        long epoch = RootfsBuild.UnsetSourceDateEpoch;
        if (!string.IsNullOrEmpty(epochText) && !long.TryParse(epochText, NumberStyles.None, CultureInfo.InvariantCulture, out epoch))
        {
            throw new EdgeImageException($"SOURCE_DATE_EPOCH='{epochText}' is not a number of seconds", "set it to a Unix time, e.g. $(git log -1 --format=%ct)", ExitCodes.Usage);
        }
        return new BuildContext
        {
            CacheDir = parse.GetValue(CacheDir) ?? DefaultCacheDir(),
            WorkDir = workDir,
            SourceDateEpoch = epoch,
            VerificationTime = epoch >= 0 ? DateTimeOffset.FromUnixTimeSeconds(epoch) : DateTimeOffset.UtcNow,
            Log = log,
            Offline = parse.GetValue(Offline),
            MaxParallelDownloads = parse.GetValue(Jobs),
            Cancellation = cancellation,
        };
    }

    public static Profiles.Profile LoadProfile(ParseResult parse) => ProfilesCommand.Catalog(parse).Load(parse.GetValue(Profile)!);

    private static string DefaultCacheDir()
    {
        if (Environment.GetEnvironmentVariable("EDGEIMAGE_CACHE") is { Length: > 0 } explicitDir)
        {
            return explicitDir;
        }
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg)
        {
            return Path.Combine(xdg, "edgeimage");
        }
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".cache", "edgeimage");
    }

    /// <summary>A scratch directory for one build, removed afterwards whatever happens.</summary>
    public static async Task<T> WithWorkDirAsync<T>(string near, Func<string, Task<T>> body)
    {
        var parent = Path.GetFullPath(near);
        Directory.CreateDirectory(parent);
        var workDir = Path.Combine(parent, $".edgeimage-work-{Environment.ProcessId}");
        Directory.CreateDirectory(workDir);
        try
        {
            return await body(workDir);
        }
        finally
        {
            Directory.Delete(workDir, recursive: true);
        }
    }
}
