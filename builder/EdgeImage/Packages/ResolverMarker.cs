namespace EdgeImage.Packages;

/// <summary>
/// apt 2.6's pkgDepCache::MarkInstall (apt-pkg/depcache.cc) for a system with nothing installed,
/// followed by the auto-remover's mark-and-sweep, written so the selection equals
/// <c>apt-get install --simulate</c> with Install-Recommends off. The names of methods and states
/// follow apt's so the two can be read side by side. What apt does only for installed packages
/// (upgrades, removals, holds, M-A:same version sync across architectures) has no counterpart here.
/// </summary>
internal sealed class ResolverMarker
{
    private const int MaxDepth = 3000;

    private readonly ResolverUniverse _universe;
    private readonly string _arch;
    private readonly PackageState[] _state;

    // apt caches "does some candidate satisfy this dependency" per dependency and refreshes it only
    // when a package the dependency points at changes state, so after a candidate is dropped the cached
    // answer can be stale. Per key, the packages whose candidate was gone at the key's last refresh.
    private readonly Dictionary<string, HashSet<int>> _candidateGoneAtRefresh = new(StringComparer.Ordinal);

    public ResolverMarker(ResolverUniverse universe)
    {
        _universe = universe;
        _arch = universe.Architecture;
        _state = [.. universe.Packages.Select(_ => new PackageState())];
    }

    private enum Mode
    {
        Keep,
        Install,
        Delete,
    }

    private sealed class PackageState
    {
        public Mode Mode = Mode.Keep;
        public bool HasCandidate = true;
        public bool HasInstall;
        public bool Protected;
        public bool Auto;
        public bool Marked;

        // Who first pulled the package in, for error messages only.
        public ResolverPackage? PulledBy;
    }

    public bool IsInstalled(ResolverPackage p) => S(p).Mode == Mode.Install && S(p).HasInstall;

    public IEnumerable<ResolverPackage> Installed => _universe.Packages.Where(IsInstalled);

    public ResolverPackage? PulledBy(ResolverPackage p) => S(p).PulledBy;

    private PackageState S(ResolverPackage p) => _state[p.Ordinal];

    private IReadOnlyList<DependencyGroup> Deps(ResolverPackage p) => p.Dependencies(_arch);

    /// <summary>apt-get install: mark every request without dependencies, then with them, in command-line order.</summary>
    public void InstallRequested(IReadOnlyList<ResolverPackage> requested)
    {
        foreach (var p in requested)
        {
            // TryToInstall: the problem resolver protects what the user asked for.
            S(p).Protected = true;
            MarkInstall(p, autoInst: false, depth: 0, fromUser: true);
        }
        foreach (var p in requested)
        {
            MarkInstall(p, autoInst: true, depth: 0, fromUser: true);
        }
    }

    /// <summary>Packages marked for install whose critical relations do not hold.</summary>
    public IEnumerable<ResolverPackage> Broken => _universe.Packages.Where(InstBroken);

    /// <summary>DoAutomaticRemove: new installs that nothing manual, essential or important reaches are not installed.</summary>
    public void RemoveGarbage()
    {
        MarkRequired();
        var garbage = _universe.Packages.Where(p => IsInstalled(p) && !S(p).Marked).ToList();
        foreach (var p in garbage)
        {
            MarkDelete(p, depth: 0, fromUser: false);
        }
        // apt puts back a garbage package another new install still depends on.
        var changed = garbage.Count > 0 && Broken.Any();
        while (changed)
        {
            changed = false;
            foreach (var p in garbage.ToList())
            {
                var keys = new HashSet<string>(p.ProvidedKeys, StringComparer.Ordinal) { p.Name };
                var neededBy = Installed.FirstOrDefault(r => Deps(r).Any(g =>
                    !g.IsNegative && g.IsCritical && g.Atoms.Any(a => keys.Contains(a.Key))));
                if (neededBy is not null)
                {
                    MarkInstall(p, autoInst: false, depth: 0, fromUser: false);
                    garbage.Remove(p);
                    changed = true;
                    break;
                }
            }
        }
    }

