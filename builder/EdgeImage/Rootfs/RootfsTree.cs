using System.Text;

namespace EdgeImage.Rootfs;

/// <summary>
/// The root file system being composed: entries keyed by normalized absolute path, file bytes in a
/// staging file under the work directory. Paths are resolved the way the kernel would inside the
/// finished image (symlinks in parent directories are followed, absolute targets start at the
/// image's root), and any resolution that would leave the root is refused.
/// </summary>
public sealed class RootfsTree : IDisposable
{
    private const int MaxSymlinkHops = 40;

    private readonly Dictionary<string, RootfsEntry> _entries = new(StringComparer.Ordinal);
    private readonly ContentStore _store;
    private int _nextHardLinkGroup = 1;

    /// <param name="stagingDirectory">Where file contents are spilled; BuildContext.WorkDir or below.</param>
    /// <param name="rootMTime">Modification time of the root directory itself.</param>
    public RootfsTree(string stagingDirectory, long rootMTime = 0)
    {
        _store = new ContentStore(stagingDirectory);
        _entries["/"] = new RootfsEntry { Path = "/", Kind = RootfsEntryKind.Directory, Mode = 0x1ED, MTime = rootMTime };
    }

    public int Count => _entries.Count;

    public RootfsEntry? this[string path] => _entries.GetValueOrDefault(path);

