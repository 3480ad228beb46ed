using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

public sealed class ResolutionCacheTests : IDisposable
{
    private static readonly TestPackage[] Packages =
    [
        new() { Name = "hello", Version = "2.10-3", Depends = "libgreet1 (>= 1.2), greet-data" },
        new() { Name = "libgreet1", Version = "1:1.2-1" },
        new() { Name = "greet-data", Version = "1.0", Architecture = "all" },
        new() { Name = "firmware-blob", Version = "7" },
    ];

    private readonly string _cache = Directory.CreateTempSubdirectory("eig-resolutions-").FullName;
    private readonly List<LocalDebianRepo> _repos = [];
    private readonly MirrorFetcher _local = new();

    public void Dispose()
    {
        foreach (var repo in _repos)
        {
            repo.Dispose();
        }
        _local.Dispose();
        Directory.Delete(_cache, recursive: true);
    }

    private async Task<VerifiedSuite> SuiteAsync(IEnumerable<TestPackage>? packages = null)
    {
        var repo = LocalDebianRepo.Create(packages ?? Packages);
        _repos.Add(repo);
        return await new DebianRepository(_local).VerifyAsync(repo.Request("amd64"), new BuildContext
        {
            CacheDir = _cache,
            WorkDir = _cache,
            SourceDateEpoch = 0,
            VerificationTime = DateTimeOffset.UtcNow,
        });
    }

    private static Resolution Resolve(VerifiedSuite suite)
    {
        var resolver = new Resolver(DebianRepository.Read(suite).Packages, "amd64");
        return new Resolution(resolver.Resolve(["hello"]), resolver.Resolve(["firmware-blob"]));
    }

    /// <summary>A suite with the resolution of hello (and the build package firmware-blob) stored for it.</summary>
    private async Task<(VerifiedSuite Suite, ResolutionCache Cache, string Key)> StoredAsync()
    {
        var suite = await SuiteAsync();
        var cache = new ResolutionCache(_cache);
        var key = ResolutionCache.KeyOf(suite, ["hello"], false, ["firmware-blob"]);
        cache.Store(key, Resolve(suite));
        return (suite, cache, key);
    }

    private string EntryPath() => Assert.Single(Directory.GetFiles(Path.Combine(_cache, "resolutions"), "*", SearchOption.AllDirectories));

    [Fact]
    public async Task A_stored_resolution_reads_back_the_same_records_from_the_verified_index()
    {
        var suite = await SuiteAsync();
        var cache = new ResolutionCache(_cache);
        var key = ResolutionCache.KeyOf(suite, ["hello"], includeRequired: false, ["firmware-blob"]);
        Assert.Null(cache.TryLoad(key, suite));

        var resolved = Resolve(suite);
        cache.Store(key, resolved);
        var loaded = Assert.IsType<Resolution>(cache.TryLoad(key, suite));

        Assert.Equal(resolved.Selected.Select(p => p.ToString()), loaded.Selected.Select(p => p.ToString()));
        Assert.Equal(["firmware-blob_7_amd64"], loaded.BuildOnly.Select(p => p.ToString()));
        Assert.Equal(resolved.Selected.Select(p => (p.Filename, p.Size, p.Sha256, p["Depends"])), loaded.Selected.Select(p => (p.Filename, p.Size, p.Sha256, p["Depends"])));
        Assert.Equal(resolved.Selected.Select(p => p.Position), loaded.Selected.Select(p => p.Position));
    }

    [Fact]
    public async Task The_key_changes_with_the_index_the_request_and_the_required_set()
    {
        var suite = await SuiteAsync();
        var key = ResolutionCache.KeyOf(suite, ["hello"], false, []);
        Assert.Equal(key, ResolutionCache.KeyOf(suite, ["hello"], false, []));
        Assert.NotEqual(key, ResolutionCache.KeyOf(suite, ["hello", "libgreet1"], false, []));
        Assert.NotEqual(key, ResolutionCache.KeyOf(suite, ["hello"], true, []));
        Assert.NotEqual(key, ResolutionCache.KeyOf(suite, ["hello"], false, ["firmware-blob"]));

        var newer = await SuiteAsync(Packages.Select(p => p.Name == "libgreet1" ? p with { Version = "1:1.3-1" } : p));
        Assert.NotEqual(key, ResolutionCache.KeyOf(newer, ["hello"], false, []));
    }

    [Fact]
    public async Task An_entry_pointing_inside_a_paragraph_is_not_used()
    {
        var (suite, cache, key) = await StoredAsync();
        var lines = File.ReadAllLines(EntryPath());
        var f = lines[1].Split(' ');
        f[2] = (int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        lines[1] = string.Join(' ', f);
        File.WriteAllLines(EntryPath(), lines);

        Assert.Null(cache.TryLoad(key, suite));
    }

    [Fact]
    public async Task An_entry_whose_package_no_longer_matches_the_paragraph_is_not_used()
    {
        var (suite, cache, key) = await StoredAsync();
        // Another hash for the same position: an edited entry must not name a .deb the index does not.
        var text = File.ReadAllText(EntryPath());
        var sha = DebianRepository.Read(suite)["hello"].Single().Sha256;
        File.WriteAllText(EntryPath(), text.Replace(sha, new string('0', 64), StringComparison.Ordinal));

        Assert.Null(cache.TryLoad(key, suite));
    }

    [Fact]
    public void Paragraphs_are_found_by_their_first_line_and_nothing_else()
    {
        var path = Path.Combine(_cache, "Packages");
        File.WriteAllText(path, "Package: a\nVersion: 1\n\nPackage: b\nDescription: two\n lines\n\nPackage: c\n");

        var found = IndexLines.ParagraphsAt(path, [1, 2, 3, 4, 5, 8, 9]);

        Assert.Equal(new string?[] { "Package: a\nVersion: 1\n", null, null, "Package: b\nDescription: two\n lines\n", null, "Package: c\n", null }, found);
    }
}
