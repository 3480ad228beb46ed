using System.Buffers.Binary;
using System.Text;

namespace EdgeImage.Disk;

/// <summary>
/// Writes a GUID partition table: protective MBR, primary header and entry array at the start,
/// backup entry array and header at the end. Only those regions are written, so the image stays
/// sparse; the caller copies each partition's contents to the offsets in the returned layout.
/// </summary>
public static class GptWriter
{
    public const int SectorSize = 512;

    /// <summary>Partition starts are aligned to 1 MiB, as fdisk, sfdisk and systemd-repart do.</summary>
    public const long Alignment = ByteSize.MiB;

    public const int MaxNameLength = 36;

    /// <summary>Computes where every partition goes and its GUIDs, without writing anything.</summary>
    public static GptLayout Plan(GptDiskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var sectors = CheckDiskSize(spec.DiskSize);
        foreach (var p in spec.Partitions)
        {
            if (p.Name.Length > MaxNameLength)
            {
                throw new EdgeImageException(
                    $"GPT partition name '{p.Name}' is {p.Name.Length} characters long; GPT allows {MaxNameLength}.",
                    "Shorten the partition name.",
                    ExitCodes.InvalidProfile);
            }

            if (p.Type == Guid.Empty)
            {
                throw new EdgeImageException(
                    $"GPT partition '{p.Name}' has the empty type GUID, which marks an unused entry.",
                    "Use one of GptPartitionTypes or another real partition type GUID.",
                    ExitCodes.InvalidProfile);
            }
        }

        var firstUsable = 2L + GptFormat.EntryArraySectors;
        var lastUsable = sectors - 2 - GptFormat.EntryArraySectors;
        var tailReserved = (1L + GptFormat.EntryArraySectors) * SectorSize;
        var placements = PartitionAllocator.Allocate(
            "GPT",
            spec.DiskSize,
            [.. spec.Partitions.Select(p => new PartitionAllocator.Request(p.Name, p.Size))],
            usableStart: firstUsable * SectorSize,
            usableEnd: (lastUsable + 1) * SectorSize,
            Alignment,
            tailReserved);

        return new GptLayout
        {
            DiskSize = spec.DiskSize,
            DiskGuid = spec.Seed.DeriveGuid("gpt-disk"),
            FirstUsableLba = firstUsable,
            LastUsableLba = lastUsable,
            BackupHeaderLba = sectors - 1,
            Partitions =
            [
                .. spec.Partitions.Select((p, i) => new GptPartitionLayout
                {
                    Number = i + 1,
                    Name = p.Name,
                    Type = p.Type,
                    UniqueGuid = spec.Seed.DeriveGuid("gpt-partition:" + p.Name),
                    Attributes = p.Attributes,
                    FirstLba = placements[i].Offset / SectorSize,
                    LastLba = (placements[i].Offset + placements[i].Size) / SectorSize - 1,
                }),
            ],
        };
    }

    /// <summary>
    /// Writes the table into <paramref name="disk"/> (extending it to the disk size if shorter) and
    /// returns the layout. Bytes outside the table regions are left as they are.
    /// </summary>
    public static GptLayout Write(Stream disk, GptDiskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (!disk.CanSeek || !disk.CanWrite)
        {
            throw new ArgumentException("The disk stream must be seekable and writable.", nameof(disk));
        }

        var layout = Plan(spec);
        var entries = EncodeEntries(layout.Partitions);
        var entriesCrc = Crc32.Compute(entries);
        var backupEntriesLba = layout.BackupHeaderLba - GptFormat.EntryArraySectors;

        if (disk.Length < spec.DiskSize)
        {
            disk.SetLength(spec.DiskSize);
        }

        WriteAt(disk, 0, ProtectiveMbr(layout.BackupHeaderLba + 1));
        WriteAt(disk, 1, EncodeHeader(layout, myLba: 1, alternateLba: layout.BackupHeaderLba, entriesLba: 2, entriesCrc));
        WriteAt(disk, 2, entries);
        WriteAt(disk, backupEntriesLba, entries);
        WriteAt(disk, layout.BackupHeaderLba, EncodeHeader(layout, myLba: layout.BackupHeaderLba, alternateLba: 1, backupEntriesLba, entriesCrc));
        disk.Flush();
        return layout;
    }

