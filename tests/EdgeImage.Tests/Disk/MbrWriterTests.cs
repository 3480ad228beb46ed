using System.Security.Cryptography;
using System.Text.Json;
using EdgeImage.Disk;

namespace EdgeImage.Tests.Disk;

public class MbrWriterTests
{
    private const long DiskSize = 128 * ByteSize.MiB;

    /// <summary>The Raspberry Pi shape: a bootable FAT32 partition whose size is not a multiple of 4 MiB, then Linux.</summary>
    private static MbrDiskSpec PiDisk(DiskSeed seed) => new()
    {
        DiskSize = DiskSize,
        Seed = seed,
        Partitions =
        [
            new() { Name = "boot", Type = MbrPartitionTypes.Fat32Lba, Size = PartitionSize.FromMiB(62), Bootable = true },
            new() { Name = "root", Type = MbrPartitionTypes.Linux, Size = PartitionSize.Rest },
        ],
    };

    private static MbrLayout WriteImage(string path, MbrDiskSpec spec)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
        return MbrWriter.Write(file, spec);
    }

    [Fact]
    public void Sfdisk_reads_back_a_dos_label_with_the_seeded_signature_types_and_bootable_flag()
    {
        using var dir = new TempDirectory();
        var image = dir.File("pi.img");
        var layout = WriteImage(image, PiDisk("pi-seed"));

        var table = JsonDocument.Parse(HostTool.Run("sfdisk", "fdisk", ["--json", image]).Text).RootElement.GetProperty("partitiontable");

        Assert.Equal("dos", table.GetProperty("label").GetString());
        Assert.Equal($"0x{layout.DiskSignature:x8}", table.GetProperty("id").GetString());
        var read = table.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(2, read.Count);
        Assert.Equal("c", read[0].GetProperty("type").GetString());
        Assert.True(read[0].GetProperty("bootable").GetBoolean());
        Assert.Equal("83", read[1].GetProperty("type").GetString());
        Assert.False(read[1].TryGetProperty("bootable", out _));
        Assert.Equal([8192L, 139264L], read.Select(p => p.GetProperty("start").GetInt64()));
        Assert.Equal([62 * 2048L, DiskSize / 512 - 139264], read.Select(p => p.GetProperty("size").GetInt64()));
        Assert.Equal(layout.Partitions.Select(p => p.FirstLba), read.Select(p => p.GetProperty("start").GetInt64()));
        Assert.Equal(layout.Partitions.Select(p => p.SectorCount), read.Select(p => p.GetProperty("size").GetInt64()));
    }

    [Fact]
    public void Sfdisk_verify_finds_no_errors()
    {
        using var dir = new TempDirectory();
        var image = dir.File("pi.img");
        WriteImage(image, PiDisk("verify"));

        Assert.Contains("No errors detected", HostTool.Run("sfdisk", "fdisk", ["--verify", image]).Text);
    }

    [Fact]
    public void Partitions_start_on_4_mib_boundaries_and_partuuids_follow_the_signature()
    {
        var layout = MbrWriter.Plan(PiDisk("align"));

        Assert.All(layout.Partitions, p => Assert.Equal(0, p.Offset % (4 * ByteSize.MiB)));
        Assert.Equal(DiskSize, layout.Partitions[^1].Offset + layout.Partitions[^1].Size);
        Assert.Equal($"{layout.DiskSignature:x8}-02", layout.Partitions[1].PartUuid);
    }

    [Fact]
    public void The_same_seed_writes_identical_bytes_and_another_seed_changes_the_signature()
    {
        using var dir = new TempDirectory();
        var first = WriteImage(dir.File("a.img"), PiDisk("node"));
        WriteImage(dir.File("b.img"), PiDisk("node"));
        var other = WriteImage(dir.File("c.img"), PiDisk("node-2"));

        Assert.Equal(Sha256(dir.File("a.img")), Sha256(dir.File("b.img")));
        Assert.NotEqual(first.DiskSignature, other.DiskSignature);
    }

    [Fact]
    public void A_fifth_primary_partition_is_refused()
    {
        var spec = PiDisk("five") with
        {
            Partitions = [.. Enumerable.Range(1, 5).Select(i => new MbrPartitionSpec { Name = $"p{i}", Type = MbrPartitionTypes.Linux, Size = PartitionSize.FromMiB(4) })],
        };

        var e = Assert.Throws<EdgeImageException>(() => MbrWriter.Plan(spec));

        Assert.Contains("at most 4", e.Message);
        Assert.Contains("p5", e.Message);
    }

    [Fact]
    public void A_partition_that_does_not_fit_is_named_with_its_size_and_the_disk_size()
    {
        var spec = PiDisk("small") with
        {
            Partitions =
            [
                new() { Name = "boot", Type = MbrPartitionTypes.Fat32Lba, Size = PartitionSize.FromMiB(64) },
                new() { Name = "rootfs", Type = MbrPartitionTypes.Linux, Size = PartitionSize.FromMiB(100) },
            ],
        };

        var e = Assert.Throws<EdgeImageException>(() => MbrWriter.Plan(spec));

        Assert.Contains("'rootfs'", e.Message);
        Assert.Contains("100 MiB", e.Message);
        Assert.Contains("128 MiB disk", e.Message);
        Assert.Contains("at least 168 MiB", e.Hint);
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }
}
