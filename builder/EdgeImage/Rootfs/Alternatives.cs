using System.Text;

namespace EdgeImage.Rootfs;

/// <summary>One candidate of an alternative, as a package's postinst registers it with update-alternatives --install.</summary>
internal sealed record AlternativeCandidate(
    string Name,
    string Link,
    string Path,
    int Priority,
    IReadOnlyList<(string Name, string Link, string Path)> Slaves);

/// <summary>
/// The update-alternatives calls that maintainer scripts of a minimal systemd system (and the k0s
/// worker's iptables) would make, transcribed from the trixie postinst scripts. For every name the
/// installed candidate with the highest priority wins ("auto" mode), the /etc/alternatives links are
/// made and /var/lib/dpkg/alternatives/&lt;name&gt; is written so dpkg on the device agrees.
/// </summary>
internal static class Alternatives
{
    private static (string, string, string) Man(string name, string link, string path) => (name, link, path);

    public static readonly IReadOnlyList<AlternativeCandidate> Table =
    [
        // mawk, gawk
        new("awk", "/usr/bin/awk", "/usr/bin/mawk", 5,
        [
            Man("awk.1.gz", "/usr/share/man/man1/awk.1.gz", "/usr/share/man/man1/mawk.1.gz"),
            ("nawk", "/usr/bin/nawk", "/usr/bin/mawk"),
            Man("nawk.1.gz", "/usr/share/man/man1/nawk.1.gz", "/usr/share/man/man1/mawk.1.gz"),
        ]),
        new("awk", "/usr/bin/awk", "/usr/bin/gawk", 10,
        [
            Man("awk.1.gz", "/usr/share/man/man1/awk.1.gz", "/usr/share/man/man1/gawk.1.gz"),
            ("nawk", "/usr/bin/nawk", "/usr/bin/gawk"),
            Man("nawk.1.gz", "/usr/share/man/man1/nawk.1.gz", "/usr/share/man/man1/gawk.1.gz"),
        ]),
        // debianutils
        new("which", "/usr/bin/which", "/usr/bin/which.debianutils", 0,
        [
            Man("which.1.gz", "/usr/share/man/man1/which.1.gz", "/usr/share/man/man1/which.debianutils.1.gz"),
            .. new[] { "de", "es", "fr", "it", "ja", "pl", "sl" }.Select(l =>
                Man($"which.{l}1.gz", $"/usr/share/man/{l}/man1/which.1.gz", $"/usr/share/man/{l}/man1/which.debianutils.1.gz")),
        ]),
        // bash
        new("builtins.7.gz", "/usr/share/man/man7/builtins.7.gz", "/usr/share/man/man7/bash-builtins.7.gz", 10, []),
        // util-linux, less
        new("pager", "/usr/bin/pager", "/bin/more", 50,
            [Man("pager.1.gz", "/usr/share/man/man1/pager.1.gz", "/usr/share/man/man1/more.1.gz")]),
        new("pager", "/usr/bin/pager", "/usr/bin/less", 77,
            [Man("pager.1.gz", "/usr/share/man/man1/pager.1.gz", "/usr/share/man/man1/less.1.gz")]),
        // nano
        new("editor", "/usr/bin/editor", "/bin/nano", 40,
            [Man("editor.1.gz", "/usr/share/man/man1/editor.1.gz", "/usr/share/man/man1/nano.1.gz")]),
        // iptables: the k0s worker needs the nft backend selected as on a freshly installed system.
        .. Xtables("iptables", "legacy", 10), .. Xtables("ip6tables", "legacy", 10),
        .. Xtables("iptables", "nft", 20), .. Xtables("ip6tables", "nft", 20),
        .. Xtables("arptables", "nft", 20), .. Xtables("ebtables", "nft", 20),
    ];

    private static AlternativeCandidate[] Xtables(string tool, string backend, int priority) =>
    [
        new(tool, $"/usr/sbin/{tool}", $"/usr/sbin/{tool}-{backend}", priority,
        [
            ($"{tool}-restore", $"/usr/sbin/{tool}-restore", $"/usr/sbin/{tool}-{backend}-restore"),
            ($"{tool}-save", $"/usr/sbin/{tool}-save", $"/usr/sbin/{tool}-{backend}-save"),
        ]),
    ];

    /// <summary>Applies the table to the tree; returns "name -> path" for every alternative set.</summary>
    public static IReadOnlyList<string> Apply(RootfsTree tree, long mtime, IBuildLog log)
    {
        var chosen = new List<string>();
        foreach (var group in Table.GroupBy(c => c.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var installed = group.Where(c => tree.IsFile(c.Path)).OrderBy(c => c.Path, StringComparer.Ordinal).ToArray();
            if (installed.Length == 0)
            {
                continue;
            }
            var best = installed.OrderByDescending(c => c.Priority).ThenBy(c => c.Path, StringComparer.Ordinal).First();
            if (!Link(tree, best.Name, best.Link, best.Path, mtime, log))
            {
                continue;
            }
            foreach (var slave in best.Slaves.Where(s => tree.IsFile(s.Path)))
            {
                Link(tree, slave.Name, slave.Link, slave.Path, mtime, log);
            }
            tree.WriteFile($"/var/lib/dpkg/alternatives/{best.Name}", StateFile(tree, best, installed), mtime);
            chosen.Add($"{best.Name} -> {best.Path}");
        }
        return chosen;
    }

    /// <summary>dpkg's format: mode, master link, slave name/link pairs, blank, then per candidate its path, priority and slave paths, blank.</summary>
    private static string StateFile(RootfsTree tree, AlternativeCandidate best, IReadOnlyList<AlternativeCandidate> installed)
    {
        var slaves = installed.SelectMany(c => c.Slaves.Select(s => (s.Name, s.Link))).Distinct().ToArray();
        var text = new StringBuilder().Append("auto\n").Append(best.Link).Append('\n');
        foreach (var (name, link) in slaves)
        {
            text.Append(name).Append('\n').Append(link).Append('\n');
        }
        text.Append('\n');
        foreach (var candidate in installed)
        {
            text.Append(candidate.Path).Append('\n').Append(candidate.Priority).Append('\n');
            foreach (var (name, _) in slaves)
            {
                var path = candidate.Slaves.FirstOrDefault(s => s.Name == name).Path;
                text.Append(path is not null && tree.IsFile(path) ? path : "").Append('\n');
            }
        }
        return text.Append('\n').ToString();
    }

    private static bool Link(RootfsTree tree, string name, string link, string path, long mtime, IBuildLog log)
    {
        var at = tree.Resolve(link, followFinal: false, $"alternative {name}");
        if (tree[at] is { Kind: not RootfsEntryKind.Symlink } existing)
        {
            log.Warn($"alternative {name}: {link} is a {existing.Kind.ToString().ToLowerInvariant()} shipped by {existing.Package}; leaving it alone");
            return false;
        }
        tree.WriteSymlink(link, $"/etc/alternatives/{name}", mtime);
        tree.WriteSymlink($"/etc/alternatives/{name}", path, mtime);
        return true;
    }
}
