namespace EdgeImage.Packages;

/// <summary>
/// One binary package as a Packages index describes it. Relationship fields are kept as raw text
/// here; the resolver parses them.
/// </summary>
public sealed record PackageRecord
{
    public required string Name { get; init; }

    public required string Version { get; init; }

    /// <summary>The package's own architecture: the build's arch or "all".</summary>
    public required string Architecture { get; init; }

    /// <summary>Path of the .deb relative to the mirror root (pool/main/...).</summary>
    public required string Filename { get; init; }

    public required long Size { get; init; }

    /// <summary>Lower-case hex SHA256 of the .deb.</summary>
    public required string Sha256 { get; init; }

    /// <summary>The whole paragraph from the index (Depends, Provides, Multi-Arch, Priority, Essential, ...).</summary>
    public required ControlParagraph Control { get; init; }

    /// <summary>Where the paragraph is in the verified suite's indexes (index number, first line); null when not read from one.</summary>
    public IndexPosition? Position { get; init; }

    public string? this[string field] => Control[field];

    public bool Essential => string.Equals(Control["Essential"], "yes", StringComparison.OrdinalIgnoreCase);

    public string Priority => Control["Priority"] ?? "optional";

    public static PackageRecord FromParagraph(ControlParagraph p, string source) => new()
    {
        Name = p.Required("Package", source),
        Version = p.Required("Version", source),
        Architecture = p.Required("Architecture", source),
        Filename = p.Required("Filename", source),
        Size = long.Parse(p.Required("Size", source), System.Globalization.CultureInfo.InvariantCulture),
        Sha256 = p.Required("SHA256", source).ToLowerInvariant(),
        Control = p,
    };

    public override string ToString() => $"{Name}_{Version}_{Architecture}";
}

/// <summary>A paragraph's place in a verified suite: which of its Packages indexes, and the paragraph's first line (1-based).</summary>
public sealed record IndexPosition(int Index, int Line);
