using System.Buffers.Binary;
using System.Text;

namespace EdgeImage.Disk;

/// <summary>
/// Reads a GUID partition table back and checks it the way firmware would: protective MBR,
/// both headers' and both entry arrays' CRC32s, and that the backup agrees with the primary.
/// </summary>
public static class GptReader
{
    private const int SectorSize = GptWriter.SectorSize;

    /// <param name="source">Names the image in error messages.</param>
    public static GptLayout Read(Stream disk, string source)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var sectors = disk.Length / SectorSize;
        if (sectors < 3 + 2 * GptFormat.EntryArraySectors)
        {
            throw Damaged(source, $"it is only {ByteSize.Format(disk.Length)}, too small to hold a GPT");
        }

        var mbr = ReadAt(disk, 0, SectorSize);
        if (mbr[510] != 0x55 || mbr[511] != 0xAA || !Enumerable.Range(0, 4).Any(i => mbr[446 + 16 * i + 4] == 0xEE))
        {
            throw Damaged(source, "its first sector is not a protective MBR (no 0x55AA signature or no 0xEE partition)");
        }

        var primary = ReadHeader(disk, 1, source, "primary", sectors);
        if (primary.AlternateLba >= sectors)
        {
            throw Damaged(source, $"the primary GPT header points at a backup header at LBA {primary.AlternateLba}, past the end of the disk");
        }

        var backup = ReadHeader(disk, primary.AlternateLba, source, "backup", sectors);
        if (backup.AlternateLba != 1 || backup.DiskGuid != primary.DiskGuid
            || backup.FirstUsableLba != primary.FirstUsableLba || backup.LastUsableLba != primary.LastUsableLba
            || backup.EntriesCrc != primary.EntriesCrc || backup.EntryCount != primary.EntryCount)
        {
            throw Damaged(source, "the backup GPT header does not match the primary header");
        }

        return new GptLayout
        {
            DiskSize = disk.Length,
            DiskGuid = primary.DiskGuid,
            FirstUsableLba = primary.FirstUsableLba,
            LastUsableLba = primary.LastUsableLba,
            BackupHeaderLba = primary.AlternateLba,
            Partitions = DecodeEntries(primary.Entries),
        };
    }

    private sealed record Header(
        long AlternateLba, long FirstUsableLba, long LastUsableLba, Guid DiskGuid, int EntryCount, uint EntriesCrc, byte[] Entries);

    private static Header ReadHeader(Stream disk, long lba, string source, string which, long sectors)
    {
        var sector = ReadAt(disk, lba, SectorSize);
        var h = sector.AsSpan();
        if (!h[..8].SequenceEqual(GptFormat.Signature))
        {
            throw Damaged(source, $"no {which} GPT header at LBA {lba} (signature \"EFI PART\" missing)");
        }

        var headerSize = BinaryPrimitives.ReadInt32LittleEndian(h[12..]);
        if (headerSize < GptFormat.HeaderSize || headerSize > SectorSize)
        {
            throw Damaged(source, $"the {which} GPT header declares an impossible size of {headerSize} bytes");
        }

        var storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], 0);
        var computedCrc = Crc32.Compute(h[..headerSize]);
        if (storedCrc != computedCrc)
        {
            throw Damaged(source, $"the {which} GPT header's CRC32 is 0x{storedCrc:x8} but its contents give 0x{computedCrc:x8}");
        }

        var myLba = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
        if (myLba != lba)
        {
            throw Damaged(source, $"the {which} GPT header at LBA {lba} says it lives at LBA {myLba}");
        }

        var entriesLba = BinaryPrimitives.ReadInt64LittleEndian(h[72..]);
        var entryCount = BinaryPrimitives.ReadInt32LittleEndian(h[80..]);
        var entrySize = BinaryPrimitives.ReadInt32LittleEndian(h[84..]);
        if (entrySize != GptFormat.EntrySize || entryCount is <= 0 or > 4096)
        {
            throw Damaged(source, $"the {which} GPT header declares {entryCount} entries of {entrySize} bytes; expected up to 4096 entries of {GptFormat.EntrySize}");
        }

        var entryBytes = entryCount * entrySize;
        if (entriesLba < 2 || entriesLba + (entryBytes + SectorSize - 1) / SectorSize > sectors)
        {
            throw Damaged(source, $"the {which} GPT entry array at LBA {entriesLba} lies outside the disk");
        }

        var entries = ReadAt(disk, entriesLba, entryBytes);
        var storedEntriesCrc = BinaryPrimitives.ReadUInt32LittleEndian(h[88..]);
        var computedEntriesCrc = Crc32.Compute(entries);
        if (storedEntriesCrc != computedEntriesCrc)
        {
            throw Damaged(source, $"the {which} GPT entry array's CRC32 is 0x{storedEntriesCrc:x8} but its contents give 0x{computedEntriesCrc:x8}");
        }

        return new Header(
            AlternateLba: BinaryPrimitives.ReadInt64LittleEndian(h[32..]),
            FirstUsableLba: BinaryPrimitives.ReadInt64LittleEndian(h[40..]),
            LastUsableLba: BinaryPrimitives.ReadInt64LittleEndian(h[48..]),
            DiskGuid: new Guid(h[56..72]),
            EntryCount: entryCount,
            EntriesCrc: storedEntriesCrc,
            Entries: entries);
    }

    private static List<GptPartitionLayout> DecodeEntries(byte[] entries)
    {
        var partitions = new List<GptPartitionLayout>();
        for (var i = 0; i < entries.Length / GptFormat.EntrySize; i++)
        {
            var e = entries.AsSpan(i * GptFormat.EntrySize, GptFormat.EntrySize);
            var type = new Guid(e[..16]);
            if (type == Guid.Empty)
            {
                continue;
            }

            var name = Encoding.Unicode.GetString(e[56..128]);
            var end = name.IndexOf('\0');
            partitions.Add(new GptPartitionLayout
            {
                Number = i + 1,
                Name = end < 0 ? name : name[..end],
                Type = type,
                UniqueGuid = new Guid(e[16..32]),
                FirstLba = BinaryPrimitives.ReadInt64LittleEndian(e[32..]),
                LastLba = BinaryPrimitives.ReadInt64LittleEndian(e[40..]),
                Attributes = (GptAttributes)BinaryPrimitives.ReadUInt64LittleEndian(e[48..]),
            });
        }

        return partitions;
    }

    private static byte[] ReadAt(Stream disk, long lba, int count)
    {
        var buffer = new byte[count];
        disk.Position = lba * SectorSize;
        disk.ReadExactly(buffer);
        return buffer;
    }

    private static EdgeImageException Damaged(string source, string what) => new(
        $"{source}: {what}.",
        "The image is damaged or was changed after it was built; rebuild it, or write it again from the original.",
        ExitCodes.VerificationFailed);
}
