using System.Runtime.Versioning;
using System.Text;
using EdgeImage.Initramfs;

namespace EdgeImage.Tests.Initramfs;

public class InitramfsArchiveTests
{
    private const long SourceDateEpoch = 1_700_000_000;
    private const long OlderMtime = 1_600_000_000;
    private static readonly byte[] InitScript = Encoding.UTF8.GetBytes("#!/bin/sh\nexec /bin/sh\n");
    private static readonly byte[] BusyboxBytes = [.. Enumerable.Range(0, 5001).Select(i => (byte)(i * 7))];

    /// <summary>A tiny initramfs, deliberately unsorted, with parents of bin/ and etc/ left implicit.</summary>
    private static IEnumerable<CpioEntry> Entries() =>
    [
        CpioEntry.File("/init", InitScript, permissions: 0b111_101_101),
        CpioEntry.Directory("/dev"),
        CpioEntry.CharDevice("/dev/console", major: 5, minor: 1),
        CpioEntry.BlockDevice("dev/vda", major: 254, minor: 0, permissions: 0b110_110_000),
        CpioEntry.Symlink("/bin/sh", "busybox"),
        CpioEntry.File("/bin/busybox", BusyboxBytes.Length, () => new MemoryStream(BusyboxBytes), permissions: 0b111_101_101)
            with { ModificationTime = SourceDateEpoch + 86_400 },
        CpioEntry.File("./etc/hostname", "edge\n"u8.ToArray()) with { Uid = 1000, Gid = 100, ModificationTime = OlderMtime },
    ];

    private static byte[] Archive(InitramfsCompression compression = InitramfsCompression.None, IEnumerable<CpioEntry>? entries = null)
    {
        var output = new MemoryStream();
        InitramfsArchive.Write(output, entries ?? Entries(), new() { SourceDateEpoch = SourceDateEpoch, Compression = compression });
        return output.ToArray();
    }

