using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeImage.Packages;

namespace EdgeImage.Tests.Packages;

/// <summary>The HTTP transport against a loopback HttpListener standing in for a mirror.</summary>
public sealed class MirrorFetcherTests : IDisposable
{
    private readonly HttpListener _server = new();
    private readonly string _base;
    private readonly Task _serving;

    public MirrorFetcherTests()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _base = $"http://127.0.0.1:{port}/debian/";
        _server.Prefixes.Add(_base);
        _server.Start();
        _serving = Task.Run(Serve);
    }

    [Fact]
    public async Task Reads_a_file_over_http()
    {
        using var fetcher = new MirrorFetcher();

        await using var stream = await fetcher.OpenAsync(new Uri(_base + "dists/trixie/InRelease"), default);

        Assert.Equal("signed release", await new StreamReader(stream!).ReadToEndAsync());
    }

    [Fact]
    public async Task Reports_a_missing_file_as_null()
    {
        using var fetcher = new MirrorFetcher();

        Assert.Null(await fetcher.OpenAsync(new Uri(_base + "dists/forky/InRelease"), default));
    }

    [Fact]
    public async Task Turns_a_refusal_into_an_error_naming_url_and_status()
    {
        using var fetcher = new MirrorFetcher();

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => fetcher.OpenAsync(new Uri(_base + "forbidden"), default));

        Assert.Contains($"{_base}forbidden: the mirror answered 403", e.Message);
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

    public void Dispose()
    {
        // Close alone: after Stop, the managed HttpListener's Close binds the port once more to
        // unregister it, which fails when another process has taken the port in the meantime.
        _server.Close();
        try
        {
            _serving.Wait();
        }
        catch (AggregateException)
        {
            // The listener throws from GetContextAsync once it is stopped; that ends the loop.
        }
    }

    private async Task Serve()
    {
        while (_server.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _server.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            var path = context.Request.Url!.AbsolutePath;
            var (status, body) = path switch
            {
                "/debian/dists/trixie/InRelease" => (200, "signed release"),
                "/debian/forbidden" => (403, "no"),
                _ => (404, "not here"),
            };
            context.Response.StatusCode = status;
            var bytes = Encoding.ASCII.GetBytes(body);
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }
}
