using System.Net;
using System.Text;
using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

/// <summary>The HTTP transport against a loopback HTTP server double standing in for a mirror.</summary>
public sealed class MirrorFetcherTests : IDisposable
{
    private readonly LoopbackHttpServerDouble _mirror = new(Respond, "/debian/");

    [Fact]
    public async Task Reads_a_file_over_http()
    {
        using var fetcher = new MirrorFetcher();

        await using var stream = await fetcher.OpenAsync(new Uri(_mirror.Url + "dists/trixie/InRelease"), default);

        Assert.Equal("signed release", await new StreamReader(stream!).ReadToEndAsync());
    }

    [Fact]
    public async Task Reports_a_missing_file_as_null()
    {
        using var fetcher = new MirrorFetcher();

        Assert.Null(await fetcher.OpenAsync(new Uri(_mirror.Url + "dists/forky/InRelease"), default));
    }

    [Fact]
    public async Task Turns_a_refusal_into_an_error_naming_url_and_status()
    {
        using var fetcher = new MirrorFetcher();

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => fetcher.OpenAsync(new Uri(_mirror.Url + "forbidden"), default));

        Assert.Contains($"{_mirror.Url}forbidden: the mirror answered 403", e.Message);
        Assert.Contains("--mirror", e.Hint);
    }

    [Fact]
    public async Task Reads_local_files_through_file_urls()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "local");
            using var fetcher = new MirrorFetcher();

            await using var stream = await fetcher.OpenAsync(new Uri(file), default);

            Assert.Equal("local", await new StreamReader(stream!).ReadToEndAsync());
            Assert.Null(await fetcher.OpenAsync(new Uri(file + ".missing"), default));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_body_that_stops_arriving_fails_with_an_IOException_naming_the_url()
    {
        // Headers and a few bytes, then silence with the connection open: HttpClient's Timeout only
        // covers the headers, so without the idle bound this read waited forever.
        using var stalling = LoopbackHttpServerDouble.Streaming(async (context, stop) =>
        {
            context.Response.ContentLength64 = 1000;
            await context.Response.OutputStream.WriteAsync("partial"u8.ToArray(), stop);
            await context.Response.OutputStream.FlushAsync(stop);
            await Task.Delay(Timeout.Infinite, stop);
        }, "/debian/");
        using var fetcher = new MirrorFetcher { IdleTimeout = TimeSpan.FromSeconds(0.5) };
        var url = new Uri(stalling.Url + "pool/main/h/hello/hello_1.0_amd64.deb");
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await using var stream = await fetcher.OpenAsync(url, default);
        var e = await Assert.ThrowsAsync<TransferBrokenException>(() => new StreamReader(stream!).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Equal($"no data from {url} for 0.5 s", e.Message);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.4), TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task A_slow_body_that_keeps_arriving_is_not_cut_off()
    {
        // The bound is on silence, not on the whole transfer: a large .deb over a slow link is fine.
        // A byte every 0.1 s for 2.5 s against an idle timeout of 2 s: gaps far below the timeout
        // (loopback delivery on a busy machine has hiccups of over half a second), the total above it.
        using var trickling = LoopbackHttpServerDouble.Streaming(async (context, stop) =>
        {
            context.Response.ContentLength64 = 25;
            for (var i = 0; i < 25; i++)
            {
                await context.Response.OutputStream.WriteAsync("x"u8.ToArray(), stop);
                await context.Response.OutputStream.FlushAsync(stop);
                await Task.Delay(100, stop);
            }
            context.Response.Close();
        });
        using var fetcher = new MirrorFetcher { IdleTimeout = TimeSpan.FromSeconds(2) };

        await using var stream = await fetcher.OpenAsync(new Uri(trickling.Url + "slow"), default);

        Assert.Equal(new string('x', 25), await new StreamReader(stream!).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20)));
    }

    public void Dispose() => _mirror.Dispose();

    private static byte[] Respond(HttpListenerRequest request, HttpListenerResponse response)
    {
        var (status, body) = request.Url!.AbsolutePath switch
        {
            "/debian/dists/trixie/InRelease" => (200, "signed release"),
            "/debian/forbidden" => (403, "no"),
            _ => (404, "not here"),
        };
        response.StatusCode = status;
        return Encoding.ASCII.GetBytes(body);
    }
}
