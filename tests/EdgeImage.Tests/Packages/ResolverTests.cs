using EdgeImage.Packages;
using EdgeImage.Testing.Packages;

namespace EdgeImage.Tests.Packages;

public class ResolverTests
{
    /// <summary>Builds an index from short paragraphs; Architecture defaults to arm64, the file fields are filled in.</summary>
    private static List<PackageRecord> Index(string text) =>
    [
        .. ControlParagraph.ParseAll(new StringReader(SmallIndexes.WithFileFields(text, "arm64")))
            .Select(p => PackageRecord.FromParagraph(p, "test index")),
    ];

    /// <summary>SmallIndexes.TwoAlternatives (a, x and y) with a's Depends written as given.</summary>
    private static string ADepends(string alternatives) =>
        SmallIndexes.TwoAlternatives.Replace("Depends: x | y", $"Depends: {alternatives}", StringComparison.Ordinal);

    private static string[] Resolve(string index, params string[] packages) =>
        [.. new Resolver(Index(index), "arm64").Resolve(packages).Select(r => $"{r.Name}={r.Version}")];

    [Fact]
    public void Resolver_picks_highest_version_that_satisfies_all_constraints()
    {
        Assert.Equal(["a=1", "b=2"], Resolve(SmallIndexes.HighestVersion, "a"));
    }

    [Fact]
    public void The_first_installable_alternative_is_chosen()
    {
        Assert.Equal(["a=1", "x=1"], Resolve(ADepends("missing | x | y"), "a"));
    }

    [Fact]
    public void An_alternative_that_is_requested_too_is_taken_whatever_the_order()
    {
        const string index = SmallIndexes.TwoAlternatives;
        Assert.Equal(["a=1", "y=1"], Resolve(index, "y", "a"));
        // apt marks every requested package before it follows any dependency.
        Assert.Equal(["a=1", "y=1"], Resolve(index, "a", "y"));
        Assert.Equal(["a=1", "x=1"], Resolve(index, "a"));
    }

    [Fact]
    public void A_version_constraint_skips_to_the_next_alternative()
    {
        Assert.Equal(["a=1", "y=1"], Resolve(ADepends("x (>= 2) | y"), "a"));
    }

    [Fact]
    public void A_virtual_package_prefers_the_real_package_of_that_name_then_higher_priority()
    {
        const string index = """
            Package: a
            Version: 1
            Depends: v, w

            Package: p-optional
            Version: 1
            Priority: optional
            Provides: v, w

            Package: p-required
            Version: 1
            Priority: required
            Provides: v

            Package: w
            Version: 1
            Priority: extra
            """;
        Assert.Equal(["a=1", "p-required=1", "w=1"], Resolve(index, "a"));
    }

    [Fact]
    public void Equal_providers_are_decided_like_apt_by_the_package_apt_created_last()
    {
        // apt creates "v" (a's dependency) before p1 and p2; of two equally good providers it takes the higher ID.
        Assert.Equal(["a=1", "p2=1"], Resolve(SmallIndexes.EqualProviders, "a"));
    }

    [Fact]
    public void Versioned_dependencies_on_virtual_packages_need_a_versioned_provide()
    {
        Assert.Equal(["a=1", "new=1"], Resolve(SmallIndexes.VersionedProvides, "a"));
    }

    [Fact]
    public void A_conflict_with_a_requested_package_forces_the_second_alternative()
    {
        Assert.Equal(["a=1", "c=1", "y=1"], Resolve(SmallIndexes.FirstAlternativeConflicts, "c", "a"));
    }

    [Fact]
    public void Breaks_with_a_matching_version_forces_the_second_alternative()
    {
        const string index = SmallIndexes.FirstAlternativeBreaks;
        Assert.Equal(["a=1", "c=1.5", "y=1"], Resolve(index, "c", "a"));
        Assert.Equal(["a=1", "c=1.5", "x=1"], Resolve(index.Replace("(<< 2)", "(<< 1)", StringComparison.Ordinal), "c", "a"));
    }

    [Fact]
    public void Packages_marked_for_a_failed_alternative_are_dropped_like_apts_autoremover_does()
    {
        // x pulls in z, then fails on q (which needs a missing package); apt leaves z marked and its
        // auto-remover drops it again.
        Assert.Equal(["a=1", "y=1"], Resolve(SmallIndexes.FailedAlternativeLeavesGarbage, "a"));
    }

    [Fact]
    public void Any_qualified_dependencies_need_multi_arch_allowed_and_arch_all_packages_count_as_native()
    {
        // data 5 is higher but amd64 only: an arm64 resolver must stay with the arch: all data 1.
        const string index = SmallIndexes.AnyQualifiedDependencies + "\n\nPackage: data\nVersion: 5\nArchitecture: amd64\n";
        Assert.Equal(["a=1", "data=1", "python3=3.13", "tool-compat=1"], Resolve(index, "a"));
    }

    [Fact]
    public void A_requested_virtual_package_with_one_provider_selects_the_provider()
    {
        Assert.Equal(["mawk=1"], Resolve(SmallIndexes.OneAwkProvider, "awk"));
    }

    [Fact]
    public void Including_required_adds_essential_and_required_packages()
    {
        const string index = """
            Package: a
            Version: 1

            Package: base-files
            Version: 13
            Essential: yes

            Package: mawk
            Version: 1
            Priority: required

            Package: extra
            Version: 1
            Priority: optional
            """;
        var resolver = new Resolver(Index(index), "arm64");
        Assert.Equal(["base-files", "mawk"], resolver.RequiredPackages());
        Assert.Equal(["a", "base-files", "mawk"], resolver.Resolve(["a"], new ResolveOptions { IncludeRequired = true }).Select(r => r.Name));
    }

    [Fact]
    public void A_missing_package_is_reported_with_suite_component_architecture_and_a_hint()
    {
        var resolver = new Resolver(Index("Package: a\nVersion: 1\n"), "arm64", "trixie/main");
        var e = Assert.Throws<EdgeImageException>(() => resolver.Resolve(["a", "nope"], new ResolveOptions { PackageListSource = "profiles/rpi4-aarch64.yaml" }));
        Assert.Equal("package nope not found in trixie/main for arm64", e.Message);
        Assert.Contains("packages: in profiles/rpi4-aarch64.yaml", e.Hint);
        Assert.Contains("components", e.Hint);
        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
    }

    [Fact]
    public void An_unsatisfiable_version_names_the_chain_and_what_is_available()
    {
        var e = Assert.Throws<EdgeImageException>(() => Resolve(SmallIndexes.UnsatisfiableVersion, "a"));
        Assert.Equal("cannot resolve the packages for arm64 from trixie/main: a -> c -> b (>= 2) but only 1 is available", e.Message);
        Assert.Contains("packages:", e.Hint);
    }

    [Fact]
    public void A_dependency_on_a_package_that_does_not_exist_says_so()
    {
        var e = Assert.Throws<EdgeImageException>(() => Resolve("Package: a\nVersion: 1\nDepends: ghost (>= 1)\n", "a"));
        Assert.Contains("a -> ghost (>= 1), which is not in trixie/main for arm64", e.Message);
    }

    [Fact]
    public void Two_requested_packages_that_conflict_are_reported()
    {
        var e = Assert.Throws<EdgeImageException>(() => Resolve(SmallIndexes.Conflicting, "a", "b"));
        Assert.Contains("a conflicts with b", e.Message);
    }
}
