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
}
