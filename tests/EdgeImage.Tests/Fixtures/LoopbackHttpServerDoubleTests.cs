using System.Diagnostics;
using System.Text;

namespace EdgeImage.Tests.Fixtures;

/// <summary>The HTTP server double many tests stand on must answer while it lives and never hang their teardown.</summary>
public sealed class LoopbackHttpServerDoubleTests
{
    [Fact]
    public async Task Disposing_at_any_moment_after_the_start_returns()
    {
        // A CI run hung in Dispose: the serving loop had begun GetContextAsync while the listener
        // closed, and on Linux that call never completes. Disposal at varied moments after start
        // must always return.
        var cycles = Task.Run(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                using var server = new LoopbackHttpServerDouble((_, _) => []);
                Thread.SpinWait(i % 7 * 200);
            }
        });

        await cycles.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Answers_with_the_handlers_body_until_disposed()
    {
        var server = new LoopbackHttpServerDouble((request, _) => Encoding.ASCII.GetBytes("seen " + request.Url!.AbsolutePath));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        Assert.Equal("seen /a/b", await http.GetStringAsync(server.Url + "a/b"));
        server.Dispose();

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(server.Url + "a/b"));
    }

    [Fact]
    public async Task A_stalled_streaming_response_holds_up_neither_other_requests_nor_Dispose()
    {
        var server = LoopbackHttpServerDouble.Streaming(async (context, stop) =>
        {
            if (context.Request.Url!.AbsolutePath == "/stall")
            {
                context.Response.ContentLength64 = 100;
                await context.Response.OutputStream.WriteAsync("abc"u8.ToArray(), stop);
                await context.Response.OutputStream.FlushAsync(stop);
                await Task.Delay(Timeout.Infinite, stop);
            }
            await context.Response.OutputStream.WriteAsync("done"u8.ToArray(), stop);
            context.Response.Close();
        });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        using var stalled = await http.GetAsync(server.Url + "stall", HttpCompletionOption.ResponseHeadersRead);
        var body = await stalled.Content.ReadAsStreamAsync();
        var first = new byte[3];
        await body.ReadExactlyAsync(first);
        Assert.Equal("abc", Encoding.ASCII.GetString(first));
        Assert.Equal("done", await http.GetStringAsync(server.Url + "other"));
        var clock = Stopwatch.StartNew();
        await Task.Run(server.Dispose).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        // The stalled client learns the response is over instead of waiting with it.
        await Assert.ThrowsAnyAsync<IOException>(() => body.ReadAsync(new byte[100]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
