namespace EdgeImage.Rootfs;

/// <summary>What pruning took out of the tree, for the build log.</summary>
public sealed record PruneResult(int Entries, long Bytes);

/// <summary>
/// The profile's `exclude:` and `exclude_keep:` lists, with dpkg's path-exclude / path-include
/// meaning: a glob matches the whole absolute path, '*' and '?' also match '/', and a path that
/// matches a keep glob stays even when an exclude glob matches it. Directories that still hold a
/// kept entry stay too, so /usr/share/doc/*/copyright survives /usr/share/doc/*.
/// </summary>
public sealed class PathFilter(IReadOnlyList<string> exclude, IReadOnlyList<string> keep)
{
    /// <summary>Where the filter is recorded in the image so a later dpkg run honours it as well.</summary>
    public const string DpkgConfigPath = "/etc/dpkg/dpkg.cfg.d/edgeimage-exclude";

    public IReadOnlyList<string> Exclude { get; } = exclude;

    public IReadOnlyList<string> Keep { get; } = keep;

    public bool IsEmpty => Exclude.Count == 0;

    public bool Excludes(string path) =>
        Exclude.Any(g => Glob.Matches(g, path)) && !Keep.Any(g => Glob.Matches(g, path));

    /// <summary>
    /// Removes every excluded entry that no kept entry lives under, then records the filter under
    /// /etc/dpkg/dpkg.cfg.d. Runs after configuration, so accounts, alternatives and the dpkg
    /// database were made from the complete tree.
    /// </summary>
    public PruneResult Apply(RootfsTree tree, long mtime)
    {
        if (IsEmpty)
        {
            return new PruneResult(0, 0);
        }
        var entries = tree.Sorted();
        var needed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries.Where(e => !Excludes(e.Path)))
        {
            for (var parent = Parent(entry.Path); parent is not null && needed.Add(parent); parent = Parent(parent))
            {
            }
        }
        var removed = 0;
        var bytes = 0L;
        foreach (var entry in entries.Where(e => Excludes(e.Path) && !needed.Contains(e.Path)))
        {
            tree.Remove(entry.Path);
            removed++;
            bytes += entry.Size;
        }
        var config = string.Concat(
            Exclude.Select(g => $"path-exclude={g}\n").Concat(Keep.Select(g => $"path-include={g}\n")));
        tree.WriteFile(DpkgConfigPath, "# Written by edgeimage from the profile's exclude: and exclude_keep: lists.\n" + config, mtime);
        return new PruneResult(removed, bytes);
    }

    private static string? Parent(string path)
    {
        if (path == "/")
        {
            return null;
        }
        var slash = path.LastIndexOf('/');
        return slash == 0 ? "/" : path[..slash];
    }
}

/// <summary>fnmatch(3) without FNM_PATHNAME, as dpkg applies path filters: '*' matches any run of characters, '?' any one.</summary>
public static class Glob
{
    public static bool Matches(string pattern, string text) => Matches(pattern.AsSpan(), text.AsSpan());

    private static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        // Iterative matching with one backtrack point: the last '*' seen.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]) && pattern[p] != '*')
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}
