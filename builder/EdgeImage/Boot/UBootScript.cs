using System.Buffers.Binary;
using System.Text;
using EdgeImage.Disk;

namespace EdgeImage.Boot;

/// <summary>
/// A U-Boot script in the legacy image format U-Boot's `source` command reads (what
/// `mkimage -A arm -T script -C none -d boot.cmd boot.scr` writes): a 64-byte big-endian header
/// with CRC32s of itself and of the data, then a one-entry image table (the script's length and a
/// zero terminator) and the script. Written here so the build needs no u-boot-tools.
/// </summary>
public static class UBootScript
{
    public const int HeaderSize = 64;

    private const uint Magic = 0x27051956;
    private const byte OsLinux = 5;
    private const byte TypeScript = 6;
    private const byte CompressionNone = 0;
    private const int NameSize = 32;

    /// <summary>U-Boot's IH_ARCH_* value for a Debian architecture.</summary>
    public static byte ArchOf(string debianArch) => debianArch switch
    {
        "armhf" or "armel" => 2,
        "arm64" => 22,
        "amd64" => 24,
        "riscv64" => 26,
        _ => throw new EdgeImageException($"U-Boot has no architecture code for {debianArch} here", "use armhf, arm64, amd64 or riscv64"),
    };

    /// <param name="timestamp">The header's creation time: SOURCE_DATE_EPOCH, so the file is reproducible.</param>
    public static byte[] Wrap(string script, string name, string debianArch, long timestamp)
    {
        var body = Encoding.UTF8.GetBytes(script.ReplaceLineEndings("\n"));
        var data = new byte[8 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)body.Length);
        body.CopyTo(data, 8);

        var image = new byte[HeaderSize + data.Length];
        var header = image.AsSpan(0, HeaderSize);
        BinaryPrimitives.WriteUInt32BigEndian(header, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(header[8..], (uint)timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(header[12..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32BigEndian(header[24..], Crc32.Compute(data));
        header[28] = OsLinux;
        header[29] = ArchOf(debianArch);
        header[30] = TypeScript;
        header[31] = CompressionNone;
        var nameBytes = Encoding.ASCII.GetBytes(name);
        nameBytes.AsSpan(0, Math.Min(nameBytes.Length, NameSize - 1)).CopyTo(header[32..]);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], Crc32.Compute(header));
        data.CopyTo(image, HeaderSize);
        return image;
    }

    /// <summary>The script of a boot.scr, after checking both CRCs the way U-Boot's `source` does.</summary>
    public static string Unwrap(ReadOnlySpan<byte> image)
    {
        if (image.Length < HeaderSize + 8 || BinaryPrimitives.ReadUInt32BigEndian(image) != Magic)
        {
            throw new InvalidDataException("not a U-Boot legacy image (bad magic)");
        }
        var header = image[..HeaderSize].ToArray();
        var headerCrc = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        header.AsSpan(4, 4).Clear();
        if (Crc32.Compute(header) != headerCrc)
        {
            throw new InvalidDataException("U-Boot image header CRC mismatch");
        }
        var size = (int)BinaryPrimitives.ReadUInt32BigEndian(image[12..]);
        var data = image.Slice(HeaderSize, size);
        if (Crc32.Compute(data) != BinaryPrimitives.ReadUInt32BigEndian(image[24..]) || image[30] != TypeScript)
        {
            throw new InvalidDataException("U-Boot script data CRC mismatch or not a script image");
        }
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
        return Encoding.UTF8.GetString(data.Slice(8, length));
    }
}
