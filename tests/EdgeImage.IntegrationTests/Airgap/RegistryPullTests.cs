using System.Text.Json;
using EdgeImage.Oci;
using EdgeImage.Packages;

namespace EdgeImage.IntegrationTests.Airgap;

/// <summary>The registry, seeded once per test class with images written by <see cref="TestImageLayout"/>.</summary>
public sealed class SeededRegistry : IAsyncLifetime
{
    public LocalRegistry Registry { get; } = new();

    public string MultiIndex { get; private set; } = "";

    public IReadOnlyList<TestPlatformImage> MultiImages { get; private set; } = [];

    public string AmdOnlyIndex { get; private set; } = "";

    public TestPlatformImage Single { get; private set; } = null!;

    public TestPlatformImage Tampered { get; private set; } = null!;

    public TestPlatformImage TamperedManifest { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Registry.InitializeAsync();
        var layout = new TestImageLayout(Path.Combine(Registry.Scratch, "layout"));
        (MultiIndex, MultiImages) = layout.AddIndex("multi", ("amd64", null), ("arm64", "v8"), ("arm", "v6"), ("arm", "v7"));
        (AmdOnlyIndex, _) = layout.AddIndex("amd-only", ("amd64", null));
        Single = layout.AddImage("single", "amd64");
        Tampered = layout.AddImage("tampered", "amd64");
        TamperedManifest = layout.AddImage("tampered-manifest", "amd64");
        Registry.Push(layout.Directory, "multi", "test/multi", "1");
        Registry.Push(layout.Directory, "amd-only", "test/amd-only", "1");
        Registry.Push(layout.Directory, "single", "test/single", "1");
        Registry.Push(layout.Directory, "tampered", "test/tampered", "1");
        Registry.Push(layout.Directory, "tampered-manifest", "test/tampered-manifest", "1");
    }

    public Task DisposeAsync() => Registry.DisposeAsync();
}