    private bool MarkInstall(ResolverPackage p, bool autoInst, int depth, bool fromUser, ResolverPackage? parent = null)
    {
        var s = S(p);
        if (!IsModeChangeOk(Mode.Install, p, depth, fromUser))
        {
            return false;
        }
        if (!s.HasCandidate)
        {
            return false;
        }
        if (!s.Protected && !InstBroken(p) && s.Mode == Mode.Install)
        {
            return true;
        }
        if (!IsInstallOkDependenciesSatisfiableByCandidates(p, autoInst))
        {
            return false;
        }
        if (fromUser)
        {
            StateChange(p, fromUser);
        }
        var failEarly = !s.Protected && !fromUser;
        var hasFailed = false;

        List<DependencyGroup> toInstall = [];
        List<DependencyGroup> toRemove = [];
        if (autoInst)
        {
            CollectDependencies(p, toInstall, toRemove);
            if (!RemoveConflictsIfNotUpgradeable(p, toRemove, depth, s.Protected, fromUser))
            {
                if (failEarly)
                {
                    return false;
                }
                hasFailed = true;
            }
        }
        if (!fromUser)
        {
            StateChange(p, fromUser);
        }
        s.PulledBy ??= parent;
        if (!autoInst)
        {
            return !hasFailed;
        }

        // ScopedProtected: while its dependencies are marked the package counts as protected.
        var propagateProtected = s.Protected;
        s.Protected = true;
        try
        {
            if (!InstallDependencies(p, depth, toInstall, propagateProtected, fromUser))
            {
                if (failEarly)
                {
                    s.Protected = propagateProtected;
                    DiscardInstall(p);
                    return false;
                }
                hasFailed = true;
            }
        }
        finally
        {
            s.Protected = propagateProtected;
        }
        return !hasFailed;
    }

    private bool IsModeChangeOk(Mode mode, ResolverPackage p, int depth, bool fromUser)
    {
        if (depth > MaxDepth)
        {
            return false;
        }
        if (fromUser)
        {
            return true;
        }
        var s = S(p);
        if (s.Mode == mode)
        {
            return true;
        }
        if (s.Protected)
        {
            return false;
        }
        if (mode == Mode.Delete && (p.Essential || p.Important))
        {
            return false;
        }
        return true;
    }

    private bool IsInstallOkDependenciesSatisfiableByCandidates(ResolverPackage p, bool autoInst)
    {
        if (!autoInst)
        {
            return true;
        }
        foreach (var group in Deps(p))
        {
            if (!group.IsCritical || group.IsNegative)
            {
                continue;
            }
            if (group.Atoms.Any(a => DepInstall(p, a) || CachedDepCandidate(p, a, negative: false)))
            {
                continue;
            }
            // apt drops the candidate so the problem resolver does not trip over it later (#735967).
            var s = S(p);
            if (!s.Protected)
            {
                s.HasCandidate = false;
                if (s.Mode != Mode.Delete)
                {
                    s.Mode = Mode.Keep;
                }
            }
            return false;
        }
        return true;
    }

    private void StateChange(ResolverPackage p, bool fromUser)
    {
        var s = S(p);
        if (s.Protected && s.HasInstall == s.HasCandidate)
        {
            return;
        }
        s.Mode = Mode.Install;
        s.HasInstall = s.HasCandidate;
        s.Auto = !fromUser;
        Update(p);
    }

    private void DiscardInstall(ResolverPackage p)
    {
        var s = S(p);
        if (s.Mode == Mode.Keep && s.HasInstall == s.HasCandidate && !s.HasCandidate)
        {
            return;
        }
        s.HasInstall = false;
        s.Mode = Mode.Keep;
        Update(p);
        s.HasCandidate = s.HasInstall;
    }