    [Fact]
    public void Cpio_lists_sorted_paths_with_owners_modes_the_device_node_and_the_symlink_target()
    {
        var archive = Archive();
        var names = HostTool.Run("cpio", "cpio", ["-it", "--quiet"], stdin: archive).Text;
        var listing = HostTool.Run("cpio", "cpio", ["-itv", "--numeric-uid-gid", "--quiet"], stdin: archive).Text
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("bin\nbin/busybox\nbin/sh\ndev\ndev/console\ndev/vda\netc\netc/hostname\ninit\n", names);
        Assert.Equal(9, listing.Length);
        Assert.Matches(@"^crw------- +1 +0 +0 +5, +1 .* dev/console$", listing[4]);
        Assert.Matches(@"^brw-rw---- +1 +0 +0 +254, +0 .* dev/vda$", listing[5]);
        Assert.Matches(@"^lrwxrwxrwx +1 +0 +0 +7 .* bin/sh -> busybox$", listing[2]);
        Assert.Matches(@"^-rw-r--r-- +1 +1000 +100 +5 .* etc/hostname$", listing[7]);
        Assert.Matches(@"^drwxr-xr-x +2 +0 +0 +0 .* etc$", listing[6]);
        Assert.Matches(@"^-rwxr-xr-x +1 +0 +0 +5001 .* bin/busybox$", listing[1]);
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void Cpio_extracts_files_with_equal_contents_symlinks_and_clamped_mtimes()
    {
        using var dir = new TempDirectory();

        // Device nodes are left out: creating one needs root, reading its header does not.
        HostTool.Run("cpio", "cpio", ["-idm", "--quiet", "--no-absolute-filenames", "--nonmatching", "dev/*"], stdin: Archive(), workDir: dir.Path);

        Assert.Equal(InitScript, File.ReadAllBytes(dir.File("init")));
        Assert.Equal(BusyboxBytes, File.ReadAllBytes(dir.File("bin/busybox")));
        Assert.Equal("edge\n", File.ReadAllText(dir.File("etc/hostname")));
        Assert.Equal("busybox", new FileInfo(dir.File("bin/sh")).LinkTarget);
        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
            File.GetUnixFileMode(dir.File("init")));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(SourceDateEpoch), File.GetLastWriteTimeUtc(dir.File("bin/busybox")));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(OlderMtime), File.GetLastWriteTimeUtc(dir.File("etc/hostname")));
    }

    [Fact]
    public void Inodes_follow_write_order_and_the_archive_ends_with_a_padded_trailer()
    {
        var archive = Archive();
        var headers = NewcHeaders(archive);

        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), headers.SkipLast(1).Select(h => h.Inode));
        Assert.Equal("TRAILER!!!", headers[^1].Name);
        Assert.All(headers, h => Assert.Equal(0, h.Offset % 4));
        Assert.Equal(0, archive.Length % 4);
        Assert.Equal(
            [SourceDateEpoch, SourceDateEpoch, SourceDateEpoch, SourceDateEpoch, SourceDateEpoch, SourceDateEpoch, SourceDateEpoch, OlderMtime, SourceDateEpoch],
            headers.SkipLast(1).Select(h => h.Mtime));
    }

    [Fact]
    public void Gzip_variant_decompresses_with_gzip_to_the_same_archive_and_has_no_mtime_or_name()
    {
        var gz = Archive(InitramfsCompression.Gzip);

        var plain = HostTool.Run("gzip", "gzip", ["-dc"], stdin: gz).Stdout;
        Assert.Equal(Archive(), plain);
        Assert.Equal([0x1F, 0x8B, 8, 0, 0, 0, 0, 0], gz[..8]);
        var listing = HostTool.Run("cpio", "cpio", ["-t", "--quiet"], stdin: plain).Text;
        Assert.Contains("dev/console\n", listing);
    }

    [Fact]
    public void Zstd_variant_decompresses_with_zstd_to_the_same_archive()
    {
        var zst = Archive(InitramfsCompression.Zstd);

        Assert.Equal(Archive(), HostTool.Run("zstd", "zstd", ["-dc"], stdin: zst).Stdout);
    }

    [Theory]
    [InlineData(InitramfsCompression.None)]
    [InlineData(InitramfsCompression.Gzip)]
    [InlineData(InitramfsCompression.Zstd)]
    public void Equal_inputs_in_any_order_give_byte_identical_archives(InitramfsCompression compression)
    {
        var first = Archive(compression);
        var second = Archive(compression, Entries().Reverse());

        Assert.Equal(first, second);
        Assert.NotEqual(first, Archive(compression, Entries().Append(CpioEntry.Directory("/proc"))));
    }

    [Fact]
    public void A_path_given_twice_is_refused_by_name()
    {
        var e = Assert.Throws<EdgeImageException>(() => Archive(entries: Entries().Append(CpioEntry.Directory("dev/"))));

        Assert.Contains("'dev'", e.Message);
    }

    [Fact]
    public void An_entry_below_a_file_is_refused()
    {
        var e = Assert.Throws<EdgeImageException>(() => Archive(entries: Entries().Append(CpioEntry.Directory("/init/x"))));

        Assert.Contains("'init/x'", e.Message);
        Assert.Contains("not a directory", e.Message);
    }

    [Fact]
    public void Content_shorter_than_announced_is_refused()
    {
        var e = Assert.Throws<EdgeImageException>(
            () => Archive(entries: [CpioEntry.File("/lib/modules.dep", 10, () => new MemoryStream(new byte[9]))]));

        Assert.Contains("'lib/modules.dep'", e.Message);
        Assert.Contains("10 bytes", e.Message);
    }

    private sealed record NewcHeader(long Offset, long Inode, long Mtime, string Name);

    /// <summary>Walks the archive by the newc rules alone, independently of the writer's code.</summary>
    private static List<NewcHeader> NewcHeaders(byte[] archive)
    {
        var headers = new List<NewcHeader>();
        var offset = 0;
        while (true)
        {
            var header = Encoding.ASCII.GetString(archive, offset, 110);
            Assert.StartsWith("070701", header);
            long Field(int index) => Convert.ToInt64(header.Substring(6 + 8 * index, 8), 16);
            var nameSize = (int)Field(11);
            var name = Encoding.UTF8.GetString(archive, offset + 110, nameSize - 1);
            headers.Add(new NewcHeader(offset, Field(0), Field(5), name));
            if (name == "TRAILER!!!")
            {
                return headers;
            }

            offset = Align4(Align4(offset + 110 + nameSize) + (int)Field(6));
        }

        static int Align4(int value) => (value + 3) & ~3;
    }
}
