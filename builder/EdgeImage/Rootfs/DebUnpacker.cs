using System.Formats.Tar;
using EdgeImage.Packages;

namespace EdgeImage.Rootfs;

/// <summary>
/// Unpacks .deb files into a <see cref="RootfsTree"/> in-process, the way dpkg's unpack phase
/// would, without running anything. Member paths are checked before they touch the tree (no
/// absolute paths, no "..", no resolution through a symlink that leaves the root), symlinks inside
/// the root are followed for parent directories (so /bin/foo lands in /usr/bin/foo once base-files'
/// /bin -> usr/bin exists), and two packages may ship the same non-directory path only when one
/// declares a Replaces: on the other that the other's version satisfies (as dpkg: "beta Replaces:
/// alpha (&lt;&lt; 2)" does not cover alpha 3.0); the replacing package's copy wins whichever is
/// unpacked first.
/// Packages are decompressed in parallel but applied to the tree strictly in the given order.
/// With an <see cref="DerivedCache"/> of unpacked archives, data archives decompressed once are read as plain tar later.
/// </summary>
public sealed class DebUnpacker(RootfsTree tree, DerivedCache? unpacked = null)
{
    /// <summary>Each unpacked package's Replaces: relations, alternatives flattened (dpkg allows none there).</summary>
    private readonly Dictionary<string, IReadOnlyList<Relation>> _replaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DebianVersion> _versions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(string Listed, bool IsDirectory)>> _shipped = new(StringComparer.Ordinal);
    private readonly List<(ControlParagraph Control, IReadOnlyDictionary<string, byte[]> ControlFiles)> _unpacked = [];

    /// <summary>Total size of the .deb files unpacked so far.</summary>
    public long BytesRead { get; private set; }

    public void Unpack(PackageFile file, CancellationToken cancellation = default) =>
        Apply(DebReader.Read(file, tree.NewContentSegment(), cancellation, unpacked), cancellation);

    /// <summary>
    /// Unpacks all packages in order. Up to <paramref name="parallelism"/> packages are read and
    /// decompressed ahead on worker threads; the tree only ever changes on the calling thread, in
    /// list order, so the result and the first error reported do not depend on timing.
    /// </summary>
    public void UnpackAll(IReadOnlyList<PackageFile> files, int parallelism, IProgressReporter? progress = null, CancellationToken cancellation = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var gate = new SemaphoreSlim(Math.Max(1, parallelism));
        var reads = new Task<DebContents>[files.Count];
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            var segment = tree.NewContentSegment();
            reads[i] = Task.Run(async () =>
            {
                await gate.WaitAsync(stop.Token).ConfigureAwait(false);
                try
                {
                    return DebReader.Read(file, segment, stop.Token, unpacked);
                }
                finally
                {
                    gate.Release();
                }
            }, stop.Token);
        }
        try
        {
            foreach (var read in reads)
            {
                Apply(read.GetAwaiter().GetResult(), cancellation);
                progress?.Advance(1);
            }
        }
        finally
        {
            // Workers write into the tree's staging files: none may outlive this call.
            stop.Cancel();
            try
            {
                Task.WaitAll(reads);
            }
            catch (AggregateException)
            {
            }
        }
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

