using System.Formats.Tar;
using System.IO.Compression;
using EdgeImage.Compression;
using EdgeImage.Packages;
using ZstdSharp;

namespace EdgeImage.Rootfs;

/// <summary>One member of a package's data archive, its path already checked, its bytes already staged.</summary>
internal sealed record DebMember
{
    /// <summary>The name exactly as the archive has it, for error messages.</summary>
    public required string Name { get; init; }

    /// <summary>Normalized absolute path, free of ".." (not yet resolved through symlinks).</summary>
    public required string Path { get; init; }

    public required TarEntryType Type { get; init; }

    public required int Mode { get; init; }

    public int Uid { get; init; }

    public int Gid { get; init; }

    public long MTime { get; init; }

    /// <summary>Symlink target as shipped, or the checked, normalized path of a hard link's target.</summary>
    public string? LinkTarget { get; init; }

    public int DevMajor { get; init; }

    public int DevMinor { get; init; }

    public FileContent? Content { get; init; }
}

/// <summary>A .deb read completely: control data in memory, file contents in a staging segment (or referenced in the cached archive it adopted).</summary>
internal sealed record DebContents(
    string DebName,
    long DebSize,
    ControlParagraph Control,
    IReadOnlyDictionary<string, byte[]> ControlFiles,
    IReadOnlyList<DebMember> Members);

/// <summary>
/// Reads a .deb without touching the tree, so several can be read at once: the ar container,
/// debian-binary, the control archive and the data archive (none, gzip, xz or zstd). Member names
/// that are absolute after stripping "./" or that contain ".." are refused here.
/// </summary>
internal static class DebReader
{
    private static readonly HashSet<string> MaintainerScripts =
        new(["preinst", "postinst", "prerm", "postrm", "config"], StringComparer.Ordinal);

    /// <param name="unpacked">Where decompressed data archives are kept between builds; null reads every .deb afresh.</param>
    public static DebContents Read(PackageFile file, ContentSegment segment, CancellationToken cancellation, DerivedCache? unpacked = null)
    {
        var debName = System.IO.Path.GetFileName(file.DebPath);
        using var stream = OpenDeb(file.DebPath);
        ControlParagraph? control = null;
        IReadOnlyDictionary<string, byte[]>? controlFiles = null;
        IReadOnlyList<DebMember>? members = null;
        var sawVersion = false;
        foreach (var member in new ArArchive(stream, debName).Members())
        {
            cancellation.ThrowIfCancellationRequested();
            if (member.Name == "debian-binary")
            {
                var text = new StreamReader(member.Data).ReadToEnd();
                if (!text.StartsWith("2.", StringComparison.Ordinal))
                {
                    throw Refuse(debName, "debian-binary", $"unsupported package format version '{text.Trim()}'");
                }
                sawVersion = true;
            }
            else if (member.Name.StartsWith("control.tar", StringComparison.Ordinal))
            {
                (control, controlFiles) = ReadControl(member, debName, file.Package);
            }
            else if (member.Name.StartsWith("data.tar", StringComparison.Ordinal))
            {
                if (!sawVersion || control is null)
                {
                    throw Refuse(debName, member.Name, "data comes before debian-binary and the control archive");
                }
                members = ReadData(member, debName, segment, file.Package.Sha256, unpacked, cancellation);
            }
            else if (!member.Name.StartsWith('_'))
            {
                throw Refuse(debName, member.Name, "unknown member in a .deb");
            }
        }
        if (members is null)
        {
            throw Refuse(debName, "data.tar", "the package has no data archive");
        }
        return new DebContents(debName, stream.Length, control!, controlFiles!, members);
    }

