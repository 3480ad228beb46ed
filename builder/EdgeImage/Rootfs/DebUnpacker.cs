using System.Formats.Tar;
using System.IO.Compression;
using EdgeImage.Packages;
using SharpCompress.Compressors.Xz;
using ZstdSharp;

namespace EdgeImage.Rootfs;

/// <summary>
/// Unpacks .deb files into a <see cref="RootfsTree"/> in-process, the way dpkg's unpack phase
/// would, without running anything. Member paths are checked before they touch the tree (no
/// absolute paths, no "..", no resolution through a symlink that leaves the root), symlinks inside
/// the root are followed for parent directories (so /bin/foo lands in /usr/bin/foo once base-files'
/// /bin -> usr/bin exists), and two packages may ship the same non-directory path only when one
/// declares Replaces: on the other; the replacing package's copy wins whichever is unpacked first.
/// </summary>
public sealed class DebUnpacker(RootfsTree tree)
{
    private static readonly HashSet<string> MaintainerScripts =
        new(["preinst", "postinst", "prerm", "postrm", "config"], StringComparer.Ordinal);

    private readonly Dictionary<string, HashSet<string>> _replaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(string Listed, bool IsDirectory)>> _shipped = new(StringComparer.Ordinal);
    private readonly List<(ControlParagraph Control, IReadOnlyDictionary<string, byte[]> ControlFiles)> _unpacked = [];

    /// <summary>Total size of the .deb files unpacked so far.</summary>
    public long BytesRead { get; private set; }

