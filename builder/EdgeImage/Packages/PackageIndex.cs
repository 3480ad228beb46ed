namespace EdgeImage.Packages;

/// <summary>What to open: one suite of one mirror for one architecture.</summary>
public sealed record DebianSuiteRequest
{
    /// <summary>Mirror root (the directory holding dists/ and pool/): http(s)://, file:// or a local directory.</summary>
    public required string Mirror { get; init; }

    public string Suite { get; init; } = "trixie";

    public IReadOnlyList<string> Components { get; init; } = ["main"];

    /// <summary>Debian architecture: amd64, arm64, armhf, ...</summary>
    public required string Architecture { get; init; }

    public string KeyringPath { get; init; } = ArchiveKeyring.DebianDefault;
}

/// <summary>
/// Every binary package a verified suite offers for one architecture (its own and Architecture: all),
/// in index order. A name may appear more than once when the suite carries several versions.
/// </summary>
public sealed class PackageIndex
{
    private readonly ILookup<string, PackageRecord> _byName;

    public PackageIndex(DebianSuiteRequest request, ReleaseFile release, IReadOnlyList<PackageRecord> packages)
    {
        Request = request;
        Release = release;
        Packages = packages;
        _byName = packages.ToLookup(p => p.Name, StringComparer.Ordinal);
    }

    public DebianSuiteRequest Request { get; }

    public string Mirror => Request.Mirror;

    public string Architecture => Request.Architecture;

    public ReleaseFile Release { get; }

    public IReadOnlyList<PackageRecord> Packages { get; }

    public int Count => Packages.Count;

    /// <summary>All versions of a package by name, in index order; empty when the suite has none.</summary>
    public IEnumerable<PackageRecord> this[string name] => _byName[name];

    public bool Contains(string name) => _byName.Contains(name);
}
