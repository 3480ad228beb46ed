using System.Diagnostics;
using EdgeImage.Packages;

namespace EdgeImage.IntegrationTests.Packages;

public sealed class DebianVersionAgreesWithDpkgTests
{
    private static readonly string[] Tricky =
    [
        "0", "1", "1.0", "1.0-0", "1.0-1", "1.0-1+b1", "1.0-1~bpo12+1", "1.0~rc1", "1.0~rc1-1", "1.0~~", "1.0a", "1.0+",
        "1.0+dfsg", "1.0.", "1.00", "1.0.0", "1.10", "1.9", "1:0.1", "2:0", "10:0", "2.0", "1.0-a", "1.0-1.1", "1.0-10",
        "2.36-9+deb12u1", "252.30-1~deb12u2", "6.12.38-1", "6.12.9-1", "1:1.0:1-2", "1.0a~", "1.0-0.1", "3.0~beta+git20240101",
    ];

    [Fact]
    public void Every_pair_of_tricky_and_archive_versions_orders_as_dpkg_compare_versions_says()
    {
        var apt = AptSimulation.ForSuite("amd64");
        var archive = apt.ReadIndex().Select(r => r.Version).Distinct().Where((_, i) => i % 2000 == 0).Take(15);
        var versions = Tricky.Concat(archive).Distinct().ToArray();
        var pairs = (from a in versions from b in versions where string.CompareOrdinal(a, b) < 0 select (a, b)).ToList();

        var dpkg = DpkgLessThan(pairs);
        var disagreements = pairs.Zip(dpkg)
            .Where(x => (DebianVersion.Compare(x.First.a, x.First.b) < 0) != x.Second)
            .Select(x => $"{x.First.a} vs {x.First.b}: dpkg says lt={x.Second}")
            .ToList();

        Assert.True(pairs.Count > 900, $"only {pairs.Count} pairs");
        Assert.Empty(disagreements);
    }

    /// <summary>One shell runs dpkg --compare-versions for every pair; a process per pair from .NET would be slow.</summary>
    private static List<bool> DpkgLessThan(List<(string A, string B)> pairs)
    {
        var start = new ProcessStartInfo("sh", ["-c", "while read a b; do if dpkg --compare-versions \"$a\" lt \"$b\"; then echo 1; else echo 0; fi; done"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        foreach (var (a, b) in pairs)
        {
            process.StandardInput.WriteLine($"{a} {b}");
        }
        process.StandardInput.Close();
        process.WaitForExit();
        return [.. output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l == "1")];
    }
}
