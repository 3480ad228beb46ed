using System.Security.Cryptography;
using System.Text;
using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

public sealed class DebianRepositoryTests(SigningKeys keys) : IClassFixture<SigningKeys>, IDisposable
{
    public static readonly TestPackage[] Packages =
    [
        new() { Name = "hello", Version = "2.10-3", Depends = "libgreet1 (>= 1.2), greet-data", Files = new Dictionary<string, string> { ["usr/bin/hello"] = "#!/bin/sh\necho hello\n" } },
        new() { Name = "hello", Version = "2.10-3", Architecture = "arm64", Depends = "libgreet1 (>= 1.2)" },
        new() { Name = "libgreet1", Version = "1:1.2-1", Files = new Dictionary<string, string> { ["usr/lib/libgreet.so.1"] = "not really ELF" } },
        new() { Name = "greet-data", Version = "1.0", Architecture = "all", Files = new Dictionary<string, string> { ["usr/share/greet/words"] = "hi\n" } },
    ];

    private readonly string _cache = Directory.CreateTempSubdirectory("eig-cache-").FullName;
    private readonly RecordingBuildLog _log = new();
    private readonly List<LocalDebianRepo> _repos = [];
    private readonly MirrorFetcher _local = new();

    [Fact]
    public async Task Opens_a_signed_suite_with_its_own_architecture_and_arch_all_packages()
    {
        var repo = Repo();

        var index = await Repository().OpenAsync(Request(repo), Context());

        Assert.Equal(["hello", "libgreet1", "greet-data"], index.Packages.Select(p => p.Name));
        Assert.DoesNotContain(index.Packages, p => p.Architecture == "arm64");
        var hello = Assert.Single(index["hello"]);
        Assert.Equal("2.10-3", hello.Version);
        Assert.Equal("libgreet1 (>= 1.2), greet-data", hello["Depends"]);
        Assert.Equal("pool/main/h/hello/hello_2.10-3_amd64.deb", hello.Filename);
        Assert.Equal(Sha256(File.ReadAllBytes(repo.DebPath("hello", "amd64"))), hello.Sha256);
        Assert.Equal("trixie", index.Release.Codename);
        Assert.Equal("1:1.2-1", Assert.Single(index["libgreet1"]).Version);
    }

    [Fact]
    public async Task Opens_the_other_architecture_from_the_same_suite()
    {
        var repo = Repo();

        var index = await Repository().OpenAsync(Request(repo) with { Architecture = "arm64" }, Context());

        Assert.Equal(["hello", "greet-data"], index.Packages.Select(p => p.Name));
        Assert.Equal("arm64", index["hello"].Single().Architecture);
    }

    [Fact]
    public async Task A_repository_with_a_key_of_its_own_opens_with_its_own_request()
    {
        using var repo = LocalDebianRepo.Create([new TestPackage { Name = "busybox", Architecture = "armhf", Essential = true }],
            new LocalRepoOptions { Architectures = ["armhf"] });

        var index = await Repository().OpenAsync(repo.Request("armhf"), Context());

        Assert.True(Assert.Single(index.Packages).Essential);
    }

    [Fact]
    public async Task Accepts_an_InRelease_signed_by_a_known_and_an_unknown_key_like_Debians()
    {
        var repo = Repo(signers: [keys.Stranger, keys.Archive]);

        var index = await Repository().OpenAsync(Request(repo), Context());

        Assert.Equal(3, index.Count);
    }

    [Fact]
    public async Task Accepts_a_signature_by_a_signing_subkey_and_an_armored_keyring()
    {
        var subkeyed = keys.Gpg.NewKey(withSigningSubkey: true);
        var armored = keys.Gpg.ExportKeyring(Path.Combine(keys.Gpg.Home, $"{subkeyed.Fingerprint}.asc"), armor: true, subkeyed);
        var repo = Repo(signers: [subkeyed]);

        var index = await Repository().OpenAsync(Request(repo) with { KeyringPath = armored }, Context());

        Assert.Equal(3, index.Count);
        Assert.StartsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----", File.ReadAllText(armored));
    }

