namespace EdgeImage.Packages;

/// <summary>
/// Replays how apt's cache generator (pkgcachegen.cc, apt 2.6) hands out package IDs while it reads a
/// Packages index: a package gets the next ID the first time it is created, which happens for the
/// paragraph's own package, for every target of a positive relation, for targets of negative
/// relations whose name is not known yet, and for provided names. apt breaks the last tie between
/// equally good providers of a virtual package by the higher ID, so matching apt means knowing them.
/// </summary>
internal static class AptPackageIds
{
    private static readonly string[] RelationFields =
        ["Pre-Depends", "Depends", "Conflicts", "Breaks", "Recommends", "Suggests", "Replaces", "Enhances"];

    /// <summary>IDs of the real (native or all) packages, by name.</summary>
    public static Dictionary<string, int> Compute(IEnumerable<PackageRecord> records, string architecture)
    {
        var state = new State(architecture);
        foreach (var record in records)
        {
            state.Paragraph(record);
        }
        return state.NativeIds;
    }

    private sealed class State(string native)
    {
        // Group name -> architectures of its packages, in creation order (apt's FindPkg("any") takes the first).
        // Looked up by span: the ~70,000 paragraphs name the same few thousand targets over and over,
        // so a name is only turned into a string the first time it is seen.
        private readonly Dictionary<string, List<string>> _groups = new(StringComparer.Ordinal);
        private readonly HashSet<(string Name, string Version)> _versions = [];
        private int _next;

        public Dictionary<string, int> NativeIds { get; } = new(StringComparer.Ordinal);

        public void Paragraph(PackageRecord record)
        {
            NewPackage(record.Name, record.Architecture);
            // A version apt has already seen is merged without re-reading its relations.
            if (!_versions.Add((record.Name, record.Version)))
            {
                return;
            }
            var versionArch = record.Architecture;
            foreach (var field in RelationFields)
            {
                var negative = field is "Conflicts" or "Breaks" or "Replaces";
                var rest = record[field].AsSpan();
                while (NextName(ref rest, '|', out var name))
                {
                    var colon = name.LastIndexOf(':');
                    if (colon < 0)
                    {
                        NewDependsTarget(name, versionArch, negative, archSpecific: false);
                    }
                    else if (name[(colon + 1)..] is "any")
                    {
                        NewDependsTarget(name, "any", negative, archSpecific: false);
                    }
                    else if (name[(colon + 1)..] is "native")
                    {
                        NewDependsTarget($"{name[..colon]}:{native}", "any", negative, archSpecific: true);
                    }
                    else
                    {
                        NewDependsTarget(name, "any", negative, archSpecific: true);
                    }
                }
            }

            var multiArch = (record["Multi-Arch"] ?? "").AsSpan().Trim();
            var provides = record["Provides"].AsSpan();
            while (NextName(ref provides, ',', out var name, out var item))
            {
                var open = item.IndexOf('(');
                if (open >= 0 && item[(open + 1)..].TrimStart() is ['<' or '>', ..])
                {
                    continue;
                }
                var colon = name.LastIndexOf(':');
                if (colon >= 0)
                {
                    var qualifier = name[(colon + 1)..];
                    if (qualifier is not "any")
                    {
                        NewPackage(name[..colon], qualifier.ToString());
                    }
                    NewPackage(name, "any");
                }
                else if (multiArch is "foreign")
                {
                    if (!HasPackages(name))
                    {
                        NewPackage(name, native);
                    }
                }
                else
                {
                    if (multiArch is "allowed")
                    {
                        NewPackage($"{name}:any", "any");
                    }
                    if (!name.SequenceEqual(record.Name))
                    {
                        NewPackage(name, versionArch);
                    }
                }
            }
            if (multiArch is "allowed")
            {
                NewPackage($"{record.Name}:any", "any");
            }
        }

        private bool HasPackages(ReadOnlySpan<char> group) =>
            _groups.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(group, out var archs) && archs.Count > 0;

        private void NewDependsTarget(ReadOnlySpan<char> name, string arch, bool negative, bool archSpecific)
        {
            if (!negative || archSpecific || !HasPackages(name))
            {
                NewPackage(name, arch);
            }
        }

        private void NewPackage(ReadOnlySpan<char> name, string arch)
        {
            if (arch is "all" or "native")
            {
                arch = native;
            }
            var groups = _groups.GetAlternateLookup<ReadOnlySpan<char>>();
            if (!groups.TryGetValue(name, out var archs))
            {
                archs = [];
                groups[name] = archs;
            }
            if (archs.Count > 0 && (arch == "any" || archs.Contains(arch)))
            {
                return;
            }
            archs.Add(arch);
            var id = _next++;
            if (arch == native && !name.Contains(':'))
            {
                NativeIds[name.ToString()] = id;
            }
            if (arch == "any")
            {
                var colon = name.LastIndexOf(':');
                if (colon >= 0 && name[(colon + 1)..] is not "any")
                {
                    NewPackage(name[..colon], name[(colon + 1)..].ToString());
                }
            }
        }

        /// <summary>
        /// The package name (with any ":arch") of the next alternative in a relationship field,
        /// without parsing versions; <paramref name="alternatives"/> is '|' for Depends-like fields
        /// and ',' for Provides, where <paramref name="item"/> is the whole comma-separated entry.
        /// </summary>
        private static bool NextName(ref ReadOnlySpan<char> rest, char alternatives, out ReadOnlySpan<char> name) =>
            NextName(ref rest, alternatives, out name, out _);

        private static bool NextName(ref ReadOnlySpan<char> rest, char alternatives, out ReadOnlySpan<char> name, out ReadOnlySpan<char> item)
        {
            while (!rest.IsEmpty)
            {
                var end = alternatives == ',' ? rest.IndexOf(',') : rest.IndexOfAny(',', '|');
                item = end < 0 ? rest : rest[..end];
                rest = end < 0 ? [] : rest[(end + 1)..];
                name = NameOf(item);
                if (name.Length > 0)
                {
                    return true;
                }
            }
            name = item = default;
            return false;
        }

        private static ReadOnlySpan<char> NameOf(ReadOnlySpan<char> text)
        {
            var s = text.TrimStart();
            var end = 0;
            while (end < s.Length && !char.IsWhiteSpace(s[end]) && s[end] is not '(' and not '[' and not '<')
            {
                end++;
            }
            return s[..end];
        }
    }
}
