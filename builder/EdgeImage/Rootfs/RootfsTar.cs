using System.Text;

namespace EdgeImage.Rootfs;

/// <summary>
/// Writes a <see cref="RootfsTree"/> as a reproducible POSIX tar: entries sorted by path bytes,
/// numeric owners only, mtimes clamped to SOURCE_DATE_EPOCH, no atime/ctime. Headers are written by
/// hand because System.Formats.Tar's PAX and GNU writers add access and change times; here a PAX
/// extended header appears only when ustar cannot hold a long path, link target, size or id, and
/// then carries nothing else.
/// </summary>
public static class RootfsTar
{
    private const int Block = 512;
    private const long MaxOctal11 = 0x1_FFFF_FFFF; // 077777777777
    private const int MaxOctal7 = 0x1F_FFFF;       // 07777777

    public static void Write(RootfsTree tree, Stream output, long sourceDateEpoch, CancellationToken cancellation = default)
    {
        var entries = tree.Sorted();
        var firstOfGroup = new Dictionary<int, RootfsEntry>();
        var buffer = new byte[1 << 16];
        foreach (var entry in entries)
        {
            cancellation.ThrowIfCancellationRequested();
            var mtime = Math.Clamp(entry.MTime, 0, sourceDateEpoch);
            if (entry.Kind == RootfsEntryKind.File && entry.HardLinkGroup is { } group)
            {
                if (firstOfGroup.TryGetValue(group, out var primary) && primary.Content == entry.Content)
                {
                    WriteHeader(output, entry, '1', TarName(primary), 0, mtime);
                    continue;
                }
                firstOfGroup.TryAdd(group, entry);
            }
            var (type, link, size) = entry.Kind switch
            {
                RootfsEntryKind.Directory => ('5', "", 0L),
                RootfsEntryKind.File => ('0', "", entry.Size),
                RootfsEntryKind.Symlink => ('2', entry.LinkTarget!, 0L),
                RootfsEntryKind.CharDevice => ('3', "", 0L),
                RootfsEntryKind.BlockDevice => ('4', "", 0L),
                _ => ('6', "", 0L),
            };
            WriteHeader(output, entry, type, link, size, mtime);
            if (size > 0)
            {
                using var content = tree.OpenRead(entry);
                long copied = 0;
                int read;
                while ((read = content.Read(buffer)) > 0)
                {
                    output.Write(buffer, 0, read);
                    copied += read;
                }
                if (copied != size)
                {
                    throw new InvalidOperationException($"content of {entry.Path} is {copied} bytes, expected {size}");
                }
                WritePadding(output, size);
            }
        }
        output.Write(new byte[Block * 2]);
    }

    /// <summary>The member name for an entry: "./" for the root, "./usr/" for directories, "./usr/bin/sh" otherwise.</summary>
    public static string TarName(RootfsEntry entry) =>
        entry.Path == "/" ? "./" : "." + entry.Path + (entry.Kind == RootfsEntryKind.Directory ? "/" : "");