    [Fact]
    public async Task Refuses_an_InRelease_whose_signed_text_was_altered()
    {
        var repo = Repo();
        var inRelease = Path.Combine(repo.SuiteDir, "InRelease");
        File.WriteAllText(inRelease, File.ReadAllText(inRelease).Replace("Label: EdgeImage tests", "Label: EdgeImage tests!", StringComparison.Ordinal));

        var e = await Refused(() => Repository().OpenAsync(Request(repo), Context()));

        Assert.Contains("InRelease: the signature by key", e.Message);
        Assert.Contains("does not verify", e.Message);
    }

    [Fact]
    public async Task Refuses_an_InRelease_signed_only_by_a_key_outside_the_keyring()
    {
        var repo = Repo(signers: [keys.Stranger]);

        var e = await Refused(() => Repository().OpenAsync(Request(repo), Context()));

        Assert.Contains($"key {keys.Stranger.Fingerprint[^16..]} is not in the keyring", e.Message);
        Assert.Contains(keys.Keyring, e.Message);
        Assert.Contains("keyring:", e.Hint);
    }

    [Fact]
    public async Task Refuses_a_Release_past_its_Valid_Until_and_hints_at_SOURCE_DATE_EPOCH()
    {
        var repo = Repo(new LocalRepoOptions { Date = DateTimeOffset.UtcNow.AddDays(-10), ValidUntil = DateTimeOffset.UtcNow.AddDays(-3) });

        var e = await Refused(() => Repository().OpenAsync(Request(repo), Context()));

        Assert.Contains("expired at", e.Message);
        Assert.Contains("Valid-Until", e.Message);
        Assert.Contains("SOURCE_DATE_EPOCH", e.Hint);
    }

