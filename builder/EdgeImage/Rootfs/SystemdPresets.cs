using System.Text.RegularExpressions;

namespace EdgeImage.Rootfs;

/// <summary>
/// Does what `systemctl preset-all` does at first boot, natively: every unit file with an [Install]
/// section is enabled or left disabled according to the first matching rule of the system preset
/// files (/etc/systemd/system-preset overrides /usr/lib/systemd/system-preset by file name, files
/// read in name order, no match means enable). Enabling makes the WantedBy/RequiredBy/UpheldBy and
/// Alias symlinks under /etc/systemd/system; templates are enabled for the preset's instances or
/// their DefaultInstance.
/// </summary>
internal static class SystemdPresets
{
    private const string UnitDir = "/usr/lib/systemd/system";
    private const string EtcUnitDir = "/etc/systemd/system";

    private static readonly string[] UnitSuffixes =
        [".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount", ".swap", ".slice"];

    private sealed record Rule(bool Enable, Regex Pattern, IReadOnlyList<string> Instances);

    /// <summary>Returns the enabled units (instances included), sorted.</summary>
    public static IReadOnlyList<string> Apply(RootfsTree tree, long mtime)
    {
        var rules = ReadRules(tree);
        var enabled = new List<string>();
        foreach (var unit in UnitFiles(tree))
        {
            var name = unit.Path[(unit.Path.LastIndexOf('/') + 1)..];
            var install = ReadInstall(tree.ReadText(unit.Path) ?? "");
            if (install.Count == 0)
            {
                continue;
            }
            var rule = rules.FirstOrDefault(r => r.Pattern.IsMatch(name));
            if (rule is { Enable: false })
            {
                continue;
            }
            var isTemplate = name.Contains("@.", StringComparison.Ordinal);
            IReadOnlyList<string> instances = !isTemplate
                ? [name]
                : (rule?.Instances.Count > 0 ? rule.Instances : install.GetValueOrDefault("DefaultInstance") ?? [])
                    .Select(i => name.Replace("@.", $"@{i}.", StringComparison.Ordinal)).ToArray();
            var unitPath = unit.Path.StartsWith(EtcUnitDir + "/", StringComparison.Ordinal) ? unit.Path : $"{UnitDir}/{name}";
            foreach (var instance in instances)
            {
                var made = false;
                foreach (var (key, suffix) in new[] { ("WantedBy", ".wants"), ("RequiredBy", ".requires"), ("UpheldBy", ".upholds") })
                {
                    foreach (var target in install.GetValueOrDefault(key) ?? [])
                    {
                        made |= Link(tree, $"{EtcUnitDir}/{target}{suffix}/{instance}", unitPath, mtime);
                    }
                }
                foreach (var alias in install.GetValueOrDefault("Alias") ?? [])
                {
                    made |= Link(tree, $"{EtcUnitDir}/{alias}", unitPath, mtime);
                }
                if (made)
                {
                    enabled.Add(instance);
                }
            }
        }
        enabled.Sort(StringComparer.Ordinal);
        return enabled;
    }

    private static bool Link(RootfsTree tree, string link, string target, long mtime)
    {
        if (link.Contains('%') || tree[tree.Resolve(link, followFinal: false, link)] is not null)
        {
            return false;
        }
        tree.WriteSymlink(link, target, mtime);
        return true;
    }

    private static IEnumerable<RootfsEntry> UnitFiles(RootfsTree tree)
    {
        var byName = new SortedDictionary<string, RootfsEntry>(StringComparer.Ordinal);
        foreach (var dir in new[] { UnitDir, EtcUnitDir })
        {
            foreach (var e in tree.Children(tree.Resolve(dir, followFinal: true, dir)))
            {
                var name = e.Path[(e.Path.LastIndexOf('/') + 1)..];
                if (e.Kind == RootfsEntryKind.File && UnitSuffixes.Any(s => name.EndsWith(s, StringComparison.Ordinal)))
                {
                    byName[name] = e;
                }
            }
        }
        return byName.Values;
    }

    private static List<Rule> ReadRules(RootfsTree tree)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in new[] { "/usr/lib/systemd/system-preset", "/etc/systemd/system-preset" })
        {
            foreach (var e in tree.Children(tree.Resolve(dir, followFinal: true, dir)).Where(e => e.Path.EndsWith(".preset", StringComparison.Ordinal)))
            {
                files[e.Path[(e.Path.LastIndexOf('/') + 1)..]] = e.Path;
            }
        }
        var rules = new List<Rule>();
        foreach (var path in files.Values)
        {
            foreach (var line in (tree.ReadText(path) ?? "").Split('\n').Select(l => l.Trim()))
            {
                var words = line.Split(' ', '\t').Where(w => w.Length > 0).ToArray();
                if (words.Length < 2 || words[0].StartsWith('#') || words[0].StartsWith(';'))
                {
                    continue;
                }
                if (words[0] is "enable" or "disable")
                {
                    rules.Add(new Rule(words[0] == "enable", Glob(words[1]), words[2..]));
                }
            }
        }
        return rules;
    }

    /// <summary>The [Install] section's keys; repeated keys and space-separated values accumulate.</summary>
    private static Dictionary<string, List<string>> ReadInstall(string unitText)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var inInstall = false;
        foreach (var raw in unitText.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
            {
                inInstall = line == "[Install]";
                continue;
            }
            var eq = line.IndexOf('=');
            if (!inInstall || eq <= 0 || line.StartsWith('#') || line.StartsWith(';'))
            {
                continue;
            }
            var key = line[..eq].Trim();
            var values = line[(eq + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (values.Length == 0)
            {
                result.Remove(key);
                continue;
            }
            if (!result.TryGetValue(key, out var list))
            {
                result[key] = list = [];
            }
            list.AddRange(values);
        }
        return result;
    }

    /// <summary>fnmatch(3)-style pattern as used by preset files: *, ? and [...].</summary>
    private static Regex Glob(string pattern)
    {
        var regex = new System.Text.StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*': regex.Append(".*"); break;
                case '?': regex.Append('.'); break;
                case '[':
                    var end = pattern.IndexOf(']', i + 1);
                    if (end < 0)
                    {
                        regex.Append(@"\[");
                        break;
                    }
                    var set = pattern[(i + 1)..end];
                    regex.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                    i = end;
                    break;
                default: regex.Append(Regex.Escape(c.ToString())); break;
            }
        }
        return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