    private bool MarkKeep(ResolverPackage p, int depth, bool fromUser)
    {
        if (!IsModeChangeOk(Mode.Keep, p, depth, fromUser))
        {
            return false;
        }
        var s = S(p);
        if (s.Mode == Mode.Keep)
        {
            return true;
        }
        s.Mode = Mode.Keep;
        s.HasInstall = false;
        Update(p);
        return true;
    }

    private bool MarkDelete(ResolverPackage p, int depth, bool fromUser)
    {
        if (!IsModeChangeOk(Mode.Delete, p, depth, fromUser))
        {
            return false;
        }
        var s = S(p);
        if (s.Mode == Mode.Delete || !s.HasInstall)
        {
            return true;
        }
        // Nothing is installed, so a delete of a new install is a keep.
        s.Mode = Mode.Keep;
        s.HasInstall = false;
        Update(p);
        return true;
    }

    private void CollectDependencies(ResolverPackage p, List<DependencyGroup> toInstall, List<DependencyGroup> toRemove)
    {
        var propagateProtected = S(p).Protected;
        foreach (var group in Deps(p))
        {
            // For a negative relation apt's "satisfied" bit is inverted: nothing conflicting is marked.
            var satisfied = group.IsNegative
                ? !DepInstall(p, group.Atoms[0], negative: true)
                : group.Atoms.Any(a => DepInstall(p, a));
            if (satisfied && !propagateProtected)
            {
                continue;
            }
            // Recommends and Suggests are not important with Install-Recommends off.
            if (!group.IsCritical)
            {
                continue;
            }
            (group.IsNegative ? toRemove : toInstall).Add(group);
        }
    }

    private bool RemoveConflictsIfNotUpgradeable(ResolverPackage p, List<DependencyGroup> toRemove, int depth, bool propagateProtected, bool fromUser)
    {
        var failed = false;
        foreach (var group in toRemove)
        {
            foreach (var other in PossibleSolutions(p, group, sorted: true))
            {
                var os = S(other);
                if (os.Mode == Mode.Install && !MarkKeep(other, depth, fromUser: false))
                {
                    failed = true;
                    if (!propagateProtected && !fromUser)
                    {
                        break;
                    }
                }
                else if (propagateProtected)
                {
                    // A protected package's conflict can never be installed: drop its candidate for good.
                    os.HasCandidate = os.HasInstall;
                    os.Protected = true;
                }
            }
            if (failed && !propagateProtected && !fromUser)
            {
                break;
            }
        }
        toRemove.Clear();
        return !failed;
    }

    private bool InstallDependencies(ResolverPackage p, int depth, List<DependencyGroup> toInstall, bool propagateProtected, bool fromUser)
    {
        var failed = false;
        foreach (var group in toInstall)
        {
            var foundSolution = group.Atoms.Any(a => DepInstall(p, a));
            if (foundSolution && !propagateProtected)
            {
                continue;
            }
            var isCritical = group.IsCritical;
            if (foundSolution)
            {
                // A protected package protects the only package that can satisfy a critical dependency.
                if (!isCritical)
                {
                    continue;
                }
                var only = PossibleSolutions(p, group, sorted: false);
                if (only.Count != 1)
                {
                    continue;
                }
                var single = only[0];
                if (S(single).Protected)
                {
                    continue;
                }
                S(single).Protected = true;
                if (!MarkInstall(single, autoInst: true, depth + 1, fromUser: false, p))
                {
                    failed = true;
                }
                continue;
            }

            var solutions = PossibleSolutions(p, group, sorted: true);
            foreach (var candidate in solutions)
            {
                if (!S(candidate).HasCandidate)
                {
                    continue;
                }
                if (propagateProtected && isCritical && solutions.Count == 1)
                {
                    if (!MarkInstall(candidate, autoInst: false, depth + 1, fromUser: false, p))
                    {
                        continue;
                    }
                    S(candidate).Protected = true;
                }
                if (!MarkInstall(candidate, autoInst: true, depth + 1, fromUser: false, p))
                {
                    continue;
                }
                foundSolution = true;
                break;
            }
            if (!foundSolution && isCritical)
            {
                failed = true;
                if (!propagateProtected && !fromUser)
                {
                    break;
                }
            }
        }
        toInstall.Clear();
        return !failed;
    }

