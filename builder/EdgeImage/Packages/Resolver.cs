namespace EdgeImage.Packages;

/// <summary>Options of one resolution.</summary>
public sealed record ResolveOptions
{
    /// <summary>Also install every Essential: yes and Priority: required package (after the requested ones, by name).</summary>
    public bool IncludeRequired { get; init; }

    /// <summary>Where the package list came from (e.g. "profiles/rpi-armv7.yaml"), named in hints.</summary>
    public string? PackageListSource { get; init; }
}

/// <summary>
/// Dependency resolution over one architecture's index, selecting exactly what
/// <c>apt-get install --simulate</c> (apt 2.6, Install-Recommends off, nothing installed) selects
/// for the same package list: the packages are marked in the order given, depth first, each OR group
/// taking the first alternative that is already marked or else the first that can be installed,
/// virtual packages resolved by apt's provider preference, conflicts steering to other alternatives.
/// </summary>
public sealed class Resolver
{
    private readonly ResolverUniverse _universe;
    private readonly string _origin;

    /// <param name="index">Packages of <paramref name="architecture"/> and "all", in index order (apt's order matters for ties).</param>
    /// <param name="architecture">Debian architecture, e.g. arm64.</param>
    /// <param name="origin">Suite and components for messages, e.g. "trixie/main".</param>
    public Resolver(IReadOnlyList<PackageRecord> index, string architecture, string origin = "trixie/main")
    {
        _universe = new ResolverUniverse(index, architecture);
        _origin = origin;
    }

    public string Architecture => _universe.Architecture;

    /// <summary>Names of the Essential: yes and Priority: required packages, sorted.</summary>
    public IReadOnlyList<string> RequiredPackages() =>
        [.. _universe.Packages.Where(p => p.Record.Essential || p.PriorityRank == 1).Select(p => p.Name)];

    /// <summary>
    /// The requested packages plus everything they need, ordered by name. With
    /// <see cref="ResolveOptions.IncludeRequired"/> the required set is appended to the request.
    /// </summary>
    public IReadOnlyList<PackageRecord> Resolve(IReadOnlyList<string> packages, ResolveOptions? options = null)
    {
        options ??= new ResolveOptions();
        var names = packages.Select(n => n.Trim()).Where(n => n.Length > 0).ToList();
        if (options.IncludeRequired)
        {
            names.AddRange(RequiredPackages());
        }

        var requested = new List<ResolverPackage>();
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            var package = Lookup(name, options);
            if (!requested.Contains(package))
            {
                requested.Add(package);
            }
        }

