namespace EdgeImage.Profiles;

/// <summary>
/// The effective build description after `extends:` is applied. Decoded strictly from YAML by
/// ProfileLoader; every field here is documented in profiles/profile.schema.json.
/// </summary>
public sealed record Profile
{
    public required string Name { get; init; }

    public string? Description { get; init; }

    /// <summary>Debian architecture: amd64, arm64 or armhf.</summary>
    public required string Arch { get; init; }

    public string Suite { get; init; } = "trixie";

    public IReadOnlyList<string> Components { get; init; } = ["main"];

    /// <summary>Mirror URL; when null the builder falls back to the host's apt sources.</summary>
    public string? Mirror { get; init; }

    /// <summary>OpenPGP keyring the suite's InRelease is verified against; null means the host's Debian archive keyring.</summary>
    public string? Keyring { get; init; }

    /// <summary>Packages asked for by name (the resolver adds their dependencies).</summary>
    public IReadOnlyList<string> Packages { get; init; } = [];

    /// <summary>Also install every Essential: yes and Priority: required package, as debootstrap's minbase does.</summary>
    public bool IncludeRequired { get; init; }

    public IReadOnlyList<string> Overlays { get; init; } = [];

    /// <summary>Path globs removed from the root after configuration (dpkg path-exclude semantics: '*' also matches '/').</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>Path globs kept although an <see cref="Exclude"/> glob matches them (dpkg path-include), e.g. copyright files.</summary>
    public IReadOnlyList<string> ExcludeKeep { get; init; } = [];

    public KernelSpec Kernel { get; init; } = new();

    /// <summary>Board description under firmware/ (generic-efi, rpi, ...).</summary>
    public required string Board { get; init; }

    public PartitionSizes Partitions { get; init; } = new();

    public K0sSpec? K0s { get; init; }

    /// <summary>Enables a root console for debugging; never for production images.</summary>
    public bool Debug { get; init; }

    /// <summary>The YAML file this profile was read from (the leaf, not its bases).</summary>
    public required string SourcePath { get; init; }

    /// <summary>Every file that went into this profile: the leaf first, then each base it extends.</summary>
    public IReadOnlyList<string> SourceChain { get; init; } = [];

    /// <summary>Where each top-level key was set ("packages" -> "profiles/x.yaml:12"), for error hints.</summary>
    public IReadOnlyDictionary<string, string> Locations { get; init; } = new Dictionary<string, string>();

    public string Locate(string key) => Locations.TryGetValue(key, out var where) ? where : SourcePath;
}

public sealed record KernelSpec
{
    /// <summary>Kernel package, e.g. linux-image-amd64.</summary>
    public string? Package { get; init; }

    /// <summary>Extra kernel modules the initramfs must load before the root can be found.</summary>
    public IReadOnlyList<string> Modules { get; init; } = [];

    public string? CommandLine { get; init; }

    /// <summary>
    /// Module subtrees or files, relative to /usr/lib/modules/VERSION/kernel (drivers/gpu, sound, ...),
    /// removed before the module indexes are generated. Globs as in <see cref="Profile.Exclude"/>.
    /// </summary>
    public IReadOnlyList<string> ExcludeModules { get; init; } = [];

    /// <summary>
    /// When not empty, the only module subtrees or files (same globs as <see cref="ExcludeModules"/>) that
    /// ship; <see cref="ExcludeModules"/> then removes from what is left. Modules the initramfs or k0s
    /// needs stay with their dependencies whatever either list says.
    /// </summary>
    public IReadOnlyList<string> IncludeModules { get; init; } = [];
}

public sealed record PartitionSizes
{
    /// <summary>Sizes in MiB.</summary>
    public int Boot { get; init; } = 128;

    public int Root { get; init; } = 512;

    public int Data { get; init; } = 256;
}

/// <summary>The k0s worker baked into the image (profile section `k0s:`).</summary>
public sealed record K0sSpec
{
    /// <summary>k0s release tag, e.g. v1.34.1+k0s.0. The loader requires it whenever the section is present.</summary>
    public required string Version { get; init; }

    /// <summary>
    /// Release base URL (http, https, file) or local directory laid out as VERSION/ASSET; null means
    /// the official GitHub releases. Relative paths are resolved against the profile file that set it.
    /// </summary>
    public string? Source { get; init; }

    /// <summary>PEM "PUBLIC KEY" (ECDSA P-256) that signed the release assets with `cosign sign-blob`; null skips the signature check.</summary>
    public string? CosignKey { get; init; }

    /// <summary>URL or path of k0s-airgap-bundle-VERSION-ARCH; null means the bundle of the same release source.</summary>
    public string? AirgapBundle { get; init; }

    /// <summary>Expected sha256 of the airgap bundle; null means its line in the release's sha256sums.txt.</summary>
    public string? AirgapBundleSha256 { get; init; }

    /// <summary>Extra OCI images, each pinned by digest: registry/repository@sha256:HEX.</summary>
    public IReadOnlyList<string> Images { get; init; } = [];

    /// <summary>Ship the airgap bundle and make the worker's containerd never pull (default pull policy Never).</summary>
    public bool Airgap { get; init; } = true;

    public K0sWorkerSpec Worker { get; init; } = new();
}

/// <summary>Options of `k0s install worker` every device of the image gets.</summary>
public sealed record K0sWorkerSpec
{
    /// <summary>Kubernetes node labels.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Node taints, key=value:Effect or key:Effect.</summary>
    public IReadOnlyList<string> Taints { get; init; } = [];

    /// <summary>Extra kubelet arguments, one per item (a string in the profile is split at whitespace).</summary>
    public IReadOnlyList<string> KubeletExtraArgs { get; init; } = [];

    /// <summary>Worker profile name as defined in the controller's k0s.yaml (workerProfiles).</summary>
    public string? Profile { get; init; }
}
