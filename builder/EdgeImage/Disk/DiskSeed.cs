using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace EdgeImage.Disk;

/// <summary>
/// The secret-free input every on-disk identifier (disk GUID, partition GUIDs, MBR signature) is
/// derived from, so the same profile and seed always give the same bytes. Never random.
/// </summary>
public sealed class DiskSeed
{
    private readonly byte[] _bytes;

    public DiskSeed(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            throw new ArgumentException("A disk seed must not be empty.", nameof(bytes));
        }

        _bytes = bytes.ToArray();
    }

    public DiskSeed(string text)
        : this(Encoding.UTF8.GetBytes(text))
    {
    }

    public static implicit operator DiskSeed(string text) => new(text);

    public static implicit operator DiskSeed(byte[] bytes) => new(bytes);

    /// <summary>
    /// A version-8 (RFC 9562 custom) GUID from SHA-256(seed || 0x00 || purpose). The separator keeps
    /// a purpose from colliding with a seed that happens to end in the same bytes.
    /// </summary>
    public Guid DeriveGuid(string purpose)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Hash(purpose, hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    public uint DeriveUInt32(string purpose)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Hash(purpose, hash);
        return BinaryPrimitives.ReadUInt32BigEndian(hash);
    }

    private void Hash(string purpose, Span<byte> destination)
    {
        var purposeBytes = Encoding.UTF8.GetBytes(purpose);
        var input = new byte[_bytes.Length + 1 + purposeBytes.Length];
        _bytes.CopyTo(input, 0);
        purposeBytes.CopyTo(input, _bytes.Length + 1);
        SHA256.HashData(input, destination);
    }
}
