using System.Security.Cryptography;
using System.Text;
using EdgeImage.Disk;
using EdgeImage.Rootfs;

namespace EdgeImage.Boot;

/// <summary>What every board backend does while writing its disk.</summary>
public static class BoardDisk
{
    /// <summary>Unpacks a build-time package into a tree of its own, never into the rootfs.</summary>
    public static RootfsTree UnpackApart(PackageFile file, BuildContext context)
    {
        var tree = new RootfsTree(Path.Combine(context.WorkDir, "pkg-" + file.Package.Name), context.SourceDateEpoch);
        try
        {
            new DebUnpacker(tree, new DerivedCache(context.CacheDir, "unpacked")).Unpack(file, context.Cancellation);
            return tree;
        }
        catch
        {
            tree.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies a partition's content into the disk at its offset and returns its SHA256 (of every
    /// byte, zeros included). The disk is a file the build has just created, so it reads as zeros
    /// wherever nothing was written: blocks of zeros are skipped rather than written, which keeps
    /// the image sparse (the mostly empty 256 MiB ESP took 256 MiB on the host and as much to sync).
    /// Holes of a sparse source (mkfs.vfat -C leaves one) are hashed as zeros without being read.
    /// </summary>
    public static async Task<string> CopyAtAsync(string source, Stream disk, long offset, CancellationToken cancellation)
    {
        await using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        var zeros = new byte[1 << 20];
        var hashed = 0L;
        foreach (var (start, length) in SparseFile.DataRegions(input.SafeFileHandle, input.Length).ToList())
        {
            HashZeros(sha, zeros, start - hashed);
            for (var position = start; position < start + length;)
            {
                var read = await RandomAccess.ReadAsync(input.SafeFileHandle, buffer.AsMemory(0, (int)Math.Min(buffer.Length, start + length - position)), position, cancellation);
                if (read == 0)
                {
                    throw new IOException($"{source} ended at {position} bytes while being copied into the disk");
                }
                sha.AppendData(buffer, 0, read);
                if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
                {
                    disk.Position = offset + position;
                    await disk.WriteAsync(buffer.AsMemory(0, read), cancellation);
                }
                position += read;
            }
            hashed = start + length;
        }
        HashZeros(sha, zeros, input.Length - hashed);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Size of the fresh-data-partition marker: one 4 KiB block, the unit bmaptool maps and writes.</summary>
    public const int DataMarkerSize = 4096;

    /// <summary>The first line of the marker; its format version follows on the next line.</summary>
    public const string DataMarkerMagic = "EDGEIMAGE-DATA-UNFORMATTED";

    /// <summary>
    /// The block the builder writes at the start of the data partition, which tells the initramfs
    /// that the partition is fresh from this image and may get a new file system (see
    /// <c>has_marker</c> in Initramfs/init, which builds the same bytes): the magic line,
    /// "version=1" and "disk=ID" with the ID of this disk (the GPT disk GUID, or the MBR disk
    /// signature as 8 hex digits; both as blkid prints them), padded with newlines to 4 KiB.
    /// Without it the partition would be a hole in the image, and writers that skip holes or zero
    /// blocks (bmaptool with a .bmap, dd conv=sparse) leave a used card's old bytes there, which
    /// init cannot tell from a damaged data file system. Every byte is non-zero, so such writers
    /// write the whole block, and with it over the primary ext4 superblock (at 1 KiB) of whatever
    /// file system the card held. The disk ID keeps a marker left by another image (another build,
    /// another profile) from being trusted. No clock, no randomness: the same disk, the same bytes.
    /// </summary>
    public static byte[] DataMarker(string diskId)
    {
        if (diskId.Length == 0 || diskId.Any(c => !(char.IsAsciiDigit(c) || c is >= 'a' and <= 'f' || c == '-')))
        {
            throw new ArgumentException($"disk ID '{diskId}' is not lower-case hex digits and dashes, as blkid prints it", nameof(diskId));
        }
        var marker = new byte[DataMarkerSize];
        marker.AsSpan().Fill((byte)'\n');
        Encoding.ASCII.GetBytes($"{DataMarkerMagic}\nversion=1\ndisk={diskId}\n").CopyTo(marker, 0);
        return marker;
    }

    /// <summary>
    /// Writes <see cref="DataMarker"/> at the start of the data partition (offset and size in the
    /// disk); the rest of it stays a hole. The manifest gives the data partition no digest: its
    /// content is the device's own after the first boot, and hashing gigabytes of zeros cost every
    /// build about a second (measured with bench/run.sh: the disk stage ran 1 s past the squashfs).
    /// </summary>
    public static async Task WriteDataMarkerAsync(Stream disk, long offset, long size, string diskId, CancellationToken cancellation)
    {
        var marker = DataMarker(diskId);
        if (size < marker.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "the data partition is smaller than its marker");
        }
        disk.Position = offset;
        await disk.WriteAsync(marker, cancellation);
    }

    private static void HashZeros(IncrementalHash sha, byte[] zeros, long count)
    {
        for (; count > 0; count -= zeros.Length)
        {
            sha.AppendData(zeros, 0, (int)Math.Min(zeros.Length, count));
        }
    }
}
