using EdgeImage.Packages;
using EdgeImage.Testing.Packages;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Packages;

/// <summary>
/// Small hand-written indexes, each aimed at one rule of apt's marking (provider preference, apt's
/// package-ID tie-break, conflicts, garbage from failed alternatives, ...), served to the host's
/// apt-get as a local flat repository: the resolver must pick what apt picks, and fail where apt fails.
/// Most come from SmallIndexes, whose unit tests (ResolverTests) pin down the exact choice.
/// </summary>
public sealed class ResolverAgreesWithAptOnSmallIndexesTests(ITestOutputHelper output) : IDisposable
{
    private const string Arch = "arm64";

    private readonly string _root = Directory.CreateTempSubdirectory("edgeimage-apt-local-").FullName;

    private static readonly Dictionary<string, (string Index, string[] Request)> Scenarios = new()
    {
        ["highest-version"] = (SmallIndexes.HighestVersion, ["a"]),
        ["first-installable-alternative"] = ("""
            Package: a
            Version: 1
            Depends: missing | x (>= 2) | y | z

            Package: x
            Version: 1

            Package: y
            Version: 1

            Package: z
            Version: 1
            """, ["a"]),
        ["requested-alternative-any-order"] = (SmallIndexes.TwoAlternatives, ["a", "y"]),
        ["provider-preference"] = ("""
            Package: a
            Version: 1
            Depends: v, w, e

            Package: p-optional
            Version: 1
            Priority: optional
            Provides: v, w, e

            Package: p-required
            Version: 1
            Priority: required
            Provides: v

            Package: w
            Version: 1
            Priority: extra

            Package: p-essential
            Version: 1
            Priority: optional
            Essential: yes
            Provides: e
            """, ["a"]),
        ["id-tie-break-file-order"] = (SmallIndexes.EqualProviders, ["a"]),
        // The Suggests makes apt create p2 before p1, which turns the tie-break around.
        ["id-tie-break-created-by-a-relation"] = (SmallIndexes.EqualProviders.Replace("Depends: v\n", "Depends: v\nSuggests: p2\n", StringComparison.Ordinal), ["a"]),
        ["versioned-provides"] = (SmallIndexes.VersionedProvides, ["a"]),
        ["conflict-forces-second-alternative"] = (SmallIndexes.FirstAlternativeConflicts, ["c", "a"]),
        ["breaks-forces-second-alternative"] = (SmallIndexes.FirstAlternativeBreaks, ["c", "a"]),
        ["failed-alternative-leaves-garbage"] = (SmallIndexes.FailedAlternativeLeavesGarbage, ["a"]),
        ["pre-depends-first"] = ("""
            Package: a
            Version: 1
            Pre-Depends: x | y
            Depends: y

            Package: x
            Version: 1

            Package: y
            Version: 1
            """, ["a"]),
        ["multi-arch-any"] = (SmallIndexes.AnyQualifiedDependencies, ["a"]),
        ["dependency-cycle"] = ("""
            Package: a
            Version: 1
            Depends: b

            Package: b
            Version: 1
            Depends: a, c

            Package: c
            Version: 1
            Depends: b
            """, ["a"]),
        ["requested-virtual-with-one-provider"] = (SmallIndexes.OneAwkProvider, ["awk"]),
        ["protected-dependency-conflict-fails"] = ("""
            Package: a
            Version: 1
            Depends: x, y

            Package: x
            Version: 1

            Package: y
            Version: 1
            Conflicts: x
            """, ["a"]),
        ["unsatisfiable-version-fails"] = (SmallIndexes.UnsatisfiableVersion, ["a"]),
        ["requested-conflict-fails"] = (SmallIndexes.Conflicting, ["a", "b"]),
    };

    public static TheoryData<string> Names() => [.. Scenarios.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public void Resolver_matches_apt_get_on_a_small_index(string scenario)
    {
        var (index, request) = Scenarios[scenario];
        var apt = AptSimulation.ForLocalIndex(SmallIndexes.WithFileFields(index, Arch), Arch, _root);
        var resolver = new Resolver(apt.ReadIndex(), Arch);

        var expected = apt.TrySimulateInstall(request, out var aptOutput);
        output.WriteLine(aptOutput);
        if (expected is null)
        {
            var e = Assert.Throws<EdgeImageException>(() => resolver.Resolve(request));
            output.WriteLine($"resolver: {e.Message}");
            return;
        }
        var actual = resolver.Resolve(request).Select(r => (r.Name, r.Version)).ToList();
        Assert.Equal(expected, actual);
    }

    /// <summary>
    /// Known gap: when a conflict un-marks an alternative apt had already chosen, apt-get repairs the
    /// result with its scoring problem resolver (pkgProblemResolver), which EdgeImage does not replay;
    /// the resolver reports the conflict instead. This test pins that behaviour down on both sides.
    /// </summary>
    [Fact]
    public void Where_apt_needs_its_problem_resolver_the_resolver_reports_the_conflict_instead()
    {
        const string index = """
            Package: a
            Version: 1
            Depends: m

            Package: m
            Version: 1
            Depends: x | x2, y

            Package: x
            Version: 1

            Package: x2
            Version: 1

            Package: y
            Version: 1
            Conflicts: x
            """;
        var apt = AptSimulation.ForLocalIndex(SmallIndexes.WithFileFields(index, Arch), Arch, _root);
        var resolver = new Resolver(apt.ReadIndex(), Arch);

        Assert.Equal([("a", "1"), ("m", "1"), ("x2", "1"), ("y", "1")], apt.SimulateInstall(["a"]));
        var e = Assert.Throws<EdgeImageException>(() => resolver.Resolve(["a"]));
        Assert.Contains("a -> m -> none of Depends: x | x2", e.Message);
        Assert.Contains("y 1 (needed too) conflicts with x", e.Message);
        // The way out the README gives: naming the alternative in the request resolves like apt.
        Assert.Equal(apt.SimulateInstall(["a", "x2"]), resolver.Resolve(["a", "x2"]).Select(r => (r.Name, r.Version)).ToList());
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
