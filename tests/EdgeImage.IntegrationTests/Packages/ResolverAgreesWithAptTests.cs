using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeImage.Packages;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Packages;

/// <summary>One apt state and one resolver per architecture, shared by the tests of the class.</summary>
public sealed class AptIndexes
{
    private readonly ConcurrentDictionary<string, Lazy<(AptSimulation Apt, Resolver Resolver)>> _byArch = new();

    internal (AptSimulation Apt, Resolver Resolver) For(string arch) =>
        _byArch.GetOrAdd(arch, a => new Lazy<(AptSimulation, Resolver)>(() =>
        {
            var apt = AptSimulation.ForSuite(a);
            return (apt, new Resolver(apt.ReadIndex(), a, "trixie/main"));
        })).Value;
}

public sealed class ResolverAgreesWithAptTests(AptIndexes indexes, ITestOutputHelper output) : IClassFixture<AptIndexes>
{
    private static readonly Dictionary<string, string> KernelFlavour = new()
    {
        ["amd64"] = "amd64",
        ["arm64"] = "arm64",
        ["armhf"] = "armmp",
    };

    private static string[] Minimal(string arch) =>
        ["systemd", "systemd-sysv", "udev", "kmod", "busybox", $"linux-image-{KernelFlavour[arch]}"];

    private static string[] List(string arch, string list) => list switch
    {
        "minimal" => Minimal(arch),
        "openssh" => [.. Minimal(arch), "openssh-server"],
        "rauc" => [.. Minimal(arch), "rauc"],
        _ => throw new ArgumentOutOfRangeException(nameof(list)),
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var arch in new[] { "amd64", "arm64", "armhf" })
        {
            foreach (var list in new[] { "minimal", "openssh", "rauc" })
            {
                data.Add(arch, list);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Resolver_selects_exactly_what_apt_get_selects(string arch, string list)
    {
        var (apt, resolver) = indexes.For(arch);
        var packages = List(arch, list);

        var expected = apt.SimulateInstall(packages);
        var watch = Stopwatch.StartNew();
        var actual = resolver.Resolve(packages).Select(r => (r.Name, r.Version)).ToList();
        output.WriteLine($"{arch}/{list}: apt {expected.Count} packages, resolver {actual.Count} packages, resolved in {watch.ElapsedMilliseconds} ms");

        AssertSameSelection(expected, actual);
    }

    [Theory]
    [InlineData("amd64")]
    [InlineData("armhf")]
    public void Including_required_adds_the_essential_and_required_set_like_naming_it_to_apt(string arch)
    {
        var (apt, resolver) = indexes.For(arch);
        var packages = Minimal(arch);
        var required = resolver.RequiredPackages();
        Assert.Contains("base-files", required);
        Assert.Contains("dpkg", required);

        var expected = apt.SimulateInstall([.. packages, .. required]);
        var actual = resolver.Resolve(packages, new ResolveOptions { IncludeRequired = true }).Select(r => (r.Name, r.Version)).ToList();
        output.WriteLine($"{arch}: {required.Count} required names, apt {expected.Count} packages, resolver {actual.Count}");

        AssertSameSelection(expected, actual);
        Assert.True(actual.Count > resolver.Resolve(packages).Count);
    }

    [Fact]
    public void Resolving_the_minimal_list_on_amd64_is_fast()
    {
        var (_, resolver) = indexes.For("amd64");
        resolver.Resolve(Minimal("amd64"));
        var watch = Stopwatch.StartNew();
        var result = resolver.Resolve(Minimal("amd64"));
        watch.Stop();
        output.WriteLine($"amd64 minimal: {result.Count} packages in {watch.Elapsed.TotalMilliseconds:F1} ms");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }

    [Fact]
    public void Index_load_and_first_resolution_time_is_reported()
    {
        var apt = AptSimulation.ForSuite("arm64");
        var watch = Stopwatch.StartNew();
        var index = apt.ReadIndex();
        var read = watch.Elapsed;
        var resolver = new Resolver(index, "arm64");
        var built = watch.Elapsed;
        var result = resolver.Resolve(Minimal("arm64"));
        output.WriteLine($"arm64: {index.Count} records read in {read.TotalMilliseconds:F0} ms, universe in {(built - read).TotalMilliseconds:F0} ms, first resolve in {(watch.Elapsed - built).TotalMilliseconds:F0} ms");
        Assert.Contains(result, r => r.Name == "systemd");
    }

    private void AssertSameSelection(IReadOnlyList<(string Name, string Version)> expected, IReadOnlyList<(string Name, string Version)> actual)
    {
        var onlyApt = expected.Except(actual).ToList();
        var onlyResolver = actual.Except(expected).ToList();
        if (onlyApt.Count > 0 || onlyResolver.Count > 0)
        {
            Assert.Fail($"selection differs from apt-get:\n  only apt:      {string.Join(", ", onlyApt.Select(p => $"{p.Name}={p.Version}"))}\n  only resolver: {string.Join(", ", onlyResolver.Select(p => $"{p.Name}={p.Version}"))}");
        }
        Assert.NotEmpty(expected);
    }
}
