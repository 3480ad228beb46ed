using System.Text;
using EdgeImage.Initramfs;

namespace EdgeImage.Tests.Initramfs;

public sealed class InitramfsCacheTests : IDisposable
{
    private const long SourceDateEpoch = 1_700_000_000;
    private readonly TempDirectory _cacheDir = new();

    public void Dispose() => _cacheDir.Dispose();

    private DerivedCache Cache => new(_cacheDir.Path, "initramfs", ".cpio.zst");

    private static IEnumerable<CpioEntry> Entries(string hostname = "edge\n") =>
    [
        CpioEntry.File("/init", "#!/bin/sh\nexec /bin/sh\n"u8.ToArray(), permissions: 0b111_101_101),
        CpioEntry.CharDevice("/dev/console", major: 5, minor: 1),
        CpioEntry.File("/bin/busybox", Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7 % 251)).ToArray(), permissions: 0b111_101_101),
        CpioEntry.File("/etc/hostname", Encoding.UTF8.GetBytes(hostname)),
    ];

    private static byte[] Archive(IEnumerable<CpioEntry> entries, InitramfsCompression compression, DerivedCache? cache = null)
    {
        var output = new MemoryStream();
        InitramfsArchive.Write(output, entries, new() { SourceDateEpoch = SourceDateEpoch, Compression = compression, CompressedCache = cache });
        return output.ToArray();
    }

    private string[] CachedEntries() =>
        Directory.Exists(Path.Combine(_cacheDir.Path, "initramfs"))
            ? Directory.GetFiles(Path.Combine(_cacheDir.Path, "initramfs"), "*.cpio.zst", SearchOption.AllDirectories)
            : [];

    [Fact]
    public void A_first_build_stores_exactly_the_archive_it_writes_and_a_second_build_writes_the_same_bytes()
    {
        var uncached = Archive(Entries(), InitramfsCompression.Zstd);

        var cold = Archive(Entries(), InitramfsCompression.Zstd, Cache);
        var warm = Archive(Entries(), InitramfsCompression.Zstd, Cache);

        Assert.Equal(uncached, cold);
        Assert.Equal(uncached, warm);
        Assert.Equal(uncached, File.ReadAllBytes(Assert.Single(CachedEntries())));
        Assert.Equal(Archive(Entries(), InitramfsCompression.None), HostTool.Run("zstd", "zstd", ["-dc"], stdin: warm).Stdout);
    }

    [Fact]
    public void A_verified_entry_is_used_as_it_is_instead_of_compressing_again()
    {
        var cpio = Archive(Entries(), InitramfsCompression.None);
        var key = InitramfsArchive.CompressedKey(cpio, level: 3);
        // A consistent entry (sidecar matches) that differs from what compressing would give:
        // seeing it in the output proves the archive came from the cache.
        var standIn = HostTool.Run("zstd", "zstd", ["-c", "-1"], stdin: cpio).Stdout;
        Assert.NotEqual(Archive(Entries(), InitramfsCompression.Zstd), standIn);
        Cache.Store(key, standIn);

        Assert.Equal(standIn, Archive(Entries(), InitramfsCompression.Zstd, Cache));
    }

    [Fact]
    public void A_damaged_entry_is_not_used_and_is_replaced_by_a_fresh_compression()
    {
        var fresh = Archive(Entries(), InitramfsCompression.Zstd, Cache);
        var entry = Assert.Single(CachedEntries());
        var damaged = File.ReadAllBytes(entry);
        damaged[damaged.Length / 2] ^= 0x55;
        File.WriteAllBytes(entry, damaged);

        Assert.Equal(fresh, Archive(Entries(), InitramfsCompression.Zstd, Cache));
        Assert.Equal(fresh, File.ReadAllBytes(Assert.Single(CachedEntries())));
    }

    [Fact]
    public void A_changed_file_or_level_misses_the_cache()
    {
        Archive(Entries(), InitramfsCompression.Zstd, Cache);

        var changed = Archive(Entries("other\n"), InitramfsCompression.Zstd, Cache);

        Assert.Equal(Archive(Entries("other\n"), InitramfsCompression.None), HostTool.Run("zstd", "zstd", ["-dc"], stdin: changed).Stdout);
        Assert.Equal(2, CachedEntries().Length);
        var cpio = Archive(Entries(), InitramfsCompression.None);
        Assert.NotEqual(InitramfsArchive.CompressedKey(cpio, level: 3), InitramfsArchive.CompressedKey(cpio, level: 4));
    }
}
