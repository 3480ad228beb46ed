namespace EdgeImage.Oci;

/// <summary>The platform an image index entry must name for a profile's architecture (OCI image-index platform fields).</summary>
public sealed record OciPlatform(string Os, string Architecture, string? Variant)
{
    public static OciPlatform ForDebian(string architecture) => architecture switch
    {
        "amd64" => new("linux", "amd64", null),
        "arm64" => new("linux", "arm64", "v8"),
        "armhf" => new("linux", "arm", "v7"),
        _ => throw new EdgeImageException($"no OCI platform for architecture '{architecture}'",
            "Use a profile with architecture amd64, arm64 or armhf.", ExitCodes.InvalidProfile),
    };

    /// <summary>
    /// Whether an index entry fits. The variant must match when the entry states one; an entry
    /// without a variant fits arm64 (v8 is the only one) but not arm, where v6 and v7 binaries differ.
    /// </summary>
    public bool Accepts(string? os, string? architecture, string? variant) =>
        os == Os && architecture == Architecture
        && (variant == Variant || (variant is null && Architecture != "arm"));

    public override string ToString() => $"{Os}/{Architecture}{(Variant is null ? "" : "/" + Variant)}";
}
