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
