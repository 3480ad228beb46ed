using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeImage.Disk;

namespace EdgeImage.Tests.Disk;

public class GptWriterTests
{
    private const long DiskSize = 256 * ByteSize.MiB;

    /// <summary>An A/B layout like the x86-64 image's, with an ESP whose size is not a whole MiB so alignment shows.</summary>
    private static GptDiskSpec AbDisk(DiskSeed seed, long diskSize = DiskSize) => new()
    {
        DiskSize = diskSize,
        Seed = seed,
        Partitions =
        [
            new() { Name = "esp", Type = GptPartitionTypes.EfiSystem, Size = PartitionSize.FromBytes(32 * ByteSize.MiB + 512 * 1024), Attributes = GptAttributes.RequiredPartition },
            new() { Name = "root-a", Type = GptPartitionTypes.RootX86_64, Size = PartitionSize.FromMiB(64), Attributes = GptAttributes.ReadOnly },
            new() { Name = "root-b", Type = GptPartitionTypes.RootX86_64, Size = PartitionSize.FromMiB(64), Attributes = GptAttributes.ReadOnly | GptAttributes.NoAuto },
            new() { Name = "data", Type = GptPartitionTypes.Var, Size = PartitionSize.Rest, Attributes = GptAttributes.GrowFileSystem },
        ],
    };

