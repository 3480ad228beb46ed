using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace EdgeImage;

/// <summary>
/// SHA256 of a whole file, read in 1 MiB positional reads. SHA256.HashData(Stream) reads 4 KiB at a
/// time; every warm build re-hashes ~350 MB of cached .debs, indexes and unpacked archives before
/// the root can be compressed, and the per-call overhead of those small reads was a visible part of it.
/// The buffer comes from the shared pool and is no larger than the file: a fresh 1 MiB array per
/// call (hundreds of small derived-cache entries per build) was a large-object allocation each, and
/// the garbage collections they caused cost more than the hashing.
/// </summary>
public static class FileDigest
{
    private const int ChunkSize = 1 << 20;

    /// <summary>Lower-case hex SHA256 and the number of bytes hashed (the file's length when read).</summary>
    public static (string Sha256, long Length) Sha256(SafeFileHandle file, CancellationToken cancellation = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // One byte more than the length: a file that grew while it was read is still read to its end.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(RandomAccess.GetLength(file) + 1, 4096, ChunkSize));
        try
        {
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
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
