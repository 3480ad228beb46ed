namespace EdgeImage.Packages;

internal enum DependencyKind
{
    PreDepends,
    Depends,
    Conflicts,
    Breaks,
    Recommends,
    Suggests,
}

/// <summary>One alternative of a dependency, pointing at a key of the universe ("foo", "foo:any", "foo:arm64").</summary>
internal sealed record DependencyAtom(Relation Relation, string Key);

internal sealed record DependencyGroup(DependencyKind Kind, IReadOnlyList<DependencyAtom> Atoms)
{
    public bool IsNegative => Kind is DependencyKind.Conflicts or DependencyKind.Breaks;

    /// <summary>apt's "critical" dependencies: the ones a package cannot be installed without honouring.</summary>
    public bool IsCritical => Kind is DependencyKind.PreDepends or DependencyKind.Depends or DependencyKind.Conflicts or DependencyKind.Breaks;

    public override string ToString() => $"{Kind}: {string.Join(" | ", Atoms.Select(a => a.Relation))}";
}

/// <summary>A Provides entry: <see cref="Owner"/> provides some key, at <see cref="Version"/> when versioned.</summary>
internal sealed record Provide(ResolverPackage Owner, DebianVersion? Version);

/// <summary>A real package and its candidate (highest) version for the resolved architecture.</summary>
internal sealed class ResolverPackage
{
    private IReadOnlyList<DependencyGroup>? _dependencies;

    public required int Ordinal { get; init; }

    public required string Name { get; init; }

    public required PackageRecord Record { get; init; }

    public required DebianVersion Version { get; init; }

    /// <summary>Position apt's cache generator gives this package; its last tie-break among equal providers.</summary>
    public required int AptId { get; init; }

    public required bool Essential { get; init; }

    /// <summary>apt's Important flag: "Important: yes" or "Protected: yes" (and apt itself).</summary>
    public required bool Important { get; init; }

    /// <summary>apt's numeric priority: 0 without a Priority field, required 1 ... extra 5.</summary>
    public required int PriorityRank { get; init; }

    public required string MultiArch { get; init; }

    /// <summary>Keys this version provides, its own implicit ones included; apt refreshes dependency state on them.</summary>
    public List<string> ProvidedKeys { get; } = [];

    /// <summary>Relationship fields in apt's order: Pre-Depends, Depends, Conflicts, Breaks, Recommends, Suggests.</summary>
    public IReadOnlyList<DependencyGroup> Dependencies(string architecture) => _dependencies ??= ParseDependencies(architecture);

    private List<DependencyGroup> ParseDependencies(string architecture)
    {
        var groups = new List<DependencyGroup>();
        (string Field, DependencyKind Kind)[] fields =
        [
            ("Pre-Depends", DependencyKind.PreDepends), ("Depends", DependencyKind.Depends),
            ("Conflicts", DependencyKind.Conflicts), ("Breaks", DependencyKind.Breaks),
            ("Recommends", DependencyKind.Recommends), ("Suggests", DependencyKind.Suggests),
        ];
        foreach (var (field, kind) in fields)
        {
            foreach (var group in Relations.Parse(Record[field], $"{Record} {field}"))
            {
                var atoms = group.Alternatives
                    .Where(r => r.AppliesTo(architecture))
                    .Select(r => new DependencyAtom(r, ResolverUniverse.KeyOf(r, architecture)))
                    .ToList();
                if (atoms.Count == 0)
                {
                    continue;
                }
                if (kind is DependencyKind.Conflicts or DependencyKind.Breaks)
                {
                    // Negative relations have no OR groups: each name is its own relation.
                    groups.AddRange(atoms.Select(a => new DependencyGroup(kind, [a])));
                }
                else
                {
                    groups.Add(new DependencyGroup(kind, atoms));
                }
            }
        }
        return groups;
    }

    public override string ToString() => $"{Name} ({Version})";
}

/// <summary>
/// The packages of one index for one architecture as apt's cache sees them: one candidate per name
/// (the highest version, all pins being equal), Provides by key, and apt's package IDs.
/// </summary>
internal sealed class ResolverUniverse
{
    private static readonly IReadOnlyList<Provide> NoProviders = [];

    // Plain dictionaries: freezing ~140,000 keys costs more than the few thousand lookups a resolution makes save.
    private readonly Dictionary<string, ResolverPackage> _byName;
    private readonly Dictionary<string, List<Provide>> _providers;

