using System.Globalization;

namespace EdgeImage.Packages;

/// <summary>The Debian mirror a build uses and where that choice came from, so the log can say why.</summary>
public sealed record MirrorSource(string Url, string Origin)
{
    /// <summary>For the log: the URL without its password (the request uses <see cref="Url"/> as it is).</summary>
    public override string ToString() => $"{UrlCredentials.Redact(Url)} (from {Origin})";
}

/// <summary>
/// Finds the Debian mirror: an explicit --mirror, then EDGEIMAGE_MIRROR, then the profile, then
/// the host's apt sources. The host may list the Debian mirror next to third-party repositories
/// (nodesource, cloud SDKs, Docker's, which also ends in /debian) and the security archive; only a
/// plain Debian archive is usable here because the builder asks it for arbitrary suites and pool
/// files, so a source counts when its path ends in /debian, it names a Debian suite and has 'main'.
/// </summary>
public sealed class MirrorDiscovery
{
    public const string EnvironmentVariable = "EDGEIMAGE_MIRROR";

    /// <summary>Debian code names and aliases; a suite such as bookworm-updates counts through its prefix.</summary>
    private static readonly string[] DebianSuites =
    [
        "buzz", "rex", "bo", "hamm", "slink", "potato", "woody", "sarge", "etch", "lenny", "squeeze",
        "wheezy", "jessie", "stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "duke",
        "sid", "stable", "oldstable", "oldoldstable", "testing", "unstable", "experimental",
    ];

    public string SourcesList { get; init; } = "/etc/apt/sources.list";

    public string SourcesDirectory { get; init; } = "/etc/apt/sources.list.d";

    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <param name="explicitMirror">The --mirror value, if given.</param>
    /// <param name="profileMirror">The profile's <c>mirror:</c>, if set.</param>
    /// <param name="profileLocation">Where the profile set it (file:line), for the log.</param>
    public MirrorSource Resolve(string? explicitMirror, string? profileMirror, string? profileLocation, IBuildLog log)
    {
        var source = Find(explicitMirror, profileMirror, profileLocation);
        log.Info($"mirror: {source}");
        return source;
    }

    public MirrorSource Find(string? explicitMirror, string? profileMirror, string? profileLocation = null)
    {
        if (!string.IsNullOrWhiteSpace(explicitMirror))
        {
            return new(Normalize(explicitMirror), "--mirror");
        }
        if (GetEnvironmentVariable(EnvironmentVariable) is { } env && !string.IsNullOrWhiteSpace(env))
        {
            return new(Normalize(env), EnvironmentVariable);
        }
        if (!string.IsNullOrWhiteSpace(profileMirror))
        {
            return new(Normalize(profileMirror), profileLocation is null ? "profile" : $"profile {profileLocation}");
        }
        foreach (var file in AptSourceFiles())
        {
            foreach (var uri in DebianArchiveUris(file))
            {
                return new(Normalize(uri), file);
            }
        }
        throw new EdgeImageException(
            $"no Debian mirror found: --mirror and {EnvironmentVariable} are not set, the profile has no 'mirror:' and " +
            $"neither {SourcesList} nor {SourcesDirectory}/*.sources|*.list lists a Debian archive (a 'deb' URI ending in /debian)",
            $"Pass --mirror http://<host>/debian, set {EnvironmentVariable}, or add 'mirror:' to the profile.",
            ExitCodes.Usage);
    }

    /// <summary>Mirror URLs are joined with index paths, so a trailing slash would double up.</summary>
    public static string Normalize(string mirror) => mirror.Trim().TrimEnd('/');

    /// <summary>apt's own order: sources.list first, then the directory's files sorted by name.</summary>
    private IEnumerable<string> AptSourceFiles()
    {
        if (File.Exists(SourcesList))
        {
            yield return SourcesList;
        }
        if (!Directory.Exists(SourcesDirectory))
        {
            yield break;
        }
        foreach (var file in Directory.EnumerateFiles(SourcesDirectory).Order(StringComparer.Ordinal))
        {
            if (file.EndsWith(".sources", StringComparison.Ordinal) || file.EndsWith(".list", StringComparison.Ordinal))
            {
                yield return file;
            }
        }
    }

    private static IEnumerable<string> DebianArchiveUris(string file)
    {
        var text = File.ReadAllText(file);
        return file.EndsWith(".sources", StringComparison.Ordinal) ? Deb822Uris(text) : OneLineUris(text);
    }

    private static IEnumerable<string> Deb822Uris(string text)
    {
        foreach (var stanza in ControlParagraph.ParseAll(new StringReader(text)))
        {
            if (IsDisabled(stanza["Enabled"])
                || !Words(stanza["Types"]).Contains("deb")
                || !Words(stanza["Suites"]).Any(IsDebianSuite)
                || !Words(stanza["Components"]).Contains("main"))
            {
                continue;
            }
            foreach (var uri in Words(stanza["URIs"]).Where(IsDebianArchive))
            {
                yield return uri;
            }
        }
    }

    /// <summary>
    /// apt reads Enabled: as a boolean (StringToBool): 0 and 1, or no/false/without/off/disable
    /// against yes/true/with/on/enable in any case; anything else keeps the stanza enabled, as a
    /// missing field does.
    /// </summary>
    private static bool IsDisabled(string? enabled)
    {
        var value = enabled?.Trim();
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            return number == 0;
        }
        return DisabledWords.Contains(value, StringComparer.OrdinalIgnoreCase);
    }

    private static readonly string[] DisabledWords = ["no", "false", "without", "off", "disable"];

    /// <summary>Lines like <c>deb [arch=amd64 signed-by=...] http://host/debian bookworm main</c>.</summary>
    private static IEnumerable<string> OneLineUris(string text)
    {
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Split('#', 2)[0].Trim();
            if (!line.StartsWith("deb ", StringComparison.Ordinal) && !line.StartsWith("deb\t", StringComparison.Ordinal))
            {
                continue;
            }
            var rest = line[3..].Trim();
            if (rest.StartsWith('['))
            {
                var close = rest.IndexOf(']');
                if (close < 0)
                {
                    continue;
                }
                rest = rest[(close + 1)..].Trim();
            }
            var words = Words(rest);
            if (words.Length >= 3 && IsDebianArchive(words[0]) && IsDebianSuite(words[1]) && words[2..].Contains("main"))
            {
                yield return words[0];
            }
        }
    }

    private static string[] Words(string? value) =>
        value?.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries) ?? [];

    private static bool IsDebianArchive(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed)
        && parsed.Scheme is "http" or "https" or "file"
        && parsed.AbsolutePath.TrimEnd('/').EndsWith("/debian", StringComparison.Ordinal);

    private static bool IsDebianSuite(string suite)
    {
        var name = suite.Split('-', 2)[0].TrimEnd('/');
        return DebianSuites.Contains(name, StringComparer.Ordinal);
    }
}
