using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

/// <summary>
/// A mirror served over loopback HTTP that sends the headers and a few bytes of a file and then
/// goes silent with the connection open. The build must give up on that transfer after the idle
/// timeout and take its usual way out (retry, by-hash, another compression), never wait forever.
/// </summary>
public sealed class StalledMirrorTests : IClassFixture<SigningKeys>, IDisposable
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);

    /// <summary>Far below "forever" and far above the few idle timeouts a test goes through.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly SigningKeys _keys;
    private readonly LocalDebianRepo _repo;
    private readonly LoopbackHttpServerDouble _server;
    private readonly MirrorFetcher _fetcher = new() { IdleTimeout = Idle };
    private readonly string _cache = Directory.CreateTempSubdirectory("eig-cache-").FullName;
    private readonly RecordingBuildLog _log = new();

    /// <summary>Requests whose path ends so stall, this many times each.</summary>
    private string _stallSuffix = "/none";
    private int _stallTimes;
    private int _seen;
    private int _stalled;

    public StalledMirrorTests(SigningKeys keys)
    {
        _keys = keys;
        _repo = LocalDebianRepo.Create(keys.Gpg, DebianRepositoryTests.Packages, null, keys.Archive);
        _server = LoopbackHttpServerDouble.Streaming(ServeRepo, "/debian/");
    }

    [Theory]
    [InlineData("/dists/trixie/InRelease")]
    [InlineData("/binary-amd64/Packages.xz")]
    public async Task A_release_or_index_transfer_that_stalls_is_retried_after_the_idle_timeout(string suffix)
    {
        (_stallSuffix, _stallTimes) = (suffix, 1);

        var index = await new DebianRepository(_fetcher).OpenAsync(Request(), Context()).WaitAsync(Bound);

        Assert.Equal(3, index.Count);
        Assert.Equal(1, _stalled);
        var warning = Assert.Single(_log.Warnings);
        Assert.Contains($"no data from {_server.Url}", warning);
        Assert.Contains($"{suffix} for 1 s", warning);
    }

    [Fact]
    public async Task A_deb_transfer_that_stalls_is_retried_after_the_idle_timeout()
    {
        var repository = new DebianRepository(_fetcher);
        var index = await repository.OpenAsync(Request(), Context());
        (_stallSuffix, _stallTimes) = ("/hello_2.10-3_amd64.deb", 1);

        var paths = await repository.DownloadAsync(index, index.Packages, Context()).WaitAsync(Bound);

        Assert.Equal(3, paths.Count);
        Assert.Equal(1, _stalled);
        Assert.Contains("retrying", Assert.Single(_log.Warnings));
    }

    [Fact]
    public async Task A_deb_that_stalls_every_time_fails_naming_the_url_and_the_silence()
    {
        var repository = new DebianRepository(_fetcher);
        var index = await repository.OpenAsync(Request(), Context());
        (_stallSuffix, _stallTimes) = ("/hello_2.10-3_amd64.deb", int.MaxValue);

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => repository.DownloadAsync(index, index.Packages, Context()).WaitAsync(Bound));

        var url = $"{_server.Url}pool/main/h/hello/hello_2.10-3_amd64.deb";
        Assert.Contains($"transfer from {url} failed 3 times: no data from {url} for 1 s", e.Message);
        Assert.Equal(3, _stalled);
    }

    public void Dispose()
    {
        _server.Dispose();
        _fetcher.Dispose();
        _repo.Dispose();
        Directory.Delete(_cache, recursive: true);
    }

    private async Task ServeRepo(System.Net.HttpListenerContext context, CancellationToken stop)
    {
        var path = context.Request.Url!.AbsolutePath;
        var file = _repo.PathOf(Uri.UnescapeDataString(path["/debian/".Length..]));
        if (!File.Exists(file))
        {
            context.Response.StatusCode = 404;
            context.Response.Close();
            return;
        }
        var bytes = await File.ReadAllBytesAsync(file, stop);
        context.Response.ContentLength64 = bytes.Length;
        if (path.EndsWith(_stallSuffix, StringComparison.Ordinal) && Interlocked.Increment(ref _seen) <= _stallTimes)
        {
            Interlocked.Increment(ref _stalled);
            await context.Response.OutputStream.WriteAsync(bytes.AsMemory(0, Math.Min(16, bytes.Length - 1)), stop);
            await context.Response.OutputStream.FlushAsync(stop);
            await Task.Delay(Timeout.Infinite, stop);
        }
        await context.Response.OutputStream.WriteAsync(bytes, stop);
        context.Response.Close();
    }

    private DebianSuiteRequest Request() => new()
    {
        Mirror = _server.Url,
        Suite = "trixie",
        Architecture = "amd64",
        KeyringPath = _keys.Keyring,
    };

    private BuildContext Context() => new()
    {
        CacheDir = _cache,
        WorkDir = _cache,
        SourceDateEpoch = 0,
        VerificationTime = DateTimeOffset.UtcNow,
        Log = _log,
    };
}