        var marker = new ResolverMarker(_universe);
        marker.InstallRequested(requested);
        ThrowIfBroken(marker, requested, options);
        marker.RemoveGarbage();
        ThrowIfBroken(marker, requested, options);
        return [.. marker.Installed.Select(p => p.Record)];
    }

    private ResolverPackage Lookup(string name, ResolveOptions options)
    {
        if (_universe.Real(name) is { } real)
        {
            return real;
        }
        var providers = _universe.ProvidersOf(name).Select(p => p.Owner).Distinct().OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        if (providers.Count == 1)
        {
            // apt-get: "Note, selecting 'provider' instead of 'virtual'".
            return providers[0];
        }
        var where = options.PackageListSource is null ? "the profile's packages: list" : $"packages: in {options.PackageListSource}";
        if (providers.Count > 1)
        {
            throw new EdgeImageException(
                $"package {name} is virtual in {_origin} for {Architecture}; it is provided by {string.Join(", ", providers.Select(p => p.Name))}",
                $"Name one of the providers instead of {name} in {where}.",
                ExitCodes.NotFound);
        }
        throw new EdgeImageException(
            $"package {name} not found in {_origin} for {Architecture}",
            $"Check the spelling in {where}, and that the profile's components include the one that has {name}.",
            ExitCodes.NotFound);
    }

    private void ThrowIfBroken(ResolverMarker marker, IReadOnlyList<ResolverPackage> requested, ResolveOptions options)
    {
        var broken = marker.Broken.ToList();
        if (broken.Count == 0)
        {
            return;
        }
        var first = broken.OrderBy(p => requested.Contains(p) ? 0 : 1).ThenBy(p => p.Name, StringComparer.Ordinal).First();
        var chain = new List<string>();
        for (var p = first; p is not null && chain.Count < 50; p = marker.PulledBy(p))
        {
            chain.Insert(0, p.Name);
        }
        var reasons = marker.UnmetGroups(first).Select(g => Explain(marker, first, g)).ToList();
        var message = $"cannot resolve the packages for {Architecture} from {_origin}: {string.Join(" -> ", chain)}{reasons.FirstOrDefault()}";
        if (reasons.Count > 1)
        {
            message += $" (and {string.Join("; ", reasons.Skip(1).Select(r => first.Name + r))})";
        }
        var where = options.PackageListSource is null ? "the profile's packages: list" : $"packages: in {options.PackageListSource}";
        throw new EdgeImageException(message,
            $"Remove or replace the package that needs this in {where}, or add the suite/component that has a fitting version.",
            ExitCodes.Failure);
    }

    /// <summary>Why a relation of an installed package does not hold, as the tail of a chain: " -> b (>= 2) but only 1 is available".</summary>
    private string Explain(ResolverMarker marker, ResolverPackage parent, DependencyGroup group, int depth = 0)
    {
        if (group.IsNegative)
        {
            var verb = group.Kind == DependencyKind.Breaks ? "breaks" : "conflicts with";
            var atom = group.Atoms[0];
            var hit = marker.Installed.FirstOrDefault(p => p != parent && Matches(atom, p));
            return $" {verb} {atom.Relation}{(hit is null ? "" : $", and {hit.Name} {hit.Version} is needed too")}";
        }

        var parts = new List<string>();
        foreach (var atom in group.Atoms)
        {
            var candidates = StaticCandidates(atom);
            if (candidates.Count == 0)
            {
                parts.Add(Unavailable(atom));
                continue;
            }
            var why = depth < 8 ? WhyNotInstalled(marker, candidates[0], depth + 1) : null;
            parts.Add($" -> {atom.Relation}{(candidates[0].Name != atom.Key ? $" (provided by {candidates[0].Name})" : "")}{why ?? ", which was not chosen"}");
        }
        return parts.Count == 1 ? parts[0] : $" -> none of {group}:{string.Join(";", parts)}";
    }

    private string? WhyNotInstalled(ResolverMarker marker, ResolverPackage package, int depth)
    {
        foreach (var group in package.Dependencies(Architecture))
        {
            if (!group.IsCritical)
            {
                continue;
            }
            if (group.IsNegative)
            {
                var atom = group.Atoms[0];
                var hit = marker.Installed.FirstOrDefault(p => p != package && Matches(atom, p));
                if (hit is not null)
                {
                    return $", but it {(group.Kind == DependencyKind.Breaks ? "breaks" : "conflicts with")} {hit.Name} {hit.Version}, which is needed too";
                }
                continue;
            }
            if (group.Atoms.All(a => StaticCandidates(a).Count == 0))
            {
                return Explain(marker, package, group, depth);
            }
        }
        foreach (var other in marker.Installed)
        {
            foreach (var group in other.Dependencies(Architecture).Where(g => g.IsNegative))
            {
                if (other != package && Matches(group.Atoms[0], package))
                {
                    return $", but {other.Name} {other.Version} (needed too) {(group.Kind == DependencyKind.Breaks ? "breaks" : "conflicts with")} {group.Atoms[0].Relation}";
                }
            }
        }
        foreach (var group in package.Dependencies(Architecture))
        {
            if (group.IsCritical && !group.IsNegative && !group.Atoms.Any(a => StaticCandidates(a).Any(marker.IsInstalled)))
            {
                return Explain(marker, package, group, depth);
            }
        }
        return null;
    }

    private string Unavailable(DependencyAtom atom)
    {
        var versions = new List<string>();
        if (_universe.Real(atom.Key) is { } real)
        {
            versions.Add(real.Version.Text);
        }
        versions.AddRange(_universe.ProvidersOf(atom.Key).Select(p => p.Version is null ? $"{p.Owner.Name} (unversioned provide)" : $"{p.Version.Text} (provided by {p.Owner.Name})"));
        return versions.Count == 0
            ? $" -> {atom.Relation}, which is not in {_origin} for {Architecture}"
            : $" -> {atom.Relation} but only {string.Join(", ", versions)} is available";
    }

    /// <summary>Packages whose (undropped) candidate satisfies the relation, ignoring what is marked.</summary>
    private List<ResolverPackage> StaticCandidates(DependencyAtom atom)
    {
        var result = new List<ResolverPackage>();
        if (_universe.Real(atom.Key) is { } real && atom.Relation.AcceptsVersion(real.Version))
        {
            result.Add(real);
        }
        result.AddRange(_universe.ProvidersOf(atom.Key).Where(p => atom.Relation.AcceptsProvided(p.Version)).Select(p => p.Owner));
        return result;
    }

    private bool Matches(DependencyAtom atom, ResolverPackage package) =>
        (package.Name == atom.Key && atom.Relation.AcceptsVersion(package.Version)) ||
        _universe.ProvidersOf(atom.Key).Any(p => p.Owner == package && atom.Relation.AcceptsProvided(p.Version));
}