    /// <summary>
    /// getAllPossibleSolutions: the candidates that satisfy (or, for a negative relation, match) each
    /// alternative, each alternative's list sorted by apt's provider preference, concatenated.
    /// </summary>
    private List<ResolverPackage> PossibleSolutions(ResolverPackage parent, DependencyGroup group, bool sorted)
    {
        var result = new List<ResolverPackage>();
        foreach (var atom in group.Atoms)
        {
            var found = CandidatesFor(parent, atom, group.IsNegative);
            if (sorted)
            {
                found.Sort((a, b) => CompareProviders(a, b, atom.Key));
            }
            result.AddRange(found);
        }
        if (!sorted)
        {
            result = [.. result.Distinct().OrderBy(x => x.Ordinal)];
        }
        else
        {
            // std::unique: only adjacent duplicates go.
            for (var i = result.Count - 1; i > 0; i--)
            {
                if (result[i] == result[i - 1])
                {
                    result.RemoveAt(i);
                }
            }
        }
        if (!group.IsNegative)
        {
            result.RemoveAll(x => S(x).Protected && S(x).Mode != Mode.Install);
        }
        return result;
    }

    /// <summary>VersionContainerInterface::FromDependency with the CANDIDATE selector.</summary>
    private List<ResolverPackage> CandidatesFor(ResolverPackage parent, DependencyAtom atom, bool negative)
    {
        var found = new List<ResolverPackage>();
        if (!CachedDepCandidate(parent, atom, negative))
        {
            return found;
        }
        if (_universe.Real(atom.Key) is { } target && !(negative && target == parent) &&
            S(target).HasCandidate && atom.Relation.AcceptsVersion(target.Version))
        {
            found.Add(target);
        }
        foreach (var provide in _universe.ProvidersOf(atom.Key))
        {
            if (negative && provide.Owner.Name == parent.Name)
            {
                continue;
            }
            if (S(provide.Owner).HasCandidate && atom.Relation.AcceptsProvided(provide.Version))
            {
                found.Add(provide.Owner);
            }
        }
        return found;
    }

    /// <summary>apt's CompareProviders for a system with nothing installed and one architecture; negative means a sorts first.</summary>
    private int CompareProviders(ResolverPackage a, ResolverPackage b, string targetKey)
    {
        if (a == b)
        {
            return 0;
        }
        var (sa, sb) = (S(a), S(b));
        if (sa.Protected != sb.Protected)
        {
            return sa.Protected ? -1 : 1;
        }
        var aIsTarget = a.Name == targetKey;
        var bIsTarget = b.Name == targetKey;
        if (aIsTarget != bIsTarget)
        {
            return aIsTarget ? -1 : 1;
        }
        if (a.Essential != b.Essential)
        {
            return a.Essential ? -1 : 1;
        }
        if (a.Important != b.Important)
        {
            return a.Important ? -1 : 1;
        }
        if (a.PriorityRank != b.PriorityRank)
        {
            return a.PriorityRank.CompareTo(b.PriorityRank);
        }
        return b.AptId.CompareTo(a.AptId);
    }

    private bool DepInstall(ResolverPackage parent, DependencyAtom atom, bool negative = false) =>
        CheckDep(parent, atom, negative, p => S(p).HasInstall);

    private bool CachedDepCandidate(ResolverPackage parent, DependencyAtom atom, bool negative)
    {
        var gone = _candidateGoneAtRefresh.GetValueOrDefault(atom.Key);
        return CheckDep(parent, atom, negative, p => gone is null || !gone.Contains(p.Ordinal));
    }

