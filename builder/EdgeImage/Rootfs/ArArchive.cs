using System.Globalization;
using System.Text;

namespace EdgeImage.Rootfs;

/// <summary>One member of a Unix ar archive; <see cref="Data"/> is valid until the next member is read.</summary>
internal sealed record ArMember(string Name, long Size, Stream Data);

/// <summary>
/// Reads the Unix ar container of a .deb: the "!&lt;arch&gt;\n" magic, then 60-byte headers each
/// followed by the member padded to an even length. Understands GNU names ("name/", "//" table,
/// "/123") and BSD long names ("#1/len" with the name in front of the data).
/// </summary>
internal sealed class ArArchive(Stream stream, string origin)
{
    private static readonly byte[] Magic = "!<arch>\n"u8.ToArray();
    private long _next = -1;
    private byte[]? _gnuNames;

    public IEnumerable<ArMember> Members()
    {
        Span<byte> magic = stackalloc byte[8];
        if (stream.ReadAtLeast(magic, 8, throwOnEndOfStream: false) != 8 || !magic.SequenceEqual(Magic))
        {
            throw Corrupt("it does not start with the ar magic '!<arch>'");
        }
        _next = 8;
        var header = new byte[60];
        while (true)
        {
            stream.Seek(_next, SeekOrigin.Begin);
            var got = stream.ReadAtLeast(header, 60, throwOnEndOfStream: false);
            if (got == 0)
            {
                yield break;
            }
            if (got != 60 || header[58] != '`' || header[59] != '\n')
            {
                throw Corrupt($"the member header at offset {_next} is damaged");
            }
            var rawName = Encoding.ASCII.GetString(header, 0, 16).TrimEnd(' ');
            var size = ParseDecimal(header.AsSpan(48, 10), "size");
            var dataStart = _next + 60;
            _next = dataStart + size + (size & 1);
            var name = rawName;
            var bsdNameLength = 0L;
            if (rawName == "//")
            {
                _gnuNames = new byte[size];
                stream.ReadExactly(_gnuNames);
                continue;
            }
            if (rawName.StartsWith("#1/", StringComparison.Ordinal))
            {
                bsdNameLength = ParseDecimal(Encoding.ASCII.GetBytes(rawName[3..]), "BSD name length");
                var nameBytes = new byte[bsdNameLength];
                stream.ReadExactly(nameBytes);
                name = Encoding.UTF8.GetString(nameBytes).TrimEnd('\0');
            }
            else if (rawName.Length > 1 && rawName[0] == '/' && char.IsAsciiDigit(rawName[1]))
            {
                name = GnuLongName((int)ParseDecimal(Encoding.ASCII.GetBytes(rawName[1..]), "GNU name offset"));
            }
            else if (rawName is "/" or "/SYM64/")
            {
                continue;
            }
            else if (rawName.EndsWith('/'))
            {
                name = rawName[..^1];
            }
            var length = size - bsdNameLength;
            yield return new ArMember(name, length, new StreamWindow(stream, dataStart + bsdNameLength, length));
        }
    }

    private string GnuLongName(int offset)
    {
        if (_gnuNames is null || offset >= _gnuNames.Length)
        {
            throw Corrupt($"a member refers to long name {offset} but there is no GNU name table");
        }
        var end = Array.IndexOf(_gnuNames, (byte)'\n', offset);
        var name = Encoding.UTF8.GetString(_gnuNames, offset, (end < 0 ? _gnuNames.Length : end) - offset);
        return name.TrimEnd('/');
    }

    private long ParseDecimal(ReadOnlySpan<byte> field, string what)
    {
        var text = Encoding.ASCII.GetString(field).Trim();
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Corrupt($"a member header has an invalid {what} '{text}'");
    }

    private EdgeImageException Corrupt(string why) => new(
        $"{origin}: not a valid .deb: {why}",
        "The file is damaged or not a Debian package; delete it from the cache and download it again.",
        ExitCodes.VerificationFailed);
}