    private static void WriteHeader(Stream output, RootfsEntry entry, char type, string link, long size, long mtime)
    {
        var name = TarName(entry);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var linkBytes = Encoding.UTF8.GetBytes(link);
        var pax = new List<(string Key, string Value)>();
        byte[] prefixField = [], nameField = nameBytes;
        if (nameBytes.Length > 100 && !TrySplit(nameBytes, out prefixField, out nameField))
        {
            pax.Add(("path", name));
            nameField = Truncate(nameBytes, 100);
            prefixField = [];
        }
        if (linkBytes.Length > 100)
        {
            pax.Add(("linkpath", link));
            linkBytes = Truncate(linkBytes, 100);
        }
        if (size > MaxOctal11)
        {
            pax.Add(("size", size.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (entry.Uid > MaxOctal7 || entry.Uid < 0)
        {
            pax.Add(("uid", ((uint)entry.Uid).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (entry.Gid > MaxOctal7 || entry.Gid < 0)
        {
            pax.Add(("gid", ((uint)entry.Gid).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (pax.Count > 0)
        {
            WritePax(output, nameBytes, pax, mtime);
        }

        var header = new byte[Block];
        nameField.CopyTo(header, 0);
        Octal(header, 100, 8, entry.Mode & 0xFFF);
        Octal(header, 108, 8, Math.Clamp(entry.Uid, 0, MaxOctal7));
        Octal(header, 116, 8, Math.Clamp(entry.Gid, 0, MaxOctal7));
        Octal(header, 124, 12, Math.Min(size, MaxOctal11));
        Octal(header, 136, 12, mtime);
        header[156] = (byte)type;
        linkBytes.CopyTo(header, 157);
        if (entry.Kind is RootfsEntryKind.CharDevice or RootfsEntryKind.BlockDevice)
        {
            Octal(header, 329, 8, entry.DevMajor);
            Octal(header, 337, 8, entry.DevMinor);
        }
        prefixField.CopyTo(header, 345);
        Finish(header);
        output.Write(header);
    }

    private static void WritePax(Stream output, byte[] name, List<(string Key, string Value)> records, long mtime)
    {
        var body = new MemoryStream();
        foreach (var (key, value) in records)
        {
            var payload = Encoding.UTF8.GetByteCount($" {key}={value}\n");
            var length = payload + 1;
            while (length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + payload != length)
            {
                length++;
            }
            body.Write(Encoding.UTF8.GetBytes($"{length} {key}={value}\n"));
        }
        var header = new byte[Block];
        var baseName = name.AsSpan(name.AsSpan().TrimEnd((byte)'/').LastIndexOf((byte)'/') + 1);
        var paxName = Truncate([.. "./PaxHeaders/"u8, .. baseName], 100);
        paxName.CopyTo(header, 0);
        Octal(header, 100, 8, 0x1A4);
        Octal(header, 108, 8, 0);
        Octal(header, 116, 8, 0);
        Octal(header, 124, 12, body.Length);
        Octal(header, 136, 12, mtime);
        header[156] = (byte)'x';
        Finish(header);
        output.Write(header);
        output.Write(body.GetBuffer(), 0, (int)body.Length);
        WritePadding(output, body.Length);
    }

    /// <summary>ustar stores up to 255 bytes as prefix + "/" + name when a slash falls in the right place.</summary>
    private static bool TrySplit(byte[] path, out byte[] prefix, out byte[] name)
    {
        var trimmed = path.AsSpan().TrimEnd((byte)'/').Length;
        for (var i = Math.Min(155, trimmed - 1); i > 0; i--)
        {
            if (path[i] == '/' && path.Length - i - 1 <= 100)
            {
                prefix = path[..i];
                name = path[(i + 1)..];
                return true;
            }
        }
        prefix = [];
        name = [];
        return false;
    }

    private static byte[] Truncate(byte[] bytes, int max) => bytes.Length <= max ? bytes : bytes[..max];

    private static void Finish(byte[] header)
    {
        "ustar\0"u8.CopyTo(header.AsSpan(257));
        "00"u8.CopyTo(header.AsSpan(263));
        header.AsSpan(148, 8).Fill((byte)' ');
        var sum = 0;
        foreach (var b in header)
        {
            sum += b;
        }
        Octal(header, 148, 7, sum);
        header[155] = (byte)' ';
    }

    /// <summary>Zero-padded octal with a terminating NUL, filling the field.</summary>
    private static void Octal(byte[] header, int offset, int width, long value)
    {
        var digits = Convert.ToString(value, 8).PadLeft(width - 1, '0');
        Encoding.ASCII.GetBytes(digits).CopyTo(header, offset);
        header[offset + width - 1] = 0;
    }

    private static void WritePadding(Stream output, long size)
    {
        var rest = (int)(size % Block);
        if (rest != 0)
        {
            output.Write(new byte[Block - rest]);
        }
    }
}