    private static GptLayout WriteImage(string path, GptDiskSpec spec)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
        return GptWriter.Write(file, spec);
    }

    [Fact]
    public void Sfdisk_reads_back_the_label_disk_guid_and_every_partition_as_written()
    {
        using var dir = new TempDirectory();
        var image = dir.File("disk.img");
        var layout = WriteImage(image, AbDisk("sfdisk-seed"));

        var json = JsonDocument.Parse(HostTool.Run("sfdisk", "fdisk", ["--json", image]).Text);
        var table = json.RootElement.GetProperty("partitiontable");
        Assert.Equal("gpt", table.GetProperty("label").GetString());
        Assert.Equal(layout.DiskGuid, Guid.Parse(table.GetProperty("id").GetString()!));
        Assert.Equal(34, table.GetProperty("firstlba").GetInt64());
        Assert.Equal(DiskSize / 512 - 34, table.GetProperty("lastlba").GetInt64());

        var read = table.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(4, read.Count);
        for (var i = 0; i < read.Count; i++)
        {
            var expected = layout.Partitions[i];
            Assert.Equal(expected.FirstLba, read[i].GetProperty("start").GetInt64());
            Assert.Equal(expected.LastLba - expected.FirstLba + 1, read[i].GetProperty("size").GetInt64());
            Assert.Equal(expected.Type, Guid.Parse(read[i].GetProperty("type").GetString()!));
            Assert.Equal(expected.UniqueGuid, Guid.Parse(read[i].GetProperty("uuid").GetString()!));
            Assert.Equal(expected.Name, read[i].GetProperty("name").GetString());
        }

        Assert.Equal([2048L, 69632L, 200704L, 331776L], read.Select(p => p.GetProperty("start").GetInt64()));
        Assert.Equal("RequiredPartition", read[0].GetProperty("attrs").GetString());
        Assert.Equal("GUID:60", read[1].GetProperty("attrs").GetString());
        Assert.Equal("GUID:60,63", read[2].GetProperty("attrs").GetString());
        Assert.Equal("GUID:59", read[3].GetProperty("attrs").GetString());
    }

    [Fact]
    public void Partitions_start_on_mebibyte_boundaries_and_the_rest_ends_before_the_backup_table()
    {
        var layout = GptWriter.Plan(AbDisk("align"));

        Assert.All(layout.Partitions, p => Assert.Equal(0, p.Offset % ByteSize.MiB));
        Assert.Equal(34 * ByteSize.MiB, layout["root-a"].Offset);
        var data = layout["data"];
        Assert.True(data.LastLba <= layout.LastUsableLba);
        Assert.Equal(DiskSize - ByteSize.MiB, data.Offset + data.Size);
    }

    [Fact]
    public void Sgdisk_verify_finds_no_problems()
    {
        using var dir = new TempDirectory();
        var image = dir.File("disk.img");
        WriteImage(image, AbDisk("sgdisk-seed"));

        var result = HostTool.Run("sgdisk", "gdisk", ["-v", image]);

        Assert.Contains("No problems found", result.Text);
    }

    [Fact]
    public void The_backup_header_is_at_the_last_lba_and_points_back_to_the_primary()
    {
        var disk = new MemoryStream();
        var layout = GptWriter.Write(disk, AbDisk("backup", 64 * ByteSize.MiB) with
        {
            Partitions = [new() { Name = "root", Type = GptPartitionTypes.RootArm64, Size = PartitionSize.Rest }],
        });

        Assert.Equal(64 * ByteSize.MiB, disk.Length);
        var last = disk.ToArray().AsSpan((int)disk.Length - 512);
        Assert.True(last[..8].SequenceEqual("EFI PART"u8));
        var lastLba = disk.Length / 512 - 1;
        Assert.Equal(lastLba, BinaryPrimitives.ReadInt64LittleEndian(last[24..]));
        Assert.Equal(1, BinaryPrimitives.ReadInt64LittleEndian(last[32..]));
        Assert.Equal(lastLba - 32, BinaryPrimitives.ReadInt64LittleEndian(last[72..]));
        Assert.Equal(lastLba, layout.BackupHeaderLba);
    }

    [Fact]
    public void The_writer_touches_only_the_table_regions_so_partition_contents_survive()
    {
        const byte fill = 0xA5;
        var bytes = new byte[64 * ByteSize.MiB];
        Array.Fill(bytes, fill);
        var disk = new MemoryStream(bytes, writable: true);
        var layout = GptWriter.Write(disk, AbDisk("sparse", bytes.Length) with
        {
            Partitions = [new() { Name = "root", Type = GptPartitionTypes.RootX86_64, Size = PartitionSize.Rest }],
        });

        var tableEnd = (2 + 32) * 512;
        var backupStart = bytes.Length - 33 * 512;
        Assert.True(bytes.AsSpan(tableEnd, backupStart - tableEnd).IndexOfAnyExcept(fill) < 0);
        Assert.Equal(0, bytes[1024 + 128]);
        Assert.Equal(ByteSize.MiB, layout.Partitions[0].Offset);
    }

    [Fact]
    public void The_same_seed_writes_identical_bytes_and_another_seed_changes_every_guid()
    {
        using var dir = new TempDirectory();
        var first = WriteImage(dir.File("a.img"), AbDisk("fleet-1"));
        WriteImage(dir.File("b.img"), AbDisk("fleet-1"));
        var other = WriteImage(dir.File("c.img"), AbDisk(new DiskSeed("fleet-2"u8)));

        Assert.Equal(Sha256(dir.File("a.img")), Sha256(dir.File("b.img")));
        Assert.NotEqual(Sha256(dir.File("a.img")), Sha256(dir.File("c.img")));
        Assert.NotEqual(first.DiskGuid, other.DiskGuid);
        Assert.All(first.Partitions.Zip(other.Partitions), pair => Assert.NotEqual(pair.First.UniqueGuid, pair.Second.UniqueGuid));
        Assert.Equal(first.Partitions.Count + 1, first.Partitions.Select(p => p.UniqueGuid).Append(first.DiskGuid).Distinct().Count());
    }

    [Fact]
    public void Derived_guids_carry_the_version_8_and_rfc_variant_bits()
    {
        var layout = GptWriter.Plan(AbDisk("bits"));

        foreach (var guid in layout.Partitions.Select(p => p.UniqueGuid).Append(layout.DiskGuid))
        {
            var text = guid.ToString();
            Assert.Equal('8', text[14]);
            Assert.Contains(text[19], "89ab");
        }
    }

    [Fact]
    public void The_reader_returns_the_layout_the_writer_wrote()
    {
        var disk = new MemoryStream();
        var written = GptWriter.Write(disk, AbDisk("round-trip"));

        var read = GptReader.Read(disk, "round-trip.img");

        Assert.Equal(written.DiskGuid, read.DiskGuid);
        Assert.Equal(written.FirstUsableLba, read.FirstUsableLba);
        Assert.Equal(written.LastUsableLba, read.LastUsableLba);
        Assert.Equal(written.BackupHeaderLba, read.BackupHeaderLba);
        Assert.Equal(written.Partitions, read.Partitions);
    }

    [Theory]
    [InlineData(1024 + 3 * 128 + 60, "primary GPT entry array's CRC32")]
    [InlineData(512 + 56, "primary GPT header's CRC32")]
    [InlineData(-512 + 40, "backup GPT header's CRC32")]
    [InlineData(-33 * 512 + 128, "backup GPT entry array's CRC32")]
    public void The_reader_rejects_a_flipped_bit_and_says_which_crc_failed(int offset, string expected)
    {
        var disk = new MemoryStream();
        GptWriter.Write(disk, AbDisk("corrupt", 64 * ByteSize.MiB) with
        {
            Partitions = [new() { Name = "root", Type = GptPartitionTypes.RootArm, Size = PartitionSize.Rest }],
        });
        var bytes = disk.GetBuffer();
        bytes[offset >= 0 ? offset : (int)disk.Length + offset] ^= 0x10;

        var e = Assert.Throws<EdgeImageException>(() => GptReader.Read(disk, "corrupt.img"));

        Assert.Contains("corrupt.img", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Equal(ExitCodes.VerificationFailed, e.ExitCode);
    }

    [Fact]
    public void A_partition_that_does_not_fit_is_named_with_its_size_and_the_disk_size()
    {
        var spec = AbDisk("too-small", 128 * ByteSize.MiB) with
        {
            Partitions =
            [
                new() { Name = "esp", Type = GptPartitionTypes.EfiSystem, Size = PartitionSize.FromMiB(64) },
                new() { Name = "root-a", Type = GptPartitionTypes.RootX86_64, Size = PartitionSize.FromMiB(100) },
                new() { Name = "data", Type = GptPartitionTypes.Var, Size = PartitionSize.Rest },
            ],
        };

        var e = Assert.Throws<EdgeImageException>(() => GptWriter.Write(new MemoryStream(), spec));

        Assert.Contains("'root-a'", e.Message);
        Assert.Contains("100 MiB", e.Message);
        Assert.Contains("128 MiB disk", e.Message);
        Assert.Contains("at least 167 MiB", e.Hint);
        Assert.Equal(ExitCodes.InvalidProfile, e.ExitCode);
    }

    [Fact]
    public void A_rest_partition_with_nothing_left_is_named()
    {
        var spec = AbDisk("full", 66 * ByteSize.MiB) with
        {
            Partitions =
            [
                new() { Name = "root", Type = GptPartitionTypes.RootX86_64, Size = PartitionSize.FromMiB(64) },
                new() { Name = "data", Type = GptPartitionTypes.Var, Size = PartitionSize.Rest },
            ],
        };

        var e = Assert.Throws<EdgeImageException>(() => GptWriter.Plan(spec));

        Assert.Contains("'data'", e.Message);
        Assert.Contains("rest of the disk", e.Message);
    }

    [Fact]
    public void Only_the_last_partition_may_take_the_rest()
    {
        var spec = AbDisk("rest-first") with
        {
            Partitions =
            [
                new() { Name = "data", Type = GptPartitionTypes.Var, Size = PartitionSize.Rest },
                new() { Name = "root", Type = GptPartitionTypes.RootX86_64, Size = PartitionSize.FromMiB(64) },
            ],
        };

        var e = Assert.Throws<EdgeImageException>(() => GptWriter.Plan(spec));

        Assert.Contains("'data'", e.Message);
        Assert.Contains("not the last", e.Message);
    }

    [Theory]
    [InlineData("amd64", "4f68bce3-e8cd-4db1-96e7-fbcaf984b709")]
    [InlineData("arm64", "b921b045-1df0-41c3-af44-4c6f280d3fae")]
    [InlineData("armhf", "69dad710-2ce4-4e3c-b16c-21a1d49abed3")]
    public void Root_partition_types_follow_the_debian_architecture(string arch, string expected)
    {
        Assert.Equal(Guid.Parse(expected), GptPartitionTypes.RootFor(arch));
    }

    [Fact]
    public void An_unknown_architecture_has_no_root_type()
    {
        var e = Assert.Throws<EdgeImageException>(() => GptPartitionTypes.RootFor("mips64el"));

        Assert.Contains("mips64el", e.Message);
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }
}