    public ResolverUniverse(IReadOnlyList<PackageRecord> index, string architecture)
    {
        Architecture = architecture;
        var usable = index.Where(r => r.Architecture == architecture || r.Architecture == "all").ToList();

        var ids = AptPackageIds.Compute(usable, architecture);
        var best = new Dictionary<string, (PackageRecord Record, DebianVersion Version)>(StringComparer.Ordinal);
        foreach (var record in usable)
        {
            var version = DebianVersion.Parse(record.Version);
            if (!best.TryGetValue(record.Name, out var current) || version > current.Version)
            {
                best[record.Name] = (record, version);
            }
        }

        var packages = new List<ResolverPackage>(best.Count);
        foreach (var (name, (record, version)) in best.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            packages.Add(new ResolverPackage
            {
                Ordinal = packages.Count,
                Name = name,
                Record = record,
                Version = version,
                AptId = ids[name],
                Essential = record.Essential || name == "apt",
                Important = name == "apt" || IsYes(record["Important"]) || IsYes(record["Protected"]),
                PriorityRank = PriorityRankOf(record["Priority"]),
                MultiArch = (record["Multi-Arch"] ?? "no").Trim().ToLowerInvariant(),
            });
        }
        Packages = packages;
        _byName = packages.ToDictionary(p => p.Name, StringComparer.Ordinal);

        var providers = new Dictionary<string, List<Provide>>(StringComparer.Ordinal);
        void Add(string key, ResolverPackage owner, DebianVersion? version)
        {
            if (!providers.TryGetValue(key, out var list))
            {
                providers[key] = list = [];
            }
            list.Add(new Provide(owner, version));
            owner.ProvidedKeys.Add(key);
        }
        foreach (var package in packages)
        {
            var provides = package.Record["Provides"];
            foreach (var group in string.IsNullOrWhiteSpace(provides) ? [] : Relations.Parse(provides, $"{package.Record} Provides"))
            {
                foreach (var provided in group.Alternatives)
                {
                    // apt ignores Provides with an operator other than '=' (with a warning).
                    if (provided.Operator is not (RelationOperator.None or RelationOperator.Exactly))
                    {
                        continue;
                    }
                    if (provided.ArchQualifier is { } qualifier)
                    {
                        if (qualifier == architecture)
                        {
                            Add(provided.Name, package, provided.Version);
                        }
                        Add($"{provided.Name}:{qualifier}", package, provided.Version);
                        continue;
                    }
                    var selfReference = provided.Name == package.Name &&
                        (provided.Version is null || provided.Version.Text == package.Version.Text);
                    if (selfReference)
                    {
                        continue;
                    }
                    if (package.MultiArch == "allowed")
                    {
                        Add($"{provided.Name}:any", package, provided.Version);
                    }
                    Add(provided.Name, package, provided.Version);
                    Add($"{provided.Name}:{architecture}", package, provided.Version);
                }
            }
            // Implicit provides: "foo:any" by an M-A: allowed foo, "foo:<arch>" by every foo.
            if (package.MultiArch == "allowed")
            {
                Add($"{package.Name}:any", package, package.Version);
            }
            Add($"{package.Name}:{architecture}", package, package.Version);
        }
        _providers = providers;
    }

    public string Architecture { get; }

    /// <summary>All real packages, ordered by name; <see cref="ResolverPackage.Ordinal"/> indexes this list.</summary>
    public IReadOnlyList<ResolverPackage> Packages { get; }

    /// <summary>The real package a key names: only plain names are real, "foo:any" and "foo:arch" are satisfied through provides.</summary>
    public ResolverPackage? Real(string key) => _byName.GetValueOrDefault(key);

    public IReadOnlyList<Provide> ProvidersOf(string key) => _providers.TryGetValue(key, out var list) ? list : NoProviders;

    /// <summary>The universe key a relation points at, the way apt names the target package.</summary>
    public static string KeyOf(Relation relation, string architecture) => relation.ArchQualifier switch
    {
        null => relation.Name,
        "native" => $"{relation.Name}:{architecture}",
        var qualifier => $"{relation.Name}:{qualifier}",
    };

    private static bool IsYes(string? value) => string.Equals(value?.Trim(), "yes", StringComparison.OrdinalIgnoreCase);

    private static int PriorityRankOf(string? priority) => priority?.Trim().ToLowerInvariant() switch
    {
        null => 0,
        "required" => 1,
        "important" => 2,
        "standard" => 3,
        "optional" => 4,
        _ => 5,
    };
}
