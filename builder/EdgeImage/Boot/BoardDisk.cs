using System.Security.Cryptography;
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

    private static void HashZeros(IncrementalHash sha, byte[] zeros, long count)
    {
        for (; count > 0; count -= zeros.Length)
        {
            sha.AppendData(zeros, 0, (int)Math.Min(zeros.Length, count));
        }
    }
}
