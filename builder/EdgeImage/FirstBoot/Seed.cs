namespace EdgeImage.FirstBoot;

/// <summary>
/// The per-device seed: what makes one flashed copy of the golden image a particular node. It lives
/// on the boot FAT partition as edgeimage/seed.yaml (written by `edgeimage seed`); the format is
/// documented in README.md ("Device seed") and checked strictly by <see cref="SeedLoader"/>.
/// </summary>
public sealed record Seed
{
    /// <summary>Lower-case RFC 1123 host name; also the Kubernetes node name (system:node:HOSTNAME).</summary>
    public required string Hostname { get; init; }

    /// <summary>The join token inline; exactly one of this and <see cref="TokenFile"/> is set.</summary>
    public string? Token { get; init; }

    /// <summary>A file name beside seed.yaml (on the host when writing, in edgeimage/ on the FAT on the device) holding the token.</summary>
    public string? TokenFile { get; init; }

    /// <summary>The token's text, read from <see cref="TokenFile"/> when the seed names one.</summary>
    public required string TokenText { get; init; }

    /// <summary>Node labels (Kubernetes label syntax), sorted by key.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    public SeedNetwork Network { get; init; } = new();

    /// <summary>NTP servers (host names or addresses); empty keeps the image's default.</summary>
    public IReadOnlyList<string> Ntp { get; init; } = [];

    /// <summary>OpenSSH public key lines for root's authorized_keys; used only when the image has an sshd.</summary>
    public IReadOnlyList<string> SshAuthorizedKeys { get; init; } = [];

    /// <summary>The file the seed was read from.</summary>
    public required string SourcePath { get; init; }
}

public enum SeedNetworkMode
{
    Dhcp,
    Static,
}

public sealed record SeedNetwork
{
    public SeedNetworkMode Mode { get; init; } = SeedNetworkMode.Dhcp;

    /// <summary>Static address with prefix length, e.g. 192.168.1.17/24.</summary>
    public string? Address { get; init; }

    public string? Gateway { get; init; }

    public IReadOnlyList<string> Dns { get; init; } = [];
}
