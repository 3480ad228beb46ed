using System.Text.RegularExpressions;

namespace EdgeImage.Oci;

/// <summary>
/// An image reference pinned by digest, split the way Docker and containerd read it: a first path
/// component with a '.', a ':' or "localhost" is the registry, otherwise the image is on Docker Hub
/// (and a single-component Hub name lives under library/).
/// </summary>
public sealed partial record ImageReference
{
    public const string DockerHub = "docker.io";

    /// <summary>Registry host[:port] as written (docker.io for Hub images).</summary>
    public required string Registry { get; init; }

    public required string Repository { get; init; }

    public string? Tag { get; init; }

    /// <summary>sha256:HEX the pulled manifest or index must hash to.</summary>
    public required string Digest { get; init; }

    /// <summary>The reference as the profile wrote it.</summary>
    public required string Original { get; init; }

    /// <summary>Host[:port] the registry API is served from (Hub's API lives on another host than its name).</summary>
    public string ApiHost => Registry == DockerHub ? "registry-1.docker.io" : Registry;

    /// <summary>Canonical name containerd gives the image: registry/repository[:tag]@digest.</summary>
    public string FullName => $"{Registry}/{Repository}{(Tag is null ? "" : ":" + Tag)}@{Digest}";

    public string Hex => Digest["sha256:".Length..];

    public static ImageReference Parse(string text)
    {
        var match = Pattern().Match(text);
        if (!match.Success)
        {
            throw new EdgeImageException($"image '{text}' is not a reference pinned by digest (name@sha256:<64 hex digits>)",
                "Pin it: `skopeo inspect docker://REFERENCE` prints the Digest to append after '@'.", ExitCodes.InvalidProfile);
        }
        var name = match.Groups["name"].Value;
        var slash = name.IndexOf('/');
        var first = slash < 0 ? "" : name[..slash];
        var (registry, repository) = first.Contains('.') || first.Contains(':') || first == "localhost"
            ? (first, name[(slash + 1)..])
            : (DockerHub, slash < 0 ? "library/" + name : name);
        return new ImageReference
        {
            Registry = registry,
            Repository = repository,
            Tag = match.Groups["tag"].Success ? match.Groups["tag"].Value : null,
            Digest = "sha256:" + match.Groups["hex"].Value,
            Original = text,
        };
    }

    public override string ToString() => Original;

    [GeneratedRegex(@"^(?<name>[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*)(:(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?@sha256:(?<hex>[0-9a-f]{64})$")]
    private static partial Regex Pattern();
}
