using System.Text.RegularExpressions;

namespace EdgeImage.Testing.Packages;

/// <summary>
/// Small hand-written Packages indexes, each aimed at one rule of apt's marking. The unit tests pin
/// down what the resolver picks from them; the integration tests hand the same indexes to the host's
/// apt-get, which proves those expectations are apt's. Linked into both test projects.
/// </summary>
internal static partial class SmallIndexes
{
    /// <summary>a needs b (>= 1); b exists as 2 and 1.5.</summary>
    public const string HighestVersion = """
        Package: a
        Version: 1
        Depends: b (>= 1)

        Package: b
        Version: 2

        Package: b
        Version: 1.5
        """;

    /// <summary>a needs x | y; both are installable.</summary>
    public const string TwoAlternatives = """
        Package: a
        Version: 1
        Depends: x | y

        Package: x
        Version: 1

        Package: y
        Version: 1
        """;

    /// <summary>a needs the virtual v, provided equally well by p1 and p2 (in that file order).</summary>
    public const string EqualProviders = """
        Package: a
        Version: 1
        Depends: v

        Package: p1
        Version: 1
        Provides: v

        Package: p2
        Version: 1
        Provides: v
        """;

    /// <summary>a needs v (>= 2); only "new" provides a version of v that high.</summary>
    public const string VersionedProvides = """
        Package: a
        Version: 1
        Depends: v (>= 2)

        Package: unversioned
        Version: 9
        Provides: v

        Package: old
        Version: 1
        Provides: v (= 1)

        Package: new
        Version: 1
        Provides: v (= 2.1)
        """;

    /// <summary>a needs x | y; x conflicts with c.</summary>
    public const string FirstAlternativeConflicts = """
        Package: a
        Version: 1
        Depends: x | y

        Package: x
        Version: 1
        Conflicts: c

        Package: y
        Version: 1

        Package: c
        Version: 1
        """;

    /// <summary>a needs x | y; x breaks c (&lt;&lt; 2) and c is 1.5.</summary>
    public const string FirstAlternativeBreaks = """
        Package: a
        Version: 1
        Depends: x | y

        Package: x
        Version: 1
        Breaks: c (<< 2)

        Package: y
        Version: 1

        Package: c
        Version: 1.5
        """;

    /// <summary>a needs x | y; x pulls in z, then fails on q, which needs a missing package.</summary>
    public const string FailedAlternativeLeavesGarbage = """
        Package: a
        Version: 1
        Depends: x | y

        Package: x
        Version: 1
        Depends: z, q

        Package: z
        Version: 1

        Package: q
        Version: 1
        Depends: missing

        Package: y
        Version: 1
        """;

    /// <summary>
    /// a needs python3:any (Multi-Arch: allowed), data (Architecture: all) and tool:any, which only
    /// tool-compat (Multi-Arch: allowed) provides; tool itself is Multi-Arch: foreign.
    /// </summary>
    public const string AnyQualifiedDependencies = """
        Package: a
        Version: 1
        Depends: python3:any, data, tool:any

        Package: python3
        Version: 3.13
        Multi-Arch: allowed

        Package: data
        Version: 1
        Architecture: all

        Package: tool
        Version: 1
        Multi-Arch: foreign

        Package: tool-compat
        Version: 1
        Multi-Arch: allowed
        Provides: tool
        """;

    /// <summary>Only mawk, which provides awk.</summary>
    public const string OneAwkProvider = """
        Package: mawk
        Version: 1
        Provides: awk
        """;

    /// <summary>a -> c -> b (>= 2), but b is only 1.</summary>
    public const string UnsatisfiableVersion = """
        Package: a
        Version: 1
        Depends: c

        Package: c
        Version: 1
        Depends: b (>= 2)

        Package: b
        Version: 1
        """;

    /// <summary>a conflicts with b.</summary>
    public const string Conflicting = """
        Package: a
        Version: 1
        Conflicts: b

        Package: b
        Version: 1
        """;

    /// <summary>
    /// Completes each paragraph of a hand-written index into what a real Packages file has: the
    /// Architecture (unless the paragraph sets one), Filename, Size and SHA256.
    /// </summary>
    public static string WithFileFields(string index, string architecture) =>
        string.Join("\n\n", index.Trim().Split("\n\n").Select(paragraph =>
        {
            var fields = paragraph.Trim();
            var name = PackageField().Match(fields).Groups[1].Value;
            var arch = fields.Contains("Architecture:", StringComparison.Ordinal) ? "" : $"\nArchitecture: {architecture}";
            return $"{fields}{arch}\nFilename: pool/{name}.deb\nSize: 1\nSHA256: {new string('0', 64)}";
        })) + "\n";

    [GeneratedRegex("^Package: (\\S+)$", RegexOptions.Multiline)]
    private static partial Regex PackageField();
}
