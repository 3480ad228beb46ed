using System.Security.Cryptography;
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
    /// </summary>
    public static async Task<string> CopyAtAsync(string source, Stream disk, long offset, CancellationToken cancellation)
    {
        await using var input = File.OpenRead(source);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        var position = offset;
        int read;
        while ((read = await input.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellation)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
            {
                disk.Position = position;
                await disk.WriteAsync(buffer.AsMemory(0, read), cancellation);
            }
            position += read;
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
