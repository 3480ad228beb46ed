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

    /// <summary>Copies a partition's content into the disk at its offset and returns its SHA256.</summary>
    public static async Task<string> CopyAtAsync(string source, Stream disk, long offset, CancellationToken cancellation)
    {
        await using var input = File.OpenRead(source);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        disk.Position = offset;
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await input.ReadAsync(buffer, cancellation)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            await disk.WriteAsync(buffer.AsMemory(0, read), cancellation);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
