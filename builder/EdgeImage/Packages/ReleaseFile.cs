using System.Globalization;

namespace EdgeImage.Packages;

/// <summary>One file listed in a Release file's SHA256 section, path relative to dists/SUITE/.</summary>
public sealed record ReleaseEntry(string Path, long Size, string Sha256);

/// <summary>A suite's verified Release file: what it is and the SHA256 of every index below it.</summary>
public sealed partial record ReleaseFile
{
    public required string Suite { get; init; }

    public required string Codename { get; init; }

    public DateTimeOffset? Date { get; init; }

    public DateTimeOffset? ValidUntil { get; init; }

    public required IReadOnlyList<string> Architectures { get; init; }

    public required IReadOnlyList<string> Components { get; init; }

    /// <summary>The mirror also serves each index under by-hash/SHA256/HASH, which never changes during a sync.</summary>
    public bool AcquireByHash { get; init; }

    public required IReadOnlyDictionary<string, ReleaseEntry> Files { get; init; }

    public static ReleaseFile Parse(string text, string source)
    {
        var p = ControlParagraph.ParseSingle(text);
        var files = new Dictionary<string, ReleaseEntry>(StringComparer.Ordinal);
        var sums = p["SHA256"] ?? throw new EdgeImageException(
            $"{source}: Release has no SHA256 section",
            "The mirror serves a Release file without SHA256 sums, which cannot be verified; pick another mirror with --mirror.",
            ExitCodes.VerificationFailed);
        foreach (var line in sums.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || parts[0].Length != 64 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                throw new EdgeImageException($"{source}: malformed SHA256 line '{line}'",
                    "The Release file is damaged; pick another mirror with --mirror.", ExitCodes.VerificationFailed);
            }
            files[parts[2]] = new ReleaseEntry(parts[2], size, parts[0].ToLowerInvariant());
        }
        return new ReleaseFile
        {
            Suite = p["Suite"] ?? "",
            Codename = p["Codename"] ?? "",
            Date = ParseDate(p["Date"], "Date", source),
            ValidUntil = ParseDate(p["Valid-Until"], "Valid-Until", source),
            Architectures = Words(p["Architectures"]),
            Components = Words(p["Components"]),
            AcquireByHash = string.Equals(p["Acquire-By-Hash"], "yes", StringComparison.OrdinalIgnoreCase),
            Files = files,
        };
    }

    public bool Names(string suite) =>
        string.Equals(Suite, suite, StringComparison.OrdinalIgnoreCase) || string.Equals(Codename, suite, StringComparison.OrdinalIgnoreCase);

    private static string[] Words(string? value) => value?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>Release dates are RFC 2822, e.g. "Sat, 10 May 2025 09:04:51 UTC"; apt also accepts a numeric zone.</summary>
    private static DateTimeOffset? ParseDate(string? value, string field, string source)
    {
        if (value is null)
        {
            return null;
        }
        var match = Rfc2822Date().Match(value.Trim());
        if (match.Success && DateTime.TryParseExact(match.Groups["time"].Value, "d MMM yyyy HH:mm:ss",
                CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            var zone = match.Groups["zone"].Value;
            var offset = zone is "UTC" or "GMT" or "Z"
                ? TimeSpan.Zero
                : new TimeSpan(int.Parse(zone[1..3], CultureInfo.InvariantCulture), int.Parse(zone[3..], CultureInfo.InvariantCulture), 0)
                    * (zone[0] == '-' ? -1 : 1);
            return new DateTimeOffset(local, offset);
        }
        throw new EdgeImageException($"{source}: cannot read the {field} date '{value}'",
            "The Release file is damaged; pick another mirror with --mirror.", ExitCodes.VerificationFailed);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?:[A-Za-z]{3}, +)?(?<time>\d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2}) +(?<zone>UTC|GMT|Z|[+-]\d{4})$")]
    private static partial System.Text.RegularExpressions.Regex Rfc2822Date();
}
