using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EdgeImage.Packages;

/// <summary>What a profile resolved to: the packages of the rootfs and those only the build needs, in order.</summary>
public sealed record Resolution(IReadOnlyList<PackageRecord> Selected, IReadOnlyList<PackageRecord> BuildOnly);

/// <summary>
/// Remembers which paragraphs of a verified suite a package request resolved to, so a rebuild of
/// the same request against the same indexes reads those few paragraphs instead of parsing and
/// resolving all ~70,000 (about 5 s on two cores). The key covers everything the answer depends on:
/// the SHA256 of every Packages index (which the signed Release vouches for), the architecture, the
/// request and the builder's own code. An entry holds positions, not package data: the records are
/// read back from the verified index itself, and each must still name the package, version,
/// architecture and .deb hash the entry recorded, or the whole suite is read and resolved again.
/// So a damaged or edited entry can at worst choose other genuine packages of the signed suite, as
/// editing the profile could; it cannot bring in anything the archive did not sign.
/// </summary>
public sealed class ResolutionCache(string cacheDir)
{
    private const string Format = "edgeimage-resolution 1";

    // Named entries of the download cache: written to a temporary file and renamed into place.
    private readonly ContentCache _cache = new(cacheDir, NullBuildLog.Instance);

    public string Root { get; } = Path.Combine(cacheDir, "resolutions");

    public static string KeyOf(VerifiedSuite suite, IEnumerable<string> wanted, bool includeRequired, IEnumerable<string> buildPackages)
    {
        var text = new StringBuilder()
            .AppendLine(Format)
            .AppendLine(typeof(ResolutionCache).Assembly.ManifestModule.ModuleVersionId.ToString("N"))
            .AppendLine(suite.Request.Architecture)
            .AppendLine(string.Join(' ', suite.Indexes.Select(i => i.Entry.Sha256)))
            .AppendLine("wanted " + string.Join(' ', wanted))
            .AppendLine("required " + includeRequired.ToString(CultureInfo.InvariantCulture))
            .AppendLine("build " + string.Join(' ', buildPackages));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static string NameOf(string key) => $"resolutions/{key[..2]}/{key}";

    /// <summary>The cached resolution read back from the suite's verified indexes, or null.</summary>
    public Resolution? TryLoad(string key, VerifiedSuite suite)
    {
        if (_cache.ReadNamed(NameOf(key)) is not { } entry)
        {
            return null;
        }
        var rows = new List<(bool Build, IndexPosition Position, string[] Identity)>();
        foreach (var line in Encoding.UTF8.GetString(entry).TrimEnd('\n').Split('\n').Skip(1))
        {
            var f = line.Split(' ');
            if (f.Length != 7 || f[0] is not ("selected" or "build")
                || !int.TryParse(f[1], CultureInfo.InvariantCulture, out var index) || !int.TryParse(f[2], CultureInfo.InvariantCulture, out var at))
            {
                return null;
            }
            rows.Add((f[0] == "build", new IndexPosition(index, at), f[3..]));
        }
        if (rows.Count == 0 || DebianRepository.ReadAt(suite, [.. rows.Select(r => r.Position)]) is not { } read)
        {
            return null;
        }
        var records = read.Packages;
        for (var i = 0; i < rows.Count; i++)
        {
            if (!Identity(records[i]).SequenceEqual(rows[i].Identity, StringComparer.Ordinal))
            {
                return null;
            }
        }
        return new Resolution(
            [.. records.Where((_, i) => !rows[i].Build)],
            [.. records.Where((_, i) => rows[i].Build)]);
    }

    /// <summary>Stores a resolution whose records were read from the suite (they carry their positions); written whole or not at all.</summary>
    public void Store(string key, Resolution resolution)
    {
        var all = resolution.Selected.Select(p => ("selected", p)).Concat(resolution.BuildOnly.Select(p => ("build", p))).ToList();
        if (all.Any(x => x.p.Position is null))
        {
            return;
        }
        var text = new StringBuilder().Append(Format).Append('\n');
        foreach (var (role, package) in all)
        {
            text.Append(CultureInfo.InvariantCulture, $"{role} {package.Position!.Index} {package.Position.Line} {string.Join(' ', Identity(package))}\n");
        }
        _cache.WriteNamed(NameOf(key), Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static string[] Identity(PackageRecord p) => [p.Name, p.Version, p.Architecture, p.Sha256];
}
