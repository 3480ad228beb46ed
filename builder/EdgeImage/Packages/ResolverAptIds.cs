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

    private sealed class State
    {
        private readonly string _native;

        public State(string native)
        {
            _native = native;
            _groups = new(StringComparer.Ordinal);
            _groupLookup = _groups.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        // Group name -> architectures of its packages, in creation order (apt's FindPkg("any") takes the first).
        private readonly Dictionary<string, List<string>> _groups;
        private readonly Dictionary<string, List<string>>.AlternateLookup<ReadOnlySpan<char>> _groupLookup;
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
                ScanRelation(record[field], versionArch, negative: field is "Conflicts" or "Breaks" or "Replaces");
            }

            var multiArch = (record["Multi-Arch"] ?? "").Trim();
            foreach (var (name, hasOperatorOtherThanEquals) in ProvidedNames(record["Provides"]))
            {
                if (hasOperatorOtherThanEquals)
                {
                    continue;
                }
                var colon = name.LastIndexOf(':');
                if (colon >= 0)
                {
                    var qualifier = name[(colon + 1)..];
                    if (qualifier != "any")
                    {
                        NewPackage(name[..colon], qualifier);
                    }
                    NewPackage(name, "any");
                }
                else if (multiArch == "foreign")
                {
                    if (!HasPackages(name))
                    {
                        NewPackage(name, _native);
                    }
                }
                else
                {
                    if (multiArch == "allowed")
                    {
                        NewPackage($"{name}:any", "any");
                    }
                    if (name != record.Name)
                    {
                        NewPackage(name, versionArch);
                    }
                }
            }
            if (multiArch == "allowed")
            {
                NewPackage($"{record.Name}:any", "any");
            }
        }

        private bool HasPackages(string group) => _groups.TryGetValue(group, out var archs) && archs.Count > 0;

        private void NewDependsTarget(string name, string arch, bool negative, bool archSpecific)
        {
            if (!negative || archSpecific || !HasPackages(name))
            {
                NewPackage(name, arch);
            }
        }

        private void NewPackage(string name, string arch)
        {
            if (arch is "all" or "native")
            {
                arch = _native;
            }
            if (!_groups.TryGetValue(name, out var archs))
            {
                _groups[name] = archs = [];
            }
            if (archs.Count > 0 && (arch == "any" || archs.Contains(arch)))
            {
                return;
            }
            archs.Add(arch);
            var id = _next++;
            if (arch == _native && !name.Contains(':'))
            {
                NativeIds[name] = id;
            }
            if (arch == "any")
            {
                var colon = name.LastIndexOf(':');
                if (colon >= 0 && name[(colon + 1)..] != "any")
                {
                    NewPackage(name[..colon], name[(colon + 1)..]);
                }
            }
        }

        /// <summary>Creates the targets of a relationship field; names apt already has cost no allocation.</summary>
        private void ScanRelation(string? field, string versionArch, bool negative)
        {
            if (string.IsNullOrEmpty(field))
            {
                return;
            }
            var arch = versionArch is "all" ? _native : versionArch;
            var i = 0;
            while (i < field.Length)
            {
                while (i < field.Length && (char.IsWhiteSpace(field[i]) || field[i] is ',' or '|'))
                {
                    i++;
                }
                var start = i;
                while (i < field.Length && !char.IsWhiteSpace(field[i]) && field[i] is not '(' and not '[' and not '<' and not ',' and not '|')
                {
                    i++;
                }
                var name = field.AsSpan(start, i - start);
                while (i < field.Length && field[i] is not ',' and not '|')
                {
                    i++;
                }
                if (name.IsEmpty)
                {
                    continue;
                }
                var colon = name.LastIndexOf(':');
                if (colon < 0)
                {
                    if (_groupLookup.TryGetValue(name, out var archs) && (archs.Contains(arch) || (negative && archs.Count > 0)))
                    {
                        continue;
                    }
                    NewDependsTarget(name.ToString(), versionArch, negative, archSpecific: false);
                }
                else if (name[(colon + 1)..] is "any")
                {
                    NewDependsTarget(name.ToString(), "any", negative, archSpecific: false);
                }
                else if (name[(colon + 1)..] is "native")
                {
                    NewDependsTarget($"{name[..colon]}:{_native}", "any", negative, archSpecific: true);
                }
                else
                {
                    NewDependsTarget(name.ToString(), "any", negative, archSpecific: true);
                }
            }
        }

        private static IEnumerable<(string Name, bool OtherOperator)> ProvidedNames(string? field)
        {
            if (string.IsNullOrEmpty(field))
            {
                yield break;
            }
            foreach (var item in field.Split(','))
            {
                var name = NameOf(item);
                if (name.Length == 0)
                {
                    continue;
                }
                var open = item.IndexOf('(');
                yield return (name, open >= 0 && item[(open + 1)..].TrimStart() is ['<' or '>', ..]);
            }
        }

        private static string NameOf(string text)
        {
            var s = text.AsSpan().TrimStart();
            var end = 0;
            while (end < s.Length && !char.IsWhiteSpace(s[end]) && s[end] is not '(' and not '[' and not '<')
            {
                end++;
            }
            return s[..end].ToString();
        }
    }
}