/// <summary>
/// Pulls from a real registry (Debian's docker-registry on 127.0.0.1, seeded by skopeo) and reads
/// the written OCI archives back with skopeo, an implementation independent of the builder's.
/// </summary>
[Trait("Category", "airgap")]
public sealed class RegistryPullTests(SeededRegistry seeded) : IClassFixture<SeededRegistry>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("eig-pull-").FullName;
    private readonly HttpClient _http = new();

    private string CacheDir => Path.Combine(_root, "cache");

    [Theory]
    [InlineData("amd64", "amd64", null)]
    [InlineData("arm64", "arm64", "v8")]
    [InlineData("armhf", "arm", "v7")]
    public async Task Multi_arch_index_resolves_to_the_profiles_platform_and_skopeo_reads_the_archive_back(string debian, string architecture, string? variant)
    {
        var expected = seeded.MultiImages.Single(i => i.Architecture == architecture && i.Variant == variant);
        var reference = ImageReference.Parse($"{seeded.Registry.Host}/test/multi:1@{seeded.MultiIndex}");

        var pulled = await Puller().PullAsync(reference, OciPlatform.ForDebian(debian), Context());
        var archive = await WriteArchiveAsync(pulled, "multi.tar");

        Assert.Equal(expected.ManifestDigest, pulled.Manifest.Digest);
        Assert.Equal([expected.ConfigDigest, expected.LayerDigest], pulled.Blobs.Select(b => b.Digest));
        using var inspect = JsonDocument.Parse(TrixieDebs.Run("skopeo", "inspect", $"oci-archive:{archive}"));
        Assert.Equal(expected.ManifestDigest, inspect.RootElement.GetProperty("Digest").GetString());
        Assert.Equal(architecture, inspect.RootElement.GetProperty("Architecture").GetString());
        Assert.Equal([expected.LayerDigest], inspect.RootElement.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()));

        var copy = Path.Combine(_root, "copy");
        TrixieDebs.Run("skopeo", "copy", "--quiet", $"oci-archive:{archive}", $"oci:{copy}:x");
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(copy, "index.json")));
        Assert.Equal(expected.ManifestDigest, index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString());
        Assert.Equal(
            new[] { expected.ManifestDigest, expected.ConfigDigest, expected.LayerDigest }.Select(d => d[7..]).Order(StringComparer.Ordinal),
            Directory.EnumerateFiles(Path.Combine(copy, "blobs", "sha256")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Archive_is_byte_identical_when_written_twice_with_sorted_entries_fixed_owner_and_mtime()
    {
        var reference = ImageReference.Parse($"{seeded.Registry.Host}/test/single@{seeded.Single.ManifestDigest}");
        var pulled = await Puller().PullAsync(reference, OciPlatform.ForDebian("amd64"), Context());

        var first = await WriteArchiveAsync(pulled, "a.tar");
        var second = await WriteArchiveAsync(await Puller().PullAsync(reference, OciPlatform.ForDebian("amd64"), Context() with { Offline = true }), "b.tar");

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        var listing = TrixieDebs.Run("tar", "--numeric-owner", "--full-time", "-tvf", first).Trim().Split('\n');
        var names = listing.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal("oci-layout", names[^1]);
        Assert.All(listing, l => Assert.Contains(" 0/0 ", l));
        Assert.All(listing, l => Assert.Contains(" 2023-11-14 22:13:20 ", l));
    }

    [Fact]
    public async Task Tampered_blob_in_the_registry_is_refused_and_not_cached()
    {
        var layer = seeded.Registry.BlobFile(seeded.Tampered.LayerDigest);
        var bytes = File.ReadAllBytes(layer);
        bytes[^5] ^= 0x55;
        File.WriteAllBytes(layer, bytes);
        var reference = ImageReference.Parse($"{seeded.Registry.Host}/test/tampered@{seeded.Tampered.ManifestDigest}");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Puller().PullAsync(reference, OciPlatform.ForDebian("amd64"), Context()));

        Assert.Equal(ExitCodes.VerificationFailed, error.ExitCode);
        Assert.Contains($"blob {seeded.Tampered.LayerDigest}", error.Message);
        Assert.False(File.Exists(new ContentCache(CacheDir, NullBuildLog.Instance).PathFor(seeded.Tampered.LayerDigest[7..])));
        Assert.Empty(Directory.EnumerateFiles(CacheDir, "*.partial", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Manifest_that_does_not_hash_to_the_pinned_digest_is_refused()
    {
        var manifest = seeded.Registry.BlobFile(seeded.TamperedManifest.ManifestDigest);
        var text = File.ReadAllText(manifest);
        File.WriteAllText(manifest, text.Replace("\"schemaVersion\":2", "\"schemaVersion\": 2", StringComparison.Ordinal));
        var reference = ImageReference.Parse($"{seeded.Registry.Host}/test/tampered-manifest@{seeded.TamperedManifest.ManifestDigest}");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Puller().PullAsync(reference, OciPlatform.ForDebian("amd64"), Context()));

        Assert.Equal(ExitCodes.VerificationFailed, error.ExitCode);
        Assert.Contains($"for {seeded.TamperedManifest.ManifestDigest}", error.Message);
        Assert.False(File.Exists(new ContentCache(CacheDir, NullBuildLog.Instance).PathFor(seeded.TamperedManifest.ManifestDigest[7..])));
    }

    [Fact]
    public async Task Index_without_the_profiles_platform_is_an_error_listing_what_it_offers()
    {
        var reference = ImageReference.Parse($"{seeded.Registry.Host}/test/amd-only@{seeded.AmdOnlyIndex}");

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => Puller().PullAsync(reference, OciPlatform.ForDebian("armhf"), Context()));

        Assert.Contains("has no image for linux/arm/v7; its index offers linux/amd64", error.Message);
    }

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private OciPuller Puller() => new(new RegistryClient(_http));

    private async Task<string> WriteArchiveAsync(PulledImage pulled, string name)
    {
        var path = Path.Combine(_root, name);
        await using var output = File.Create(path);
        await OciArchive.WriteAsync(pulled, new ContentCache(CacheDir, NullBuildLog.Instance), output, 1_700_000_000, default);
        return path;
    }

    private BuildContext Context() => new()
    {
        CacheDir = CacheDir,
        WorkDir = Path.Combine(_root, "work"),
        SourceDateEpoch = 1_700_000_000,
        VerificationTime = DateTimeOffset.UnixEpoch,
    };
}
