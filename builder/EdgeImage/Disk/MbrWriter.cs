using System.Buffers.Binary;

namespace EdgeImage.Disk;

/// <summary>DOS partition type bytes the Raspberry Pi images use.</summary>
public static class MbrPartitionTypes
{
    /// <summary>FAT32 with LBA addressing: what the Pi firmware looks for on its boot partition.</summary>
    public const byte Fat32Lba = 0x0C;

    public const byte Linux = 0x83;
}

public sealed record MbrPartitionSpec
{
    /// <summary>Not stored on disk (MBR has no labels); names the partition in errors and the manifest.</summary>
    public required string Name { get; init; }

    public required byte Type { get; init; }

    public required PartitionSize Size { get; init; }

    public bool Bootable { get; init; }
}

public sealed record MbrDiskSpec
{
    /// <summary>Whole image size in bytes, a multiple of 512 and at most 2 TiB.</summary>
    public required long DiskSize { get; init; }

    public required DiskSeed Seed { get; init; }

    /// <summary>Up to four primary partitions, in on-disk order.</summary>
    public required IReadOnlyList<MbrPartitionSpec> Partitions { get; init; }
}

public sealed record MbrPartitionLayout
{
    public required int Number { get; init; }

    public required string Name { get; init; }

    public required byte Type { get; init; }

    public required bool Bootable { get; init; }

    public required long FirstLba { get; init; }

    public required long SectorCount { get; init; }

    /// <summary>What Linux shows as PARTUUID (disk signature and partition number), usable in root=PARTUUID=.</summary>
    public required string PartUuid { get; init; }

    public long Offset => FirstLba * MbrWriter.SectorSize;

    public long Size => SectorCount * MbrWriter.SectorSize;
}

public sealed record MbrLayout
{
    public required long DiskSize { get; init; }

    public required uint DiskSignature { get; init; }

    public required IReadOnlyList<MbrPartitionLayout> Partitions { get; init; }
}

/// <summary>
/// Writes a DOS (MBR) partition table for boards whose firmware cannot read GPT, the Raspberry Pi
/// among them. Only the first sector is written; partition contents go to the returned offsets.
/// </summary>
public static class MbrWriter
{
    public const int SectorSize = 512;

    /// <summary>4 MiB: the erase-block size SD cards commonly have, as Raspberry Pi OS aligns.</summary>
    public const long Alignment = 4 * ByteSize.MiB;

    public const int MaxPartitions = 4;

    private const long MaxDiskSize = (long)uint.MaxValue * SectorSize;

    public static MbrLayout Plan(MbrDiskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.DiskSize <= 0 || spec.DiskSize % SectorSize != 0 || spec.DiskSize > MaxDiskSize)
        {
            throw new EdgeImageException(
                $"Disk size {ByteSize.Format(spec.DiskSize)} cannot carry an MBR partition table: it must be a positive multiple of {SectorSize} bytes and at most 2 TiB.",
                "Give the disk size in whole MiB, below 2 TiB.",
                ExitCodes.InvalidProfile);
        }

        if (spec.Partitions.Count > MaxPartitions)
        {
            throw new EdgeImageException(
                $"An MBR holds at most {MaxPartitions} primary partitions; {spec.Partitions.Count} were asked for ({string.Join(", ", spec.Partitions.Select(p => p.Name))}).",
                "Drop partitions or use a GPT disk.",
                ExitCodes.InvalidProfile);
        }

        var unusedType = spec.Partitions.FirstOrDefault(p => p.Type == 0);
        if (unusedType is not null)
        {
            throw new EdgeImageException(
                $"MBR partition '{unusedType.Name}' has type 0x00, which marks an unused entry.",
                "Use MbrPartitionTypes.Fat32Lba, MbrPartitionTypes.Linux or another real type.",
                ExitCodes.InvalidProfile);
        }

        var placements = PartitionAllocator.Allocate(
            "MBR",
            spec.DiskSize,
            [.. spec.Partitions.Select(p => new PartitionAllocator.Request(p.Name, p.Size))],
            usableStart: SectorSize,
            usableEnd: spec.DiskSize,
            Alignment,
            tailReserved: 0);

        var signature = spec.Seed.DeriveUInt32("mbr-disk-signature");
        return new MbrLayout
        {
            DiskSize = spec.DiskSize,
            DiskSignature = signature,
            Partitions =
            [
                .. spec.Partitions.Select((p, i) => new MbrPartitionLayout
                {
                    Number = i + 1,
                    Name = p.Name,
                    Type = p.Type,
                    Bootable = p.Bootable,
                    FirstLba = placements[i].Offset / SectorSize,
                    SectorCount = placements[i].Size / SectorSize,
                    PartUuid = $"{signature:x8}-{i + 1:x2}",
                }),
            ],
        };
    }

    /// <summary>Writes sector 0 (extending the stream to the disk size if shorter) and returns the layout.</summary>
    public static MbrLayout Write(Stream disk, MbrDiskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (!disk.CanSeek || !disk.CanWrite)
        {
            throw new ArgumentException("The disk stream must be seekable and writable.", nameof(disk));
        }

        var layout = Plan(spec);
        var mbr = new byte[SectorSize];
        BinaryPrimitives.WriteUInt32LittleEndian(mbr.AsSpan(440), layout.DiskSignature);
        foreach (var p in layout.Partitions)
        {
            var e = mbr.AsSpan(446 + 16 * (p.Number - 1), 16);
            e[0] = p.Bootable ? (byte)0x80 : (byte)0x00;
            WriteChs(e[1..4], p.FirstLba);
            e[4] = p.Type;
            WriteChs(e[5..8], p.FirstLba + p.SectorCount - 1);
            BinaryPrimitives.WriteUInt32LittleEndian(e[8..], (uint)p.FirstLba);
            BinaryPrimitives.WriteUInt32LittleEndian(e[12..], (uint)p.SectorCount);
        }

        mbr[510] = 0x55;
        mbr[511] = 0xAA;

        if (disk.Length < spec.DiskSize)
        {
            disk.SetLength(spec.DiskSize);
        }

        disk.Position = 0;
        disk.Write(mbr);
        disk.Flush();
        return layout;
    }

    /// <summary>
    /// Cylinder/head/sector in the 255-head, 63-sector geometry fdisk assumes; addresses past
    /// cylinder 1023 saturate, which tells readers to use the LBA fields.
    /// </summary>
    private static void WriteChs(Span<byte> chs, long lba)
    {
        const int heads = 255, sectorsPerTrack = 63;
        var cylinder = lba / (heads * sectorsPerTrack);
        var head = lba / sectorsPerTrack % heads;
        var sector = lba % sectorsPerTrack + 1;
        if (cylinder > 1023)
        {
            (cylinder, head, sector) = (1023, 254, 63);
        }

        chs[0] = (byte)head;
        chs[1] = (byte)(sector | ((cylinder >> 2) & 0xC0));
        chs[2] = (byte)(cylinder & 0xFF);
    }
}