    private static long CheckDiskSize(long diskSize)
    {
        if (diskSize <= 0 || diskSize % SectorSize != 0)
        {
            throw new EdgeImageException(
                $"Disk size {ByteSize.Format(diskSize)} is not a positive multiple of {SectorSize} bytes.",
                "Give the disk size in whole MiB.",
                ExitCodes.InvalidProfile);
        }

        return diskSize / SectorSize;
    }

    private static byte[] ProtectiveMbr(long totalSectors)
    {
        var mbr = new byte[SectorSize];
        var entry = mbr.AsSpan(446, 16);
        entry[1] = 0x00; // CHS of LBA 1: head 0, sector 2, cylinder 0
        entry[2] = 0x02;
        entry[3] = 0x00;
        entry[4] = 0xEE;
        entry[5] = 0xFF;
        entry[6] = 0xFF;
        entry[7] = 0xFF;
        BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], (uint)Math.Min(totalSectors - 1, uint.MaxValue));
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        return mbr;
    }

    private static byte[] EncodeEntries(IReadOnlyList<GptPartitionLayout> partitions)
    {
        var array = new byte[GptFormat.EntryCount * GptFormat.EntrySize];
        foreach (var p in partitions)
        {
            var e = array.AsSpan((p.Number - 1) * GptFormat.EntrySize, GptFormat.EntrySize);
            p.Type.TryWriteBytes(e[..16]);
            p.UniqueGuid.TryWriteBytes(e[16..32]);
            BinaryPrimitives.WriteInt64LittleEndian(e[32..], p.FirstLba);
            BinaryPrimitives.WriteInt64LittleEndian(e[40..], p.LastLba);
            BinaryPrimitives.WriteUInt64LittleEndian(e[48..], (ulong)p.Attributes);
            Encoding.Unicode.GetBytes(p.Name, e[56..]);
        }

        return array;
    }

    private static byte[] EncodeHeader(GptLayout layout, long myLba, long alternateLba, long entriesLba, uint entriesCrc)
    {
        var sector = new byte[SectorSize];
        var h = sector.AsSpan(0, GptFormat.HeaderSize);
        GptFormat.Signature.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], GptFormat.Revision);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], GptFormat.HeaderSize);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], myLba);
        BinaryPrimitives.WriteInt64LittleEndian(h[32..], alternateLba);
        BinaryPrimitives.WriteInt64LittleEndian(h[40..], layout.FirstUsableLba);
        BinaryPrimitives.WriteInt64LittleEndian(h[48..], layout.LastUsableLba);
        layout.DiskGuid.TryWriteBytes(h[56..72]);
        BinaryPrimitives.WriteInt64LittleEndian(h[72..], entriesLba);
        BinaryPrimitives.WriteUInt32LittleEndian(h[80..], GptFormat.EntryCount);
        BinaryPrimitives.WriteUInt32LittleEndian(h[84..], GptFormat.EntrySize);
        BinaryPrimitives.WriteUInt32LittleEndian(h[88..], entriesCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], Crc32.Compute(h));
        return sector;
    }

    private static void WriteAt(Stream disk, long lba, byte[] data)
    {
        disk.Position = lba * SectorSize;
        disk.Write(data);
    }
}

/// <summary>On-disk constants of the UEFI GPT format shared by the writer and the reader.</summary>
internal static class GptFormat
{
    public const uint Revision = 0x00010000;
    public const int HeaderSize = 92;
    public const int EntryCount = 128;
    public const int EntrySize = 128;
    public const int EntryArraySectors = EntryCount * EntrySize / GptWriter.SectorSize;

    public static ReadOnlySpan<byte> Signature => "EFI PART"u8;
}
