using System.Security.Cryptography;
using EdgeImage.Boot;
using EdgeImage.Disk;

namespace EdgeImage.Tests.Boot;

public sealed class BoardDiskTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A 9 MiB sparse file: data at 0, a hole, data straddling 5 MiB, a hole to the end.</summary>
    private string SparseSource()
    {
        var path = _dir.File("partition.img");
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(9 << 20);
        file.Write(Enumerable.Range(0, 70_000).Select(i => (byte)(i % 253 + 1)).ToArray());
        file.Position = (5 << 20) - 3000;
        file.Write(Enumerable.Range(0, 10_000).Select(i => (byte)(i % 7)).ToArray());
        return path;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3 << 20)]
    public async Task A_sparse_partition_is_copied_byte_for_byte_and_hashed_with_its_holes(long offset)
    {
        var source = SparseSource();
        var expected = File.ReadAllBytes(source);
        using var disk = new FileStream(_dir.File("disk.img"), FileMode.CreateNew, FileAccess.ReadWrite);
        disk.SetLength(offset + expected.Length + (1 << 20));

        var digest = await BoardDisk.CopyAtAsync(source, disk, offset, CancellationToken.None);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(expected)), digest);
        var copied = new byte[expected.Length];
        disk.Position = offset;
        disk.ReadExactly(copied);
        Assert.Equal(expected, copied);
    }

    [Fact]
    public void The_data_marker_is_4_KiB_of_text_naming_the_disk_with_no_zero_byte_and_the_same_bytes_every_time()
    {
        var marker = BoardDisk.DataMarker("6f0b3c52-7d0e-8a41-9b2c-5e7f10a2d3c4");

        // Every byte non-zero: writers that skip zero blocks (dd conv=sparse) still write all of it.
        Assert.Equal(4096, marker.Length);
        Assert.DoesNotContain((byte)0, marker);
        Assert.Equal("EDGEIMAGE-DATA-UNFORMATTED\nversion=1\ndisk=6f0b3c52-7d0e-8a41-9b2c-5e7f10a2d3c4\n" + new string('\n', 4096 - 79),
            System.Text.Encoding.ASCII.GetString(marker));
        Assert.Equal(marker, BoardDisk.DataMarker("6f0b3c52-7d0e-8a41-9b2c-5e7f10a2d3c4"));
        Assert.NotEqual(marker, BoardDisk.DataMarker("1234abcd"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("6F0B3C52")]
    [InlineData("1234abcd\n")]
    public void A_disk_ID_blkid_would_not_print_is_refused(string diskId) =>
        Assert.Throws<ArgumentException>(() => BoardDisk.DataMarker(diskId));

    [Fact]
    public async Task The_data_partition_starts_with_the_marker_and_the_rest_stays_a_hole()
    {
        const long offset = 3 << 20, size = 8 << 20;
        using var disk = new FileStream(_dir.File("disk.img"), FileMode.CreateNew, FileAccess.ReadWrite);
        disk.SetLength(offset + size + (1 << 20));

        await BoardDisk.WriteDataMarkerAsync(disk, offset, size, "1234abcd", CancellationToken.None);

        var partition = new byte[size];
        disk.Position = offset;
        disk.ReadExactly(partition);
        Assert.Equal(BoardDisk.DataMarker("1234abcd"), partition[..4096]);
        Assert.All(partition[4096..], b => Assert.Equal(0, b));
        disk.Flush();
        var regions = SparseFile.DataRegions(disk.SafeFileHandle, disk.Length).ToList();
        // File systems allocate whole blocks: one block-sized region at the partition's start.
        var region = Assert.Single(regions);
        Assert.True(region.Offset == offset && region.Length >= 4096 && region.Length < 1 << 20, $"{region}");
    }

    [Fact]
    public void The_data_regions_of_a_sparse_file_cover_its_data_and_leave_out_its_holes()
    {
        var source = SparseSource();
        using var file = File.OpenHandle(source);

        var regions = SparseFile.DataRegions(file, 9 << 20).ToList();

        // File systems allocate whole blocks: regions are block-aligned supersets of what was written.
        Assert.Equal(2, regions.Count);
        Assert.True(regions[0].Offset == 0 && regions[0].Length >= 70_000 && regions[0].Length < 1 << 20);
        Assert.True(regions[1].Offset <= (5 << 20) - 3000 && regions[1].Offset + regions[1].Length >= (5 << 20) + 7000 && regions[1].Length < 1 << 20);
    }

    [Fact]
    public async Task A_file_without_holes_is_hashed_whole()
    {
        var source = _dir.File("dense.img");
        var bytes = Enumerable.Range(0, (2 << 20) + 123).Select(i => (byte)(i * 31)).ToArray();
        File.WriteAllBytes(source, bytes);
        using var disk = new MemoryStream();

        var digest = await BoardDisk.CopyAtAsync(source, disk, 4096, CancellationToken.None);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), digest);
        Assert.Equal(bytes, disk.ToArray()[4096..]);
    }
}
