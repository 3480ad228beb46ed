using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using EdgeImage.Packages;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Packages;

/// <summary>
/// Against the real Debian mirror (EDGEIMAGE_MIRROR or the host's apt sources) with the host's
/// archive keyring. The cache is shared between runs; it re-verifies every entry it hands out.
/// </summary>
public class DebianMirrorTests(ITestOutputHelper output)
{
    private static readonly string SharedCache = Path.Combine(Path.GetTempPath(), "edgeimage-integration-cache");

    [Theory]
    [InlineData("amd64", "linux-image-amd64")]
    [InlineData("arm64", "linux-image-arm64")]
    [InlineData("armhf", "linux-image-armmp")]
    public async Task Trixie_main_opens_verified_and_serves_a_verified_busybox(string arch, string kernel)
    {
        using var fetcher = new MirrorFetcher();
        var repository = new DebianRepository(fetcher);
        var ctx = Context(SharedCache);

        var index = await repository.OpenAsync(Request(arch), ctx);

        Assert.True(index.Count > 50000, $"only {index.Count} packages");
        Assert.All(index.Packages, p => Assert.True(p.Architecture == arch || p.Architecture == "all", p.ToString()));
        foreach (var name in new[] { "systemd", "busybox", kernel })
        {
            Assert.True(index.Contains(name), $"{name} missing from trixie/{arch}");
        }

        var busybox = index["busybox"].First();
        var paths = await repository.DownloadAsync(index, [busybox], ctx);
        var deb = paths[busybox];
        Assert.StartsWith(SharedCache, deb);
        Assert.Equal(busybox.Size, new FileInfo(deb).Length);
        Assert.Equal(busybox.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(deb))));
        Assert.Equal("!<arch>\n", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(deb), 0, 8));
    }

    [Fact]
    public async Task Amd64_index_cold_then_warm_fetches_only_the_InRelease_the_second_time()
    {
        var cache = Directory.CreateTempSubdirectory("edgeimage-cold-").FullName;
        try
        {
            using var http = new MirrorFetcher();
            var counting = new CountingFetcher(http);
            var repository = new DebianRepository(counting);
            var ctx = Context(cache);

            var cold = Stopwatch.StartNew();
            var first = await repository.OpenAsync(Request("amd64"), ctx);
            cold.Stop();
            var coldRequests = counting.Urls.Count;
            counting.Urls.Clear();

            var warm = Stopwatch.StartNew();
            var second = await repository.OpenAsync(Request("amd64"), ctx);
            warm.Stop();

            output.WriteLine($"trixie/main/amd64: {first.Count} packages; cold {cold.Elapsed.TotalSeconds:0.00}s ({coldRequests} requests), " +
                             $"warm {warm.Elapsed.TotalSeconds:0.00}s ({counting.Urls.Count} requests)");
            Assert.Equal(first.Count, second.Count);
            Assert.Equal(["dists/trixie/InRelease"], counting.Urls.Select(u => u.AbsolutePath[(u.AbsolutePath.IndexOf("dists/", StringComparison.Ordinal))..]));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    private static DebianSuiteRequest Request(string arch) => new()
    {
        Mirror = new MirrorDiscovery().Find(null, null).Url,
        Suite = "trixie",
        Architecture = arch,
    };

    private BuildContext Context(string cache) => new()
    {
        CacheDir = cache,
        WorkDir = Path.GetTempPath(),
        SourceDateEpoch = 0,
        VerificationTime = DateTimeOffset.UtcNow,
        Log = new PlainBuildLog(new OutputWriter(output)),
    };

    /// <summary>Passes requests through to the real mirror and records them.</summary>
    private sealed class CountingFetcher(IMirrorFetcher inner) : IMirrorFetcher
    {
        public ConcurrentQueue<Uri> Urls { get; } = new();

        public Task<Stream?> OpenAsync(Uri url, CancellationToken cancellation)
        {
            Urls.Enqueue(url);
            return inner.OpenAsync(url, cancellation);
        }
    }

    private sealed class OutputWriter(ITestOutputHelper output) : StringWriter
    {
        public override void WriteLine(string? value) => output.WriteLine(value ?? "");
    }
}