    /// <summary>Entries sorted by the UTF-8 bytes of their path, which puts every directory before its contents.</summary>
    public IReadOnlyList<RootfsEntry> Sorted()
    {
        var keyed = _entries.Values.Select(e => (Key: Encoding.UTF8.GetBytes(e.Path), Entry: e)).ToArray();
        Array.Sort(keyed, (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
        return keyed.Select(k => k.Entry).ToArray();
    }

    /// <summary>Direct children of a directory, sorted by name.</summary>
    public IReadOnlyList<RootfsEntry> Children(string directory)
    {
        var prefix = directory == "/" ? "/" : directory + "/";
        return _entries.Values
            .Where(e => e.Path.Length > prefix.Length && e.Path.StartsWith(prefix, StringComparison.Ordinal)
                        && e.Path.IndexOf('/', prefix.Length) < 0)
            .OrderBy(e => e.Path, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>
    /// Resolves a path to the entry it names inside the image. Symlinks met on the way are followed
    /// (the last component only when <paramref name="followFinal"/>); components that do not exist
    /// yet are kept as they are.
    /// </summary>
    /// <param name="origin">Names what is being resolved (package and member) in error messages.</param>
    public string Resolve(string path, bool followFinal, string origin)
    {
        var pending = new Stack<string>();
        PushComponents(pending, path);
        var current = new List<string>();
        var hops = 0;
        while (pending.TryPop(out var component))
        {
            if (component == "..")
            {
                if (current.Count == 0)
                {
                    throw Escape(path, origin);
                }
                current.RemoveAt(current.Count - 1);
                continue;
            }
            current.Add(component);
            var isFinal = pending.Count == 0;
            if (isFinal && !followFinal)
            {
                break;
            }
            if (!_entries.TryGetValue(Join(current), out var entry))
            {
                continue;
            }
            if (entry.Kind == RootfsEntryKind.Symlink)
            {
                if (++hops > MaxSymlinkHops)
                {
                    throw new EdgeImageException(
                        $"{origin}: too many levels of symbolic links resolving '{path}'",
                        "The packages ship a symlink loop; report it to the package's maintainer or drop the package.");
                }
                current.RemoveAt(current.Count - 1);
                if (entry.LinkTarget!.StartsWith('/'))
                {
                    current.Clear();
                }
                PushComponents(pending, entry.LinkTarget);
            }
            else if (!isFinal && entry.Kind != RootfsEntryKind.Directory)
            {
                throw new EdgeImageException(
                    $"{origin}: '{Join(current)}' is not a directory but '{path}' needs it as one",
                    "Two packages disagree about the type of this path; remove one of them from the profile.");
            }
        }
        return Join(current);
    }

    /// <summary>Adds or replaces the entry at its (already resolved) path, creating missing parent directories.</summary>
    public void Set(RootfsEntry entry)
    {
        EnsureParents(entry.Path, entry.MTime);
        _entries[entry.Path] = entry;
    }

    public bool Remove(string path) => _entries.Remove(path);

    /// <summary>Whether the path, with every symlink on it followed, names a regular file of the image.</summary>
    public bool IsFile(string path) => this[Resolve(path, followFinal: true, path)] is { Kind: RootfsEntryKind.File };

    /// <summary>Creates a directory (and its parents) unless something already exists there.</summary>
    public void EnsureDirectory(string path, long mtime, int mode = 0x1ED)
    {
        if (!_entries.ContainsKey(path))
        {
            Set(new RootfsEntry { Path = path, Kind = RootfsEntryKind.Directory, Mode = mode, MTime = mtime });
        }
    }

    /// <summary>Every entry strictly below a directory, in no particular order.</summary>
    internal IReadOnlyList<RootfsEntry> Descendants(string directory)
    {
        var prefix = directory + "/";
        return _entries.Values.Where(e => e.Path.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
    }

    public FileContent StoreContent(ReadOnlySpan<byte> bytes) => _store.Generated.Append(bytes);

    /// <summary>A staging file of its own for one package, so packages can be decompressed in parallel.</summary>
    internal ContentSegment NewContentSegment() => _store.NewSegment();

    public Stream OpenRead(RootfsEntry file) =>
        _store.OpenRead(file.Content ?? throw new InvalidOperationException($"{file.Path} is not a regular file"));

    public byte[] ReadAllBytes(RootfsEntry file) =>
        _store.ReadAll(file.Content ?? throw new InvalidOperationException($"{file.Path} is not a regular file"));

    /// <summary>The text of a regular file reached through symlinks, or null when there is none.</summary>
    public string? ReadText(string path)
    {
        var resolved = Resolve(path, followFinal: true, path);
        return _entries.TryGetValue(resolved, out var e) && e.Kind == RootfsEntryKind.File
            ? Encoding.UTF8.GetString(ReadAllBytes(e))
            : null;
    }

    /// <summary>Writes a generated regular file (owned by root unless told otherwise).</summary>
    public void WriteFile(string path, string text, long mtime, int mode = 0x1A4, int uid = 0, int gid = 0) =>
        WriteFile(path, Encoding.UTF8.GetBytes(text), mtime, mode, uid, gid);

    public void WriteFile(string path, ReadOnlySpan<byte> bytes, long mtime, int mode = 0x1A4, int uid = 0, int gid = 0) =>
        Set(new RootfsEntry
        {
            Path = Resolve(path, followFinal: false, path),
            Kind = RootfsEntryKind.File,
            Mode = mode,
            Uid = uid,
            Gid = gid,
            MTime = mtime,
            Content = StoreContent(bytes),
        });

    /// <summary>Writes a generated regular file of <paramref name="length"/> bytes read from <paramref name="content"/>, without holding it in memory.</summary>
    public void WriteFile(string path, Stream content, long length, long mtime, int mode = 0x1A4) =>
        Set(new RootfsEntry
        {
            Path = Resolve(path, followFinal: false, path),
            Kind = RootfsEntryKind.File,
            Mode = mode,
            MTime = mtime,
            Content = _store.Generated.Append(content, length, path),
        });

    public void WriteSymlink(string path, string target, long mtime) =>
        Set(new RootfsEntry { Path = Resolve(path, followFinal: false, path), Kind = RootfsEntryKind.Symlink, Mode = 0x1FF, LinkTarget = target, MTime = mtime });

    internal int NewHardLinkGroup() => _nextHardLinkGroup++;

    public void Dispose() => _store.Dispose();

    /// <summary>Normalizes a path to the tree's key form: leading "/", no "." or empty components, no trailing "/".</summary>
    public static string Normalize(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");
        return "/" + string.Join('/', parts);
    }

    private static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    private void EnsureParents(string path, long mtime)
    {
        var parent = Parent(path);
        if (path == "/" || _entries.ContainsKey(parent))
        {
            return;
        }
        EnsureParents(parent, mtime);
        _entries[parent] = new RootfsEntry { Path = parent, Kind = RootfsEntryKind.Directory, Mode = 0x1ED, MTime = mtime };
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = parts.Length - 1; i >= 0; i--)
        {
            if (parts[i] != ".")
            {
                pending.Push(parts[i]);
            }
        }
    }

    private static string Join(List<string> components) => "/" + string.Join('/', components);

    private static EdgeImageException Escape(string path, string origin) => new(
        $"{origin}: '{path}' resolves to a location outside the image's root",
        "The package ships a path or symlink that escapes the root file system; it is refused. Remove the package or report it to its maintainer.",
        ExitCodes.VerificationFailed);
}
