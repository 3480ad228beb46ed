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
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(2);

    /// <summary>Far below "forever" and far above the few idle timeouts a test goes through.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly SigningKeys _keys;
    private readonly LocalDebianRepo _repo;
    private readonly HttpMirrorDouble _mirror;
    private readonly MirrorFetcher _fetcher = new() { IdleTimeout = Idle };
    private readonly string _cache = Directory.CreateTempSubdirectory("eig-cache-").FullName;
    private readonly RecordingBuildLog _log = new();

    public StalledMirrorTests(SigningKeys keys)
    {
        _keys = keys;
        _repo = LocalDebianRepo.Create(keys.Gpg, DebianRepositoryTests.Packages, null, keys.Archive);
        _mirror = new HttpMirrorDouble(_repo);
    }

    [Theory]
    [InlineData("/dists/trixie/InRelease")]
    [InlineData("/binary-amd64/Packages.xz")]
    public async Task A_release_or_index_transfer_that_stalls_is_retried_after_the_idle_timeout(string suffix)
    {
        (_mirror.StallSuffix, _mirror.StallTimes) = (suffix, 1);

        var index = await new DebianRepository(_fetcher).OpenAsync(Request(), Context()).WaitAsync(Bound);

        Assert.Equal(3, index.Count);
        Assert.Equal(1, _mirror.Stalled);
        var warning = Assert.Single(_log.Warnings);
        Assert.Contains($"no data from {_mirror.Url}", warning);
        Assert.Contains($"{suffix} for 2 s", warning);
    }

    [Fact]
    public async Task A_deb_transfer_that_stalls_is_retried_after_the_idle_timeout()
    {
        var repository = new DebianRepository(_fetcher);
        var index = await repository.OpenAsync(Request(), Context());
        (_mirror.StallSuffix, _mirror.StallTimes) = ("/hello_2.10-3_amd64.deb", 1);

        var paths = await repository.DownloadAsync(index, index.Packages, Context()).WaitAsync(Bound);

        Assert.Equal(3, paths.Count);
        Assert.Equal(1, _mirror.Stalled);
        Assert.Contains("retrying", Assert.Single(_log.Warnings));
    }

    [Fact]
    public async Task A_deb_that_stalls_every_time_fails_naming_the_url_and_the_silence()
    {
        var repository = new DebianRepository(_fetcher);
        var index = await repository.OpenAsync(Request(), Context());
        (_mirror.StallSuffix, _mirror.StallTimes) = ("/hello_2.10-3_amd64.deb", int.MaxValue);

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => repository.DownloadAsync(index, index.Packages, Context()).WaitAsync(Bound));

        var url = $"{_mirror.Url}pool/main/h/hello/hello_2.10-3_amd64.deb";
        Assert.Contains($"transfer from {url} failed 3 times: no data from {url} for 2 s", e.Message);
        Assert.Equal(3, _mirror.Stalled);
    }

    public void Dispose()
    {
        _mirror.Dispose();
        _fetcher.Dispose();
        _repo.Dispose();
        Directory.Delete(_cache, recursive: true);
    }

    private DebianSuiteRequest Request() => MirrorTestSetup.Request(_mirror.Url, _keys.Keyring);

    private BuildContext Context() => MirrorTestSetup.Context(_cache, _log);
}
