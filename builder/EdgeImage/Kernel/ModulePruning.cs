using System.Text;
using EdgeImage.Rootfs;

namespace EdgeImage.Kernel;

/// <summary>What `kernel.include_modules` and `kernel.exclude_modules` took out, and what they had to leave although a glob removed it.</summary>
public sealed record ModulePruneResult(int Files, long Bytes, IReadOnlyList<string> Protected);

/// <summary>
/// Removes kernel module subtrees a device never loads (GPU, sound, media, wireless, ...) before
/// the module indexes are generated, so modules.dep and modules.alias describe only what ships.
/// An allowlist (include) keeps only the subtrees it names; the exclude list then takes subtrees
/// out of what is left.
/// Modules the image cannot work without are never removed: the ones asked for by name and
/// everything they depend on, followed through each module's own "depends=" and "softdep=" tags
/// (the same information depmod and modprobe use).
/// </summary>
public static class ModulePruning
{
    /// <summary>What a k0s worker loads: container storage, the pod network and kube-proxy's netfilter rules.</summary>
    public static readonly IReadOnlyList<string> K0sModules =
    [
        "overlay", "br_netfilter", "bridge", "veth", "vxlan", "nf_conntrack", "nf_nat", "ip_tables", "ip6_tables",
        "iptable_filter", "iptable_nat", "iptable_mangle", "ip6table_filter", "ip6table_nat", "xt_conntrack",
        "xt_MASQUERADE", "xt_addrtype", "xt_comment", "xt_mark", "xt_multiport", "xt_nat", "nf_tables", "nft_compat",
        "ip_set", "xt_set", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "ipip", "wireguard",
    ];

    /// <param name="modulesDirectory">/usr/lib/modules/VERSION inside the tree.</param>
    /// <param name="exclude">Globs relative to <paramref name="modulesDirectory"/>/kernel; a directory glob takes its whole subtree.</param>
    /// <param name="keep">Module names (dashes or underscores) that must stay, with their dependencies.</param>
    /// <param name="include">Globs like <paramref name="exclude"/>; when there are any, a module outside all of them goes.</param>
    /// <param name="modinfo">Where each module's dependencies are kept between builds, by the module's SHA256; null reads every module.</param>
    public static ModulePruneResult Apply(RootfsTree tree, string modulesDirectory, IReadOnlyList<string> exclude, IEnumerable<string> keep,
        IReadOnlyList<string>? include = null, DerivedCache? modinfo = null)
    {
        include ??= [];
        if (exclude.Count == 0 && include.Count == 0)
        {
            return new ModulePruneResult(0, 0, []);
        }
        var kernelDir = modulesDirectory + "/kernel/";
        var below = tree.Sorted().Where(e => e.Path.StartsWith(kernelDir, StringComparison.Ordinal)).ToList();
        var files = below.Where(e => e.Kind == RootfsEntryKind.File && e.Path.Contains(".ko", StringComparison.Ordinal)).ToList();

        bool Any(IReadOnlyList<string> globs, string relative) =>
            globs.Any(g => Glob.Matches(g, relative) || Glob.Matches(g + "/*", relative));

        bool Matches(string path)
        {
            var relative = path[kernelDir.Length..];
            return (include.Count > 0 && !Any(include, relative)) || Any(exclude, relative);
        }

        // A module that ships must load: what it depends on stays too, wherever the globs put it.
        var keepPaths = Closure(tree, files, modinfo, keep.Concat(files.Where(f => !Matches(f.Path)).Select(f => KernelInstall.ModuleName(f.Path))));

        var removed = 0;
        var bytes = 0L;
        var kept = new List<string>();
        var remaining = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in below.Where(e => e.Kind != RootfsEntryKind.Directory))
        {
            if (!Matches(entry.Path))
            {
                remaining.Add(entry.Path);
            }
            else if (keepPaths.Contains(entry.Path))
            {
                remaining.Add(entry.Path);
                kept.Add(KernelInstall.ModuleName(entry.Path));
            }
            else
            {
                tree.Remove(entry.Path);
                removed++;
                bytes += entry.Size;
            }
        }
        // Directories the globs emptied go too; a directory that still holds something stays.
        // With an allowlist a directory outside it "matches" although a kept subtree lies below.
        var occupied = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in remaining)
        {
            for (var slash = path.LastIndexOf('/'); slash > 0 && occupied.Add(path[..slash]); slash = path.LastIndexOf('/', slash - 1))
            {
            }
        }
        foreach (var directory in below.Where(e => e.Kind == RootfsEntryKind.Directory && Matches(e.Path) && !occupied.Contains(e.Path)))
        {
            tree.Remove(directory.Path);
        }
        return new ModulePruneResult(removed, bytes, kept);
    }

    /// <summary>Paths of the named modules and, transitively, of every module they depend on.</summary>
    private static HashSet<string> Closure(RootfsTree tree, IReadOnlyList<RootfsEntry> files, DerivedCache? modinfo, IEnumerable<string> names)
    {
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            byName.TryAdd(KernelInstall.ModuleName(file.Path), file.Path);
        }
        var result = new HashSet<string>(StringComparer.Ordinal);
        var frontier = names.Select(n => n.Replace('-', '_')).ToList();
        while (frontier.Count > 0)
        {
            var added = frontier.Select(n => byName.GetValueOrDefault(n)).OfType<string>().Where(result.Add).ToList();
            // Decompressed in parallel: with an allowlist every shipped module's .ko.xz is read here.
            frontier = added.AsParallel().AsOrdered()
                .SelectMany(path => DependenciesOf(tree, path, modinfo).Select(d => d.Replace('-', '_')))
                .ToList();
        }
        return result;
    }

    /// <summary>
    /// A module's dependencies, from the derived cache when it holds them for these exact bytes:
    /// reading them otherwise means decompressing the whole .ko.xz, which for the ~300 modules an
    /// x86 allowlist keeps was most of the kernel stage of a warm build.
    /// </summary>
    private static List<string> DependenciesOf(RootfsTree tree, string path, DerivedCache? modinfo)
    {
        if (modinfo is null)
        {
            return Dependencies(KernelInstall.ReadModule(tree, path));
        }
        string key;
        using (var raw = tree.OpenRead(tree[path]!))
        {
            key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(raw));
        }
        if (modinfo.TryOpen(key) is { } cached)
        {
            using var reader = new StreamReader(cached);
            return [.. reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)];
        }
        var names = Dependencies(KernelInstall.ReadModule(tree, path));
        modinfo.Store(key, Encoding.UTF8.GetBytes(string.Concat(names.Select(n => n + "\n"))));
        return names;
    }

    /// <summary>Module names in the .modinfo tags "depends=a,b" and "softdep=pre: c post: d" of a module's bytes.</summary>
    internal static List<string> Dependencies(ReadOnlySpan<byte> module)
    {
        var names = new List<string>();
        foreach (var (tag, separator) in new[] { ("depends=", ','), ("softdep=", ' ') })
        {
            ReadOnlySpan<byte> key = Encoding.ASCII.GetBytes("\0" + tag);
            var rest = module;
            for (var at = rest.IndexOf(key); at >= 0; at = rest.IndexOf(key))
            {
                rest = rest[(at + key.Length)..];
                var end = rest.IndexOf((byte)0);
                var value = Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]);
                names.AddRange(value.Split(separator, StringSplitOptions.RemoveEmptyEntries).Where(w => !w.EndsWith(':')));
            }
        }
        return names;
    }
}
