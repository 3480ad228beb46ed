using System.Text;
using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

/// <summary>
/// A mirror URL with a login in it (http://user:pass@host/debian, from --mirror or sources.list):
/// requests carry the credentials, and nothing shown to the user (log, errors) carries the password.
/// </summary>
public sealed class MirrorCredentialsTests : IClassFixture<SigningKeys>, IDisposable
{
    /// <summary>Every form the password could leak in: as written (percent-encoded) and decoded.</summary>
    private const string PasswordPart = "s3cr";

    private readonly SigningKeys _keys;
    private readonly LocalDebianRepo _repo;
    private readonly HttpMirrorDouble _mirror;
    private readonly MirrorFetcher _fetcher = new() { IdleTimeout = TimeSpan.FromSeconds(2) };
    private readonly string _cache = Directory.CreateTempSubdirectory("eig-cache-").FullName;
    private readonly RecordingBuildLog _log = new();

    public MirrorCredentialsTests(SigningKeys keys)
    {
        _keys = keys;
        _repo = LocalDebianRepo.Create(keys.Gpg, DebianRepositoryTests.Packages, null, keys.Archive);
        _mirror = new HttpMirrorDouble(_repo)
        {
            RequiredAuthorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("edge:s3cr@t-pass")),
        };
    }

    /// <summary>http://edge:s3cr%40t-pass@127.0.0.1:PORT/debian/</summary>
    private string SecretUrl => _mirror.Url.Replace("http://", "http://edge:s3cr%40t-pass@", StringComparison.Ordinal);

    /// <summary>What the user should see instead.</summary>
    private string ShownUrl => _mirror.Url.Replace("http://", "http://edge:***@", StringComparison.Ordinal);

    [Fact]
    public async Task A_mirror_behind_a_login_is_read_with_the_credentials_of_its_url()
    {
        var repository = new DebianRepository(_fetcher);

        var index = await repository.OpenAsync(Request(SecretUrl), Context());
        var paths = await repository.DownloadAsync(index, index.Packages, Context());

        Assert.Equal(3, paths.Count);
        Assert.All(_mirror.Authorizations, a => Assert.Equal(_mirror.RequiredAuthorization, a));
        AssertNoPassword(_log.Infos.Concat(_log.Warnings).Concat(_log.VerboseLines));
        Assert.Contains(_log.VerboseLines, l => l.StartsWith($"{ShownUrl}dists/trixie/InRelease: good signature", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_refused_login_names_the_url_without_the_password()
    {
        var wrong = SecretUrl.Replace("s3cr%40t-pass", "s3cr-wrong", StringComparison.Ordinal);

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => new DebianRepository(_fetcher).OpenAsync(Request(wrong), Context()));

        Assert.Contains($"{ShownUrl}dists/trixie/InRelease: the mirror answered 401", e.Message);
        AssertNoPassword([e.ToString(), .. _log.Warnings]);
    }

    [Fact]
    public async Task Missing_indexes_warn_and_fail_without_the_password()
    {
        foreach (var name in new[] { "Packages.xz", "Packages.gz", "Packages" })
        {
            _mirror.Refuse[$"/binary-amd64/{name}"] = 404;
        }
        // by-hash URLs end in the hash.
        foreach (var hash in File.ReadAllLines(Path.Combine(_repo.SuiteDir, "Release")).Select(l => l.Trim().Split(' ')[0]).Where(w => w.Length == 64))
        {
            _mirror.Refuse[hash] = 404;
        }

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => new DebianRepository(_fetcher).OpenAsync(Request(SecretUrl), Context()));

        Assert.Contains("not found on the mirror", e.Message);
        Assert.Contains(_log.Warnings, w => w.Contains($"(from {ShownUrl}dists/trixie/main/binary-amd64/Packages.xz)", StringComparison.Ordinal));
        AssertNoPassword([e.ToString(), .. _log.Warnings]);
    }

    [Fact]
    public async Task A_deb_that_stalls_or_is_missing_fails_without_the_password()
    {
        var repository = new DebianRepository(_fetcher);
        var index = await repository.OpenAsync(Request(SecretUrl), Context());
        (_mirror.StallSuffix, _mirror.StallTimes) = ("/hello_2.10-3_amd64.deb", int.MaxValue);
        _mirror.Refuse["/greet-data_1.0_all.deb"] = 404;

        var stalled = await Assert.ThrowsAsync<EdgeImageException>(() => repository.DownloadAsync(index, [index["hello"].Single()], Context()).WaitAsync(TimeSpan.FromSeconds(30)));
        var missing = await Assert.ThrowsAsync<EdgeImageException>(() => repository.DownloadAsync(index, [index["greet-data"].Single()], Context()));

        Assert.Contains($"transfer from {ShownUrl}pool/main/h/hello/hello_2.10-3_amd64.deb failed 3 times: no data from {ShownUrl}", stalled.Message);
        Assert.Contains($"{ShownUrl}pool/main/g/greet-data/greet-data_1.0_all.deb does not exist", missing.Message);
        AssertNoPassword([stalled.ToString(), missing.ToString(), .. _log.Warnings]);
        Assert.Equal(2, _log.Warnings.Count);
    }

    public void Dispose()
    {
        _mirror.Dispose();
        _fetcher.Dispose();
        _repo.Dispose();
        Directory.Delete(_cache, recursive: true);
    }

    private static void AssertNoPassword(IEnumerable<string> shown)
    {
        foreach (var text in shown)
        {
            Assert.DoesNotContain(PasswordPart, text, StringComparison.Ordinal);
        }
    }

    private DebianSuiteRequest Request(string mirror) => MirrorTestSetup.Request(mirror, _keys.Keyring);

    private BuildContext Context() => MirrorTestSetup.Context(_cache, _log);
}