    private void Apply(DebContents deb, CancellationToken cancellation)
    {
        var package = deb.Control["Package"]!;
        var versionText = deb.Control["Version"] ?? "";
        _versions[package] = DebianVersion.TryParse(versionText, out var version) ? version : throw new EdgeImageException(
            $"{deb.DebName}: control field Version '{versionText}' is not a Debian version",
            "The package is malformed; it is refused.", ExitCodes.VerificationFailed);
        _replaces[package] = [.. Relations.Parse(deb.Control["Replaces"], $"{deb.DebName}: Replaces").SelectMany(g => g.Alternatives)];
        var shipped = _shipped[package] = [];
        foreach (var member in deb.Members)
        {
            cancellation.ThrowIfCancellationRequested();
            if (member.Path == "/")
            {
                continue;
            }
            var origin = $"{deb.DebName}: member '{member.Name}'";
            var resolved = tree.Resolve(member.Path, followFinal: false, origin);
            var incoming = new RootfsEntry
            {
                Path = resolved,
                Kind = RootfsEntryKind.File,
                Mode = member.Mode,
                Uid = member.Uid,
                Gid = member.Gid,
                MTime = member.MTime,
                Package = package,
            };
            switch (member.Type)
            {
                case TarEntryType.Directory:
                    PlaceDirectory(incoming with { Kind = RootfsEntryKind.Directory }, origin);
                    break;
                case TarEntryType.SymbolicLink:
                    PlaceSymlink(incoming with { Kind = RootfsEntryKind.Symlink, LinkTarget = member.LinkTarget }, origin);
                    break;
                case TarEntryType.HardLink:
                    PlaceHardLink(incoming, member.LinkTarget!, package, origin);
                    break;
                default:
                    if (Claim(resolved, package, origin))
                    {
                        tree.Set(incoming with
                        {
                            Kind = member.Type switch
                            {
                                TarEntryType.CharacterDevice => RootfsEntryKind.CharDevice,
                                TarEntryType.BlockDevice => RootfsEntryKind.BlockDevice,
                                TarEntryType.Fifo => RootfsEntryKind.Fifo,
                                _ => RootfsEntryKind.File,
                            },
                            Content = member.Content,
                            DevMajor = member.DevMajor,
                            DevMinor = member.DevMinor,
                        });
                    }
                    break;
            }
            shipped.Add((member.Path, member.Type == TarEntryType.Directory));
        }
        BytesRead += deb.DebSize;
        _unpacked.Add((deb.Control, deb.ControlFiles));
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
                var owner = dir.Package is not null && string.CompareOrdinal(dir.Package, existing.Package) < 0 ? dir : existing;
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

    private void PlaceHardLink(RootfsEntry link, string targetPath, string package, string origin)
    {
        var resolved = tree.Resolve(targetPath, followFinal: false, origin);
        var target = tree[resolved];
        if (target?.Kind != RootfsEntryKind.File || target.Package != package)
        {
            throw new EdgeImageException(
                $"{origin}: hard link to '{targetPath}', which is not a regular file shipped earlier by {package}",
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
        var mine = Replacing(package, existing.Package);
        var theirs = Replacing(existing.Package, package);
        if (mine is { Covers: true })
        {
            return true;
        }
        if (theirs is { Covers: true })
        {
            return false;
        }
        // A Replaces: whose version range misses the other package is no Replaces: for dpkg either
        // ("trying to overwrite '...', which is also in package ..."); say which one missed.
        var why = mine is { } m ? Uncovered(package, m.Relation, existing.Package)
            : theirs is { } t ? Uncovered(existing.Package, t.Relation, package)
            : "neither package declares Replaces: on the other";
        throw Conflict(path, existing.Package, package, origin, why);
    }

    private string Uncovered(string replacing, Relation relation, string replaced) =>
        $"{replacing} declares Replaces: {relation}, which does not cover {replaced} {_versions.GetValueOrDefault(replaced)?.Text ?? "(no version)"}";

    /// <summary>
    /// The Replaces: relation of <paramref name="replacing"/> that names <paramref name="replaced"/>,
    /// and whether the version of <paramref name="replaced"/> satisfies it; null when none names it.
    /// </summary>
    private (Relation Relation, bool Covers)? Replacing(string replacing, string replaced)
    {
        var named = _replaces.GetValueOrDefault(replacing)?.Where(r => r.Name == replaced).ToList();
        if (named is not { Count: > 0 })
        {
            return null;
        }
        var version = _versions.GetValueOrDefault(replaced);
        var covering = named.FirstOrDefault(r => version is null ? r.Version is null : r.AcceptsVersion(version));
        return covering is not null ? (covering, true) : (named[0], false);
    }

    private static EdgeImageException Conflict(string path, string? first, string second, string origin, string why) => new(
        $"{origin}: file conflict at '{path}' between packages {first ?? "(builder)"} and {second}: {why}",
        $"dpkg would refuse to install both; remove {first} or {second} from the profile's packages.");
}