    private static FileStream OpenDeb(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeImageException($"cannot read package file {path}: {e.Message}",
                "The download cache is incomplete; run the build again without --offline.", ExitCodes.NotFound, e);
        }
    }

    private static (ControlParagraph, IReadOnlyDictionary<string, byte[]>) ReadControl(ArMember member, string debName, PackageRecord record)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        using (var tar = new TarReader(Decompress(member, debName)))
        {
            while (NextEntry(tar, debName, member.Name) is { } entry)
            {
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                {
                    var bytes = new byte[entry.Length];
                    entry.DataStream?.ReadExactly(bytes);
                    files[RootfsTree.Normalize(entry.Name).TrimStart('/')] = bytes;
                }
            }
        }
        if (!files.TryGetValue("control", out var controlBytes))
        {
            throw Refuse(debName, member.Name, "the control archive has no 'control' file");
        }
        var control = ControlParagraph.ParseSingle(System.Text.Encoding.UTF8.GetString(controlBytes));
        var name = control.Required("Package", $"{debName}:control");
        if (name != record.Name)
        {
            throw new EdgeImageException(
                $"{debName}: the package inside is '{name}' but the index promised '{record.Name}'",
                "The cache holds the wrong file for this package; delete it from the cache and download it again.",
                ExitCodes.VerificationFailed);
        }
        var kept = files.Where(f => f.Key != "control" && !MaintainerScripts.Contains(f.Key))
            .ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);
        return (control, kept);
    }

    private static List<DebMember> ReadData(ArMember member, string debName, ContentSegment segment, string debSha256, DerivedCache? unpacked, CancellationToken cancellation)
    {
        // An uncompressed data.tar is read straight from the .deb; a copy would save nothing.
        if (unpacked is null || member.Name == "data.tar")
        {
            using var plain = Decompress(member, debName);
            return ReadMembers(plain, member.Name, debName, segment, cancellation);
        }
        if (unpacked.TryOpen(debSha256) is { } cached)
        {
            // The verified archive becomes the package's content: files are referenced at their
            // offsets in it and never copied (the tree keeps it open until it is disposed).
            segment.Adopt(cached);
            return ReadMembers(cached, member.Name, debName, segment, cancellation, adopted: true);
        }
        using var filling = unpacked.Fill(Decompress(member, debName), debSha256);
        var members = ReadMembers(new BufferedStream(filling, 1 << 16), member.Name, debName, segment, cancellation);
        filling.Commit();
        return members;
    }

    private static List<DebMember> ReadMembers(Stream data, string memberName, string debName, ContentSegment segment, CancellationToken cancellation, bool adopted = false)
    {
        try
        {
            return ReadEntries(data, memberName, debName, segment, cancellation, adopted);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            // A decoder that fails inside a file's data (xz ending early, a bad CRC) surfaces here, not in NextEntry.
            throw new EdgeImageException(
                $"{debName}: member '{memberName}' cannot be decompressed: {e.Message}",
                "The package is damaged; delete it from the cache and download it again.",
                ExitCodes.VerificationFailed, e);
        }
    }

    /// <param name="adopted">
    /// <paramref name="data"/> is the segment's adopted file: seekable, so TarReader gives each
    /// entry's DataOffset in it and seeks past the data instead of reading it.
    /// </param>
    private static List<DebMember> ReadEntries(Stream data, string memberName, string debName, ContentSegment segment, CancellationToken cancellation, bool adopted)
    {
        var members = new List<DebMember>();
        using var tar = new TarReader(data, leaveOpen: true);
        while (NextEntry(tar, debName, memberName) is { } entry)
        {
            cancellation.ThrowIfCancellationRequested();
            var origin = $"{debName}: member '{entry.Name}'";
            var read = new DebMember
            {
                Name = entry.Name,
                Path = CheckedPath(entry.Name, origin),
                Type = entry.EntryType,
                Mode = (int)entry.Mode & 0xFFF,
                Uid = entry.Uid,
                Gid = entry.Gid,
                MTime = entry.ModificationTime.ToUnixTimeSeconds(),
            };
            members.Add(entry.EntryType switch
            {
                TarEntryType.Directory => read,
                TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile =>
                    read with
                    {
                        Content = adopted
                            ? segment.Reference(entry.DataOffset, entry.Length, origin)
                            : segment.Append(entry.DataStream ?? Stream.Null, entry.Length, origin),
                    },
                TarEntryType.SymbolicLink when !string.IsNullOrEmpty(entry.LinkName) => read with { LinkTarget = entry.LinkName },
                TarEntryType.SymbolicLink => throw Refuse(debName, entry.Name, "symlink without a target"),
                TarEntryType.HardLink => read with { LinkTarget = CheckedPath(entry.LinkName, $"{origin} (hard link target '{entry.LinkName}')") },
                TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo => read with
                {
                    DevMajor = entry is PosixTarEntry p ? p.DeviceMajor : 0,
                    DevMinor = entry is PosixTarEntry q ? q.DeviceMinor : 0,
                },
                _ => throw Refuse(debName, entry.Name, $"unsupported tar entry type {entry.EntryType}"),
            });
        }
        return members;
    }

    /// <summary>Normalizes a member name and refuses absolute paths and any "..".</summary>
    private static string CheckedPath(string raw, string origin)
    {
        var trimmed = raw;
        while (trimmed.StartsWith("./", StringComparison.Ordinal))
        {
            trimmed = trimmed[2..];
        }
        if (trimmed.StartsWith('/'))
        {
            throw Unsafe(origin, "is an absolute path");
        }
        if (trimmed.Split('/').Contains(".."))
        {
            throw Unsafe(origin, "contains '..'");
        }
        if (trimmed.Contains('\0'))
        {
            throw Unsafe(origin, "contains a NUL byte");
        }
        return RootfsTree.Normalize(trimmed);
    }

    private static EdgeImageException Unsafe(string origin, string why) => new(
        $"{origin} {why}; refusing to unpack it",
        "A .deb must only contain paths relative to the root; the package is damaged or malicious.",
        ExitCodes.VerificationFailed);

    internal static EdgeImageException Refuse(string debName, string member, string why) => new(
        $"{debName}: member '{member}': {why}",
        "The file is damaged or not a Debian package; delete it from the cache and download it again.",
        ExitCodes.VerificationFailed);

    private static TarEntry? NextEntry(TarReader tar, string debName, string memberName)
    {
        try
        {
            return tar.GetNextEntry();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or IOException)
        {
            throw new EdgeImageException(
                $"{debName}: member '{memberName}' is not a readable tar archive: {e.Message}",
                "The package is damaged; delete it from the cache and download it again.",
                ExitCodes.VerificationFailed, e);
        }
    }

    private static Stream Decompress(ArMember member, string debName)
    {
        // The .deb's FileStream already buffers; the managed xz decoder also needs the input's Position, which BufferedStream hides.
        var raw = member.Data;
        Stream plain = System.IO.Path.GetExtension(member.Name) switch
        {
            ".tar" => raw,
            ".gz" => new GZipStream(raw, CompressionMode.Decompress),
            ".xz" => Xz.Decompress(raw),
            ".zst" => new DecompressionStream(raw),
            _ => throw Refuse(debName, member.Name, "unsupported compression (supported: none, gzip, xz, zstd)"),
        };
        return new BufferedStream(plain, 1 << 16);
    }
}
