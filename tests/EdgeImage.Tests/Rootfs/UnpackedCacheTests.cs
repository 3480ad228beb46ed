using System.Security.Cryptography;
using EdgeImage.Rootfs;
using static EdgeImage.Tests.Rootfs.DebFixtures;

namespace EdgeImage.Tests.Rootfs;

public sealed class UnpackedCacheTests : IDisposable
{
    private readonly DebFixtures _debs = new();
    private readonly DerivedCache _cache;
    private int _trees;

    public UnpackedCacheTests() => _cache = new DerivedCache(Path.Combine(_debs.Dir, "cache"), "unpacked");

    public void Dispose() => _debs.Dispose();

    private PackageFile Tools(string compression = "xz") => _debs.Build("tools", r =>
    {
        DebUnpackerTests.Write(r, "usr/bin/tool", "the tool");
        DebUnpackerTests.Write(r, "usr/share/doc/tools/README", Noise());
    }, compression: compression);

    /// <summary>Unpacks into a fresh tree and returns the tree as the reproducible tar the image is made from.</summary>
    private byte[] UnpackToTar(PackageFile deb, DerivedCache? cache)
    {
        using var tree = new RootfsTree(Path.Combine(_debs.Dir, $"tree-{_trees++}"), 1_700_000_000);
        new DebUnpacker(tree, cache).UnpackAll([deb], parallelism: 1);
        using var tar = new MemoryStream();
        RootfsTar.Write(tree, tar, 1_700_000_000);
        return tar.ToArray();
    }

    private string[] CacheFiles() => Directory.Exists(_cache.Root)
        ? [.. Directory.EnumerateFiles(_cache.Root, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Order(StringComparer.Ordinal)!]
        : [];

    [Fact]
    public void A_second_unpack_reads_the_cached_plain_tar_and_builds_the_same_tree_as_decompressing()
    {
        var deb = Tools();
        var fresh = UnpackToTar(deb, cache: null);

        var filling = UnpackToTar(deb, _cache);
        Assert.Equal([deb.Package.Sha256 + ".tar", deb.Package.Sha256 + ".tar.sha256"], CacheFiles());
        var entry = _cache.PathFor(deb.Package.Sha256);
        Assert.Equal(Run("sh", "-c", $"dpkg-deb --fsys-tarfile '{deb.DebPath}' | sha256sum").Split(' ')[0],
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(entry))));

        Assert.Equal(fresh, filling);

        // Proof that a later unpack reads the entry, not the .deb: with its data archive cut short the
        // .deb itself no longer unpacks, but the cached tar of the same .deb (same SHA256 key) does.
        var truncated = Truncated(deb);
        Assert.Throws<EdgeImageException>(() => UnpackToTar(truncated, cache: null));
        Assert.Equal(fresh, UnpackToTar(truncated, _cache));
    }

    /// <summary>200 KB that xz cannot shrink much, so the data archive is most of the .deb.</summary>
    private static string Noise()
    {
        var bytes = new byte[100_000];
        new Random(42).NextBytes(bytes);
        return Convert.ToHexString(bytes);
    }

    private PackageFile Truncated(PackageFile deb)
    {
        var bytes = File.ReadAllBytes(deb.DebPath);
        Assert.True(bytes.Length > 50_000);
        var cut = Path.Combine(_debs.Dir, $"cut-{_trees++}.deb");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 3 / 4)]);
        return deb with { DebPath = cut };
    }

    [Fact]
    public void A_cached_tree_equals_the_decompressed_one_byte_for_byte()
    {
        var deb = Tools("zstd");
        var fresh = UnpackToTar(deb, cache: null);
        UnpackToTar(deb, _cache);
        var stamp = File.GetLastWriteTimeUtc(_cache.PathFor(deb.Package.Sha256));
        Assert.Equal(fresh, UnpackToTar(deb, _cache));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(_cache.PathFor(deb.Package.Sha256)));
    }

    [Fact]
    public void A_tree_read_from_the_cache_keeps_the_verified_archive_when_the_entry_is_deleted_under_it()
    {
        // Files of a cached package are referenced in the verified archive, not copied out of it:
        // the tree holds that archive open, so removing the cache entry does not change the tree.
        var deb = Tools();
        var fresh = UnpackToTar(deb, cache: null);
        UnpackToTar(deb, _cache);
        using var tree = new RootfsTree(Path.Combine(_debs.Dir, $"tree-{_trees++}"), 1_700_000_000);
        new DebUnpacker(tree, _cache).UnpackAll([deb], parallelism: 1);

        File.Delete(_cache.PathFor(deb.Package.Sha256));
        using var tar = new MemoryStream();
        RootfsTar.Write(tree, tar, 1_700_000_000);

        Assert.Equal(fresh, tar.ToArray());
        Assert.Equal("the tool", tree.ReadText("/usr/bin/tool"));
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_debs.Dir, $"tree-{_trees - 1}")), f => new FileInfo(f).Length > 0);
    }

    [Fact]
    public void A_damaged_entry_is_dropped_and_rebuilt_from_the_deb()
    {
        var deb = Tools();
        var fresh = UnpackToTar(deb, cache: null);
        UnpackToTar(deb, _cache);
        var entry = _cache.PathFor(deb.Package.Sha256);
        var bytes = File.ReadAllBytes(entry);
        var at = Array.IndexOf(bytes, (byte)'t', 512 * 3);
        bytes[at] = (byte)'T';
        File.WriteAllBytes(entry, bytes);

        Assert.Null(_cache.TryOpen(deb.Package.Sha256));
        Assert.Empty(CacheFiles());
        Assert.Equal(fresh, UnpackToTar(deb, _cache));
        Assert.Equal(2, CacheFiles().Length);
    }

    [Fact]
    public void An_entry_without_its_sidecar_is_not_used()
    {
        var deb = Tools();
        UnpackToTar(deb, _cache);
        File.Delete(_cache.PathFor(deb.Package.Sha256) + ".sha256");
        Assert.Null(_cache.TryOpen(deb.Package.Sha256));
    }

    [Fact]
    public void A_tar_reader_error_midway_leaves_no_entry()
    {
        var deb = Tools();
        // Cut inside the data archive: the xz stream ends after part of it was read (and copied).
        Assert.Throws<EdgeImageException>(() => UnpackToTar(Truncated(deb), _cache));
        Assert.Empty(CacheFiles());
    }
}