    public void Unpack(PackageFile file, CancellationToken cancellation = default)
    {
        var debName = Path.GetFileName(file.DebPath);
        using var stream = OpenDeb(file.DebPath);
        BytesRead += stream.Length;
        ControlParagraph? control = null;
        IReadOnlyDictionary<string, byte[]>? controlFiles = null;
        var sawVersion = false;
        var sawData = false;
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
                UnpackData(member, debName, control, cancellation);
                sawData = true;
            }
            else if (!member.Name.StartsWith('_'))
            {
                throw Refuse(debName, member.Name, "unknown member in a .deb");
            }
        }
        if (!sawData)
        {
            throw Refuse(debName, "data.tar", "the package has no data archive");
        }
        _unpacked.Add((control!, controlFiles!));
    }

    /// <summary>The packages unpacked so far, with files that a Replaces: took away removed from their lists.</summary>
    public IReadOnlyList<InstalledPackage> Installed() => _unpacked
        .Select(u =>
        {
            var name = u.Control["Package"]!;
            var paths = new List<string> { "/." };
            paths.AddRange(_shipped[name]
                .Where(s => s.IsDirectory || tree[tree.Resolve(s.Listed, followFinal: false, s.Listed)]?.Package == name)
                .Select(s => s.Listed)
                .Distinct(StringComparer.Ordinal));
            return new InstalledPackage { Control = u.Control, Paths = paths, ControlFiles = u.ControlFiles };
        })
        .ToArray();

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

    private (ControlParagraph, IReadOnlyDictionary<string, byte[]>) ReadControl(ArMember member, string debName, PackageRecord record)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        using (var tar = new TarReader(Decompress(member, debName)))
        {
            while (NextEntry(tar, debName, member.Name) is { } entry)
            {
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                {
                    var name = RootfsTree.Normalize(entry.Name).TrimStart('/');
                    var bytes = new byte[entry.Length];
                    entry.DataStream?.ReadExactly(bytes);
                    files[name] = bytes;
                }
            }
        }
        if (!files.TryGetValue("control", out var controlBytes))
        {
            throw Refuse(debName, member.Name, "the control archive has no 'control' file");
        }
        var control = ControlParagraph.ParseSingle(System.Text.Encoding.UTF8.GetString(controlBytes));
        var name1 = control.Required("Package", $"{debName}:control");
        if (name1 != record.Name)
        {
            throw new EdgeImageException(
                $"{debName}: the package inside is '{name1}' but the index promised '{record.Name}'",
                "The cache holds the wrong file for this package; delete it from the cache and download it again.",
                ExitCodes.VerificationFailed);
        }
        _replaces[name1] = ParseNames(control["Replaces"]);
        _shipped[name1] = [];
        var kept = files.Where(f => f.Key != "control" && !MaintainerScripts.Contains(f.Key))
            .ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);
        return (control, kept);
    }

    private void UnpackData(ArMember member, string debName, ControlParagraph control, CancellationToken cancellation)
    {
        var package = control["Package"]!;
        using var tar = new TarReader(Decompress(member, debName));
        while (NextEntry(tar, debName, member.Name) is { } entry)
        {
            cancellation.ThrowIfCancellationRequested();
            var origin = $"{debName}: member '{entry.Name}'";
            var path = CheckedPath(entry.Name, origin);
            if (path == "/")
            {
                continue;
            }
            var resolved = tree.Resolve(path, followFinal: false, origin);
            var incoming = new RootfsEntry
            {
                Path = resolved,
                Kind = RootfsEntryKind.File,
                Mode = (int)entry.Mode & 0xFFF,
                Uid = entry.Uid,
                Gid = entry.Gid,
                MTime = entry.ModificationTime.ToUnixTimeSeconds(),
                Package = package,
            };
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    PlaceDirectory(incoming with { Kind = RootfsEntryKind.Directory }, origin);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    if (Claim(resolved, package, origin))
                    {
                        var content = tree.StoreContent(entry.DataStream ?? Stream.Null, entry.Length, origin);
                        tree.Set(incoming with { Content = content });
                    }
                    break;
                case TarEntryType.SymbolicLink:
                    if (string.IsNullOrEmpty(entry.LinkName))
                    {
                        throw Refuse(debName, entry.Name, "symlink without a target");
                    }
                    PlaceSymlink(incoming with { Kind = RootfsEntryKind.Symlink, LinkTarget = entry.LinkName }, origin);
                    break;
                case TarEntryType.HardLink:
                    PlaceHardLink(incoming, entry.LinkName, package, origin);
                    break;
                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                    if (Claim(resolved, package, origin))
                    {
                        tree.Set(incoming with
                        {
                            Kind = entry.EntryType switch
                            {
                                TarEntryType.CharacterDevice => RootfsEntryKind.CharDevice,
                                TarEntryType.BlockDevice => RootfsEntryKind.BlockDevice,
                                _ => RootfsEntryKind.Fifo,
                            },
                            DevMajor = entry is PosixTarEntry p ? p.DeviceMajor : 0,
                            DevMinor = entry is PosixTarEntry q ? q.DeviceMinor : 0,
                        });
                    }
                    break;
                default:
                    throw Refuse(debName, entry.Name, $"unsupported tar entry type {entry.EntryType}");
            }
            _shipped[package].Add((path, entry.EntryType == TarEntryType.Directory));
        }
    }

    private void PlaceDirectory(RootfsEntry dir, string origin)
    {
        var existing = tree[dir.Path];
        switch (existing?.Kind)
        {
            case null:
                tree.Set(dir);
                break;
            case RootfsEntryKind.Directory when existing.Package is null:
                tree.Set(dir);
                break;
            case RootfsEntryKind.Directory:
                // Shared directories: the result must not depend on unpack order, so the latest
                // mtime wins and the ordinally first package decides mode and owner.
                var owner = string.CompareOrdinal(dir.Package, existing.Package) < 0 ? dir : existing;
                tree.Set(owner with { MTime = Math.Max(dir.MTime, existing.MTime) });
                break;
            case RootfsEntryKind.Symlink:
                // dpkg keeps a symlink where a package ships a directory (merged /usr: /bin -> usr/bin).
                var target = tree.Resolve(dir.Path, followFinal: true, origin);
                if (tree[target] is null)
                {
                    tree.Set(dir with { Path = target });
                }
                else if (tree[target]!.Kind != RootfsEntryKind.Directory)
                {
                    throw Conflict(dir.Path, existing.Package, dir.Package!, origin, "a directory is shipped where a symlink to a non-directory exists");
                }
                break;
            default:
                throw Conflict(dir.Path, existing.Package, dir.Package!, origin, "a directory is shipped where a file exists");
        }
    }

    private void PlaceSymlink(RootfsEntry link, string origin)
    {
        var existing = tree[link.Path];
        if (existing?.Kind == RootfsEntryKind.Directory)
        {
            ReplaceDirectoryWithSymlink(existing, link, origin);
            return;
        }
        if (Claim(link.Path, link.Package!, origin))
        {
            tree.Set(link);
        }
    }

    /// <summary>
    /// A symlink arriving where a directory already is (a package shipped /lib/foo before
    /// base-files shipped /lib -> usr/lib): move the directory's contents to the link's target,
    /// as the merged-/usr transition did, so the result does not depend on unpack order.
    /// </summary>
    private void ReplaceDirectoryWithSymlink(RootfsEntry dir, RootfsEntry link, string origin)
    {
        var moved = tree.Descendants(dir.Path).OrderBy(e => e.Path, StringComparer.Ordinal).ToArray();
        foreach (var e in moved)
        {
            tree.Remove(e.Path);
        }
        tree.Remove(dir.Path);
        tree.Set(link);
        var target = tree.Resolve(dir.Path, followFinal: true, origin);
        if (target == dir.Path || target.StartsWith(dir.Path + "/", StringComparison.Ordinal))
        {
            throw Conflict(dir.Path, dir.Package, link.Package!, origin, "a symlink that points into itself replaces a directory");
        }
        if (tree[target] is null)
        {
            tree.Set(dir with { Path = target });
        }
        foreach (var e in moved)
        {
            var path = tree.Resolve(target + e.Path[dir.Path.Length..], followFinal: false, origin);
            var relocated = e with { Path = path };
            switch (e.Kind)
            {
                case RootfsEntryKind.Directory:
                    PlaceDirectory(relocated, origin);
                    break;
                case RootfsEntryKind.Symlink:
                    PlaceSymlink(relocated, origin);
                    break;
                default:
                    if (tree[path] is null || Claim(path, e.Package ?? "", origin))
                    {
                        tree.Set(relocated);
                    }
                    break;
            }
        }
    }

    private void PlaceHardLink(RootfsEntry link, string rawTarget, string package, string origin)
    {
        var targetPath = CheckedPath(rawTarget, origin + $" (hard link target '{rawTarget}')");
        var resolved = tree.Resolve(targetPath, followFinal: false, origin);
        var target = tree[resolved];
        if (target?.Kind != RootfsEntryKind.File || target.Package != package)
        {
            throw new EdgeImageException(
                $"{origin}: hard link to '{rawTarget}', which is not a regular file shipped earlier by {package}",
                "Hard links in a .deb may only point at the package's own files; the package is refused.",
                ExitCodes.VerificationFailed);
        }
        if (!Claim(link.Path, package, origin))
        {
            return;
        }
        var group = target.HardLinkGroup ?? tree.NewHardLinkGroup();
        tree.Set(target with { HardLinkGroup = group });
        tree.Set(target with { Path = link.Path, HardLinkGroup = group });
    }

    /// <summary>Decides whether <paramref name="package"/> may write a non-directory at <paramref name="path"/>.</summary>
    private bool Claim(string path, string package, string origin)
    {
        var existing = tree[path];
        if (existing?.Kind == RootfsEntryKind.Directory)
        {
            throw Conflict(path, existing.Package, package, origin, "a file is shipped where a directory exists");
        }
        if (existing is null || existing.Package is null || existing.Package == package)
        {
            return true;
        }
        if (_replaces.GetValueOrDefault(package)?.Contains(existing.Package) == true)
        {
            return true;
        }
        if (_replaces.GetValueOrDefault(existing.Package)?.Contains(package) == true)
        {
            return false;
        }
        throw Conflict(path, existing.Package, package, origin, "neither package declares Replaces: on the other");
    }

    private static EdgeImageException Conflict(string path, string? first, string second, string origin, string why) => new(
        $"{origin}: file conflict at '{path}' between packages {first ?? "(builder)"} and {second}: {why}",
        $"dpkg would refuse to install both; remove {first} or {second} from the profile's packages.");

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

    private static EdgeImageException Refuse(string debName, string member, string why) => new(
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
        // The .deb's FileStream already buffers; XZStream also needs the input's Position, which BufferedStream hides.
        var raw = member.Data;
        Stream plain = Path.GetExtension(member.Name) switch
        {
            ".tar" => raw,
            ".gz" => new GZipStream(raw, CompressionMode.Decompress),
            ".xz" => new XZStream(raw),
            ".zst" => new DecompressionStream(raw),
            _ => throw Refuse(debName, member.Name, "unsupported compression (supported: none, gzip, xz, zstd)"),
        };
        return new BufferedStream(plain, 1 << 16);
    }

    /// <summary>Package names from a relationship field ("a (&lt;&lt; 1), b:any | c" -> a, b, c).</summary>
    internal static HashSet<string> ParseNames(string? field)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(field))
        {
            return names;
        }
        foreach (var alternative in field.Split([',', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var end = alternative.IndexOfAny([' ', '(', ':', '[', '<', '\n', '\t']);
            names.Add(end < 0 ? alternative : alternative[..end]);
        }
        return names;
    }
}
