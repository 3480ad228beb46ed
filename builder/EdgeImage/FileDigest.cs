using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace EdgeImage;

/// <summary>
/// SHA256 of a whole file, read in 1 MiB positional reads. SHA256.HashData(Stream) reads 4 KiB at a
/// time; every warm build re-hashes ~350 MB of cached .debs, indexes and unpacked archives before
/// the root can be compressed, and the per-call overhead of those small reads was a visible part of it.
/// </summary>
public static class FileDigest
{
    private const int ChunkSize = 1 << 20;

    /// <summary>Lower-case hex SHA256 and the number of bytes hashed (the file's length when read).</summary>
    public static (string Sha256, long Length) Sha256(SafeFileHandle file, CancellationToken cancellation = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ChunkSize];
        var offset = 0L;
        int read;
        while ((read = RandomAccess.Read(file, buffer, offset)) > 0)
        {
            cancellation.ThrowIfCancellationRequested();
            hash.AppendData(buffer, 0, read);
            offset += read;
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), offset);
    }
}