    /// <summary>pkgDepCache::CheckDep: does the target or one of its providers, in the given state, match the relation?</summary>
    private bool CheckDep(ResolverPackage parent, DependencyAtom atom, bool negative, Func<ResolverPackage, bool> present)
    {
        if (_universe.Real(atom.Key) is { } target && !(negative && target == parent) &&
            present(target) && atom.Relation.AcceptsVersion(target.Version))
        {
            return true;
        }
        foreach (var provide in _universe.ProvidersOf(atom.Key))
        {
            if (negative && provide.Owner.Name == parent.Name)
            {
                continue;
            }
            if (present(provide.Owner) && atom.Relation.AcceptsProvided(provide.Version))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>pkgDepCache::Update(Pkg): refresh the cached state of dependencies on the package and on what its candidate provides.</summary>
    private void Update(ResolverPackage p)
    {
        Refresh(p.Name);
        Refresh($"{p.Name}:{_arch}");
        if (S(p).HasCandidate)
        {
            foreach (var key in p.ProvidedKeys)
            {
                Refresh(key);
            }
        }
    }

    private void Refresh(string key)
    {
        var gone = new HashSet<int>();
        if (_universe.Real(key) is { } target && !S(target).HasCandidate)
        {
            gone.Add(target.Ordinal);
        }
        foreach (var provide in _universe.ProvidersOf(key))
        {
            if (!S(provide.Owner).HasCandidate)
            {
                gone.Add(provide.Owner.Ordinal);
            }
        }
        _candidateGoneAtRefresh[key] = gone;
    }

    private bool InstBroken(ResolverPackage p)
    {
        var s = S(p);
        if (!s.HasInstall)
        {
            return false;
        }
        return Deps(p).Any(g => g.IsCritical && !GroupHolds(p, g));
    }

    private bool GroupHolds(ResolverPackage p, DependencyGroup g) =>
        g.IsNegative ? !DepInstall(p, g.Atoms[0], negative: true) : g.Atoms.Any(a => DepInstall(p, a));

    /// <summary>The critical groups of an installed package that do not hold, for error messages.</summary>
    public IEnumerable<DependencyGroup> UnmetGroups(ResolverPackage p) => Deps(p).Where(g => g.IsCritical && !GroupHolds(p, g));

    /// <summary>pkgDepCache::MarkRequired: the auto-remover's mark phase (follows Recommends and Suggests, apt's defaults).</summary>
    private void MarkRequired()
    {
        foreach (var s in _state)
        {
            s.Marked = false;
        }
        var fullyExplored = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in _universe.Packages.OrderBy(x => x.AptId))
        {
            if (!IsInstalled(p) || S(p).Marked)
            {
                continue;
            }
            if (!S(p).Auto || p.Essential || p.Important)
            {
                MarkPackage(p, fullyExplored);
            }
        }
    }

    private void MarkPackage(ResolverPackage root, HashSet<string> fullyExplored)
    {
        var stack = new Stack<ResolverPackage>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var p = stack.Pop();
            if (S(p).Marked || !IsInstalled(p))
            {
                continue;
            }
            S(p).Marked = true;
            foreach (var group in Deps(p))
            {
                if (group.IsNegative)
                {
                    continue;
                }
                foreach (var atom in group.Atoms)
                {
                    if (fullyExplored.Contains(atom.Key))
                    {
                        continue;
                    }
                    var unsatisfied = false;
                    var providers = new List<ResolverPackage>();
                    if (_universe.Real(atom.Key) is { } target && IsInstalled(target))
                    {
                        if (atom.Relation.AcceptsVersion(target.Version))
                        {
                            providers.Add(target);
                        }
                        else
                        {
                            unsatisfied = true;
                        }
                    }
                    foreach (var provide in _universe.ProvidersOf(atom.Key))
                    {
                        if (!IsInstalled(provide.Owner))
                        {
                            continue;
                        }
                        if (atom.Relation.AcceptsProvided(provide.Version))
                        {
                            providers.Add(provide.Owner);
                        }
                        else
                        {
                            unsatisfied = true;
                        }
                    }
                    if (!unsatisfied)
                    {
                        fullyExplored.Add(atom.Key);
                    }
                    foreach (var provider in providers)
                    {
                        stack.Push(provider);
                    }
                }
            }
        }
    }
}