    [Fact]
    public async Task Accepts_a_Release_before_its_Valid_Until()
    {
        var repo = Repo(new LocalRepoOptions { ValidUntil = DateTimeOffset.UtcNow.AddDays(7) });

        var index = await Repository().OpenAsync(Request(repo), Context());

        Assert.Equal(DateTimeOffset.UtcNow.AddDays(7).UtcDateTime, index.Release.ValidUntil!.Value.UtcDateTime, TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Refuses_a_signature_made_after_the_verification_time()
    {
        var repo = Repo();

        var e = await Refused(() => Repository().OpenAsync(Request(repo), Context() with { VerificationTime = DateTimeOffset.UtcNow.AddDays(-2) }));

        Assert.Contains("after the verification time", e.Message);
    }

    [Fact]
    public async Task Refuses_a_signature_by_a_key_that_has_expired_at_the_verification_time()
    {
        var shortLived = keys.Gpg.NewKey(expires: "1d");
        var keyring = keys.Gpg.ExportKeyring(Path.Combine(keys.Gpg.Home, $"{shortLived.Fingerprint}.gpg"), armor: false, shortLived);
        var repo = Repo(signers: [shortLived]);

        var e = await Refused(() => Repository().OpenAsync(Request(repo) with { KeyringPath = keyring },
            Context() with { VerificationTime = DateTimeOffset.UtcNow.AddDays(3) }));

        Assert.Contains($"key {shortLived.Fingerprint[^16..]} expired at", e.Message);
    }

    [Fact]
    public async Task Falls_back_to_Release_and_its_detached_signature_when_there_is_no_InRelease()
    {
        var repo = Repo(new LocalRepoOptions { InRelease = false });

        var recording = new RecordingFetcherDouble(_local);
        var index = await new DebianRepository(recording, NoBackoff).OpenAsync(Request(repo), Context());

        Assert.Equal(3, index.Count);
        Assert.Contains(recording.Requests, u => u.AbsolutePath.EndsWith("/Release.gpg", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refuses_a_detached_signature_over_an_altered_Release()
    {
        var repo = Repo(new LocalRepoOptions { InRelease = false });
        File.AppendAllText(Path.Combine(repo.SuiteDir, "Release"), "X-Injected: yes\n");

        var e = await Refused(() => Repository().OpenAsync(Request(repo), Context()));

        Assert.Contains("does not verify", e.Message);
    }

    [Fact]
    public async Task Opens_a_suite_by_its_alias_as_well_as_its_codename()
    {
        var repo = Repo();

        var index = await Repository().OpenAsync(Request(repo) with { Suite = "testing" }, Context());

        Assert.Equal(3, index.Count);
    }

    [Fact]
    public async Task Refuses_a_correctly_signed_Release_of_another_suite_served_under_the_requested_name()
    {
        var repo = Repo();
        Directory.CreateSymbolicLink(repo.PathOf("dists/bookworm"), "trixie");

        var e = await Refused(() => Repository().OpenAsync(Request(repo) with { Suite = "bookworm" }, Context()));

        Assert.Contains("is the Release of suite 'testing' (codename 'trixie'), not of 'bookworm'", e.Message);
    }

    [Fact]
    public async Task Names_a_suite_the_mirror_does_not_have()
    {
        var repo = Repo();

        var e = await Refused(() => Repository().OpenAsync(Request(repo) with { Suite = "forky" }, Context()));

        Assert.Contains("suite 'forky' not found", e.Message);
        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
    }

    [Fact]
    public async Task Names_an_architecture_the_suite_does_not_have()
    {
        var repo = Repo();

        var e = await Refused(() => Repository().OpenAsync(Request(repo) with { Architecture = "riscv64" }, Context()));

        Assert.Contains("suite 'trixie' has no architecture 'riscv64'", e.Message);
    }

    [Fact]
    public async Task Refuses_tampered_indexes_after_retrying_each_and_names_file_and_hashes()
    {
        var repo = Repo();
        var listed = ReleaseSha256(repo, "main/binary-amd64/Packages.xz");
        foreach (var index in Directory.EnumerateFiles(Path.Combine(repo.SuiteDir, "main", "binary-amd64"), "*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(index);
            bytes[bytes.Length / 2] ^= 0x01;
            File.WriteAllBytes(index, bytes);
        }
        var tampered = Sha256(File.ReadAllBytes(Path.Combine(repo.SuiteDir, "main", "binary-amd64", "Packages.xz")));
        var recording = new RecordingFetcherDouble(_local);

        var e = await Refused(() => new DebianRepository(recording, NoBackoff).OpenAsync(Request(repo), Context()));

        Assert.Contains("dists/trixie/main/binary-amd64/Packages.xz", e.Message);
        Assert.Contains($"expected sha256 {listed}", e.Message);
        Assert.Contains($"got sha256 {tampered}", e.Message);
        Assert.Contains("mid-sync", e.Hint);
        Assert.Contains("--mirror", e.Hint);
        // xz and gz: three fetches each plus by-hash; the unpublished uncompressed index: once plus by-hash.
        Assert.Equal(3 + 1 + 3 + 1 + 1 + 1, recording.Requests.Count(u => u.AbsolutePath.Contains("/binary-amd64/", StringComparison.Ordinal)));
        Assert.Equal(10, _log.Warnings.Count);
    }

    [Fact]
    public async Task Rides_out_a_mirror_mid_sync_by_retrying_and_warns_each_time()
    {
        var repo = Repo();
        var midSync = new MidSyncMirrorDouble(_local, "/binary-amd64/Packages.xz", wrongTimes: 2, Encoding.ASCII.GetBytes("new index, old Release"));

        var index = await new DebianRepository(midSync, NoBackoff).OpenAsync(Request(repo), Context());

        Assert.Equal(3, index.Count);
        Assert.Equal(2, _log.Warnings.Count);
        Assert.All(_log.Warnings, w => Assert.Contains("mid-sync", w));
        Assert.Contains("expected sha256", _log.Warnings.First());
        Assert.Equal(3, midSync.Requests.Count(u => u.AbsolutePath.EndsWith("/binary-amd64/Packages.xz", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Falls_back_to_the_by_hash_url_when_the_canonical_index_stays_wrong()
    {
        var repo = Repo();
        var midSync = new MidSyncMirrorDouble(_local, "/binary-amd64/Packages.xz", wrongTimes: 100, Encoding.ASCII.GetBytes("stale"));

        var index = await new DebianRepository(midSync, NoBackoff).OpenAsync(Request(repo), Context());

        Assert.Equal(3, index.Count);
        Assert.Contains(midSync.Requests, u => u.AbsolutePath.Contains("/binary-amd64/by-hash/SHA256/", StringComparison.Ordinal));
        Assert.Contains("trying its by-hash URL", _log.Warnings.Last());
        Assert.Equal(3, _log.Warnings.Count);
    }

    [Fact]
    public async Task Falls_back_to_the_gzip_index_when_xz_and_by_hash_are_both_wrong()
    {
        var repo = Repo(new LocalRepoOptions { AcquireByHash = false });
        var midSync = new MidSyncMirrorDouble(_local, "/binary-amd64/Packages.xz", wrongTimes: 100, Encoding.ASCII.GetBytes("stale"));

        var index = await new DebianRepository(midSync, NoBackoff).OpenAsync(Request(repo), Context());

        Assert.Equal(3, index.Count);
        Assert.Contains("trying Packages.gz", _log.Warnings.Last());
    }

    [Fact]
    public async Task Downloads_every_deb_verified_into_the_content_addressed_cache()
    {
        var repo = Repo();
        var repository = Repository();
        var index = await repository.OpenAsync(Request(repo), Context());

        var paths = await repository.DownloadAsync(index, index.Packages, Context() with { MaxParallelDownloads = 2 });

        Assert.Equal(index.Packages, paths.Keys);
        foreach (var (package, path) in paths)
        {
            Assert.Equal(Path.Combine(_cache, "sha256", package.Sha256[..2], package.Sha256), path);
            Assert.Equal(File.ReadAllBytes(repo.PathOf(package.Filename)), File.ReadAllBytes(path));
        }
        var progress = Assert.Single(_log.Progress);
        Assert.Equal(index.Packages.Sum(p => p.Size), progress.Total);
        Assert.Equal(progress.Total, progress.Done());
    }

    [Fact]
    public async Task Refuses_a_tampered_deb_naming_package_url_and_hashes_and_stores_nothing()
    {
        var repo = Repo();
        var repository = Repository();
        var index = await repository.OpenAsync(Request(repo), Context());
        var deb = repo.DebPath("libgreet1");
        var bytes = File.ReadAllBytes(deb);
        bytes[^1] ^= 0x55;
        File.WriteAllBytes(deb, bytes);
        var libgreet = index["libgreet1"].Single();

        var e = await Refused(() => repository.DownloadAsync(index, [libgreet], Context()));

        Assert.Contains("libgreet1_1:1.2-1_amd64", e.Message);
        Assert.Contains(new Uri(deb).ToString(), e.Message);
        Assert.Contains($"sha256 {Sha256(bytes)}", e.Message);
        Assert.Contains($"says sha256 {libgreet.Sha256}", e.Message);
        Assert.Equal(ExitCodes.VerificationFailed, e.ExitCode);
    }

    [Fact]
    public async Task Offline_rebuilds_from_the_cache_without_touching_the_network()
    {
        var repo = Repo();
        var online = Repository();
        var first = await online.OpenAsync(Request(repo), Context());
        await online.DownloadAsync(first, first.Packages, Context());

        var offline = new DebianRepository(new NoNetworkDouble());
        var again = await offline.OpenAsync(Request(repo), Context() with { Offline = true });
        var paths = await offline.DownloadAsync(again, again.Packages, Context() with { Offline = true });

        Assert.Equal(first.Packages.Select(p => p.ToString()), again.Packages.Select(p => p.ToString()));
        Assert.Equal(3, paths.Count);
    }

    [Fact]
    public async Task Offline_without_a_cached_InRelease_names_it_and_says_to_run_online_once()
    {
        var repo = Repo();

        var e = await Refused(() => new DebianRepository(new NoNetworkDouble()).OpenAsync(Request(repo), Context() with { Offline = true }));

        Assert.Contains("offline: the verified InRelease of suite 'trixie' (amd64)", e.Message);
        Assert.Contains("without --offline", e.Hint);
        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
    }

    [Fact]
    public async Task Offline_names_the_one_deb_missing_from_the_cache()
    {
        var repo = Repo();
        var index = await Repository().OpenAsync(Request(repo), Context());
        var offline = new DebianRepository(new NoNetworkDouble());

        var e = await Refused(() => offline.DownloadAsync(index, index["hello"], Context() with { Offline = true }));

        var hello = index["hello"].Single();
        Assert.Contains($"offline: {hello} (pool/main/h/hello/hello_2.10-3_amd64.deb, sha256 {hello.Sha256}) is not in the cache", e.Message);
    }

    [Fact]
    public async Task Offline_does_not_mistake_another_architectures_cached_InRelease_for_its_own()
    {
        var repo = Repo();
        await Repository().OpenAsync(Request(repo) with { Architecture = "arm64" }, Context());

        var e = await Refused(() => new DebianRepository(new NoNetworkDouble()).OpenAsync(Request(repo), Context() with { Offline = true }));

        Assert.Contains("(amd64)", e.Message);
    }

    [Fact]
    public async Task Refetches_corrupt_cache_entries_and_warns()
    {
        var repo = Repo();
        var repository = Repository();
        var index = await repository.OpenAsync(Request(repo), Context());
        await repository.DownloadAsync(index, index.Packages, Context());
        var entries = Directory.EnumerateFiles(Path.Combine(_cache, "sha256"), "*", SearchOption.AllDirectories).ToList();
        foreach (var entry in entries)
        {
            File.WriteAllText(entry, "bit rot");
        }

        var again = await repository.OpenAsync(Request(repo), Context());
        var paths = await repository.DownloadAsync(again, again.Packages, Context());

        Assert.Equal(3, again.Count);
        foreach (var (package, path) in paths)
        {
            Assert.Equal(package.Sha256, Sha256(File.ReadAllBytes(path)));
        }
        Assert.All(entries, entry => Assert.NotEqual("bit rot", File.ReadAllText(entry)));
        Assert.Contains(_log.Warnings, w => w.Contains("is damaged", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        foreach (var repo in _repos)
        {
            repo.Dispose();
        }
        _local.Dispose();
        Directory.Delete(_cache, recursive: true);
    }

    private static readonly IndexRetryPolicy NoBackoff = new() { Backoff = TimeSpan.Zero };

    private DebianRepository Repository() => new(_local, NoBackoff);

    private LocalDebianRepo Repo(LocalRepoOptions? options = null, TestKey[]? signers = null)
    {
        var repo = LocalDebianRepo.Create(keys.Gpg, Packages, options, signers ?? [keys.Archive]);
        _repos.Add(repo);
        return repo;
    }

    private DebianSuiteRequest Request(LocalDebianRepo repo) => MirrorTestSetup.Request(repo.Root, keys.Keyring, repo.Options.Codename);

    private BuildContext Context() => MirrorTestSetup.Context(_cache, _log);

    /// <summary>Runs a fetch that must be refused and checks that the cache is exactly as before.</summary>
    private async Task<EdgeImageException> Refused(Func<Task> fetch)
    {
        var before = CacheContents();
        var e = await Assert.ThrowsAsync<EdgeImageException>(fetch);
        Assert.Equal(before, CacheContents());
        Assert.False(string.IsNullOrWhiteSpace(e.Hint));
        return e;
    }

    private List<string> CacheContents() =>
        Directory.EnumerateFiles(_cache, "*", SearchOption.AllDirectories)
            .Select(f => $"{Path.GetRelativePath(_cache, f)} {Sha256(File.ReadAllBytes(f))}")
            .Order(StringComparer.Ordinal)
            .ToList();

    private static string ReleaseSha256(LocalDebianRepo repo, string path) =>
        File.ReadAllLines(Path.Combine(repo.SuiteDir, "Release"))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Single(w => w.Length == 3 && w[2] == path)[0];

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
