using System.Security.Cryptography;
using EdgeImage.Elf;
using EdgeImage.Oci;
using EdgeImage.Packages;
using EdgeImage.Profiles;

namespace EdgeImage.K0s;

/// <summary>How the build gets k0s: from the profile's release source, from a local binary, or not at all.</summary>
public sealed record K0sOptions
{
    /// <summary>--no-k0s: build the image without k0s even when the profile has a k0s section.</summary>
    public bool Disabled { get; init; }

    /// <summary>--k0s-binary: use this file instead of fetching the release binary.</summary>
    public string? Binary { get; init; }
}

/// <summary>A verified file the image gets, and where it came from.</summary>
public sealed record K0sFile(string Path, string Sha256, long Size, string Origin);

/// <summary>Everything of k0s that goes into the image, verified and in the cache.</summary>
public sealed record K0sPayload
{
    public required string Version { get; init; }

    public required K0sFile Binary { get; init; }

    /// <summary>The official airgap bundle; null when the profile is not airgapped.</summary>
    public K0sFile? AirgapBundle { get; init; }

    public required IReadOnlyList<PulledImage> Images { get; init; }
}

/// <summary>
/// Gathers the k0s binary, the airgap bundle and the profile's images before the long compose
/// starts, so a missing or unverifiable input fails the build within seconds.
/// </summary>
public sealed class K0sSources(IMirrorFetcher fetcher, OciPuller puller)
{
    public async Task<K0sPayload?> FetchAsync(Profile profile, K0sOptions options, BuildContext ctx)
    {
        if (profile.K0s is not { } k0s || options.Disabled)
        {
            return null;
        }
        var request = new K0sReleaseRequest
        {
            Version = k0s.Version,
            Architecture = profile.Arch,
            Source = k0s.Source ?? K0sReleaseRequest.OfficialSource,
            CosignKey = k0s.CosignKey,
        };
        var release = new K0sRelease(fetcher);
        var binary = options.Binary is { } local
            ? LocalBinary(local, profile, ctx.Log)
            : Describe(await release.FetchAsync(request, ctx), $"{request.Source.TrimEnd('/')}/{k0s.Version}/{K0sRelease.AssetName(request)}");

        K0sFile? bundle = null;
        if (k0s.Airgap)
        {
            var path = await release.FetchAirgapBundleAsync(request, k0s.AirgapBundle, k0s.AirgapBundleSha256, ctx);
            bundle = Describe(path, k0s.AirgapBundle ?? $"{request.Source.TrimEnd('/')}/{k0s.Version}/{K0sRelease.AirgapBundleName(request)}");
        }

        var platform = OciPlatform.ForDebian(profile.Arch);
        var images = new List<PulledImage>();
        foreach (var reference in k0s.Images)
        {
            ctx.Log.Info($"pulling {reference} for {platform}");
            images.Add(await puller.PullAsync(ImageReference.Parse(reference), platform, ctx));
        }
        return new K0sPayload { Version = k0s.Version, Binary = binary, AirgapBundle = bundle, Images = images };
    }

    /// <summary>
    /// --k0s-binary: an ELF must be built for the profile's architecture. A script (a stand-in for
    /// tests) cannot be checked and is let through with a warning; anything else is refused.
    /// </summary>
    public static K0sFile LocalBinary(string path, Profile profile, IBuildLog log)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new EdgeImageException($"--k0s-binary {full} does not exist", "Give the path of a k0s binary for the profile's architecture.", ExitCodes.NotFound);
        }
        var header = new byte[64];
        int read;
        using (var stream = File.OpenRead(full))
        {
            read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        var elf = ElfFile.TryRead(header[..read]);
        if (elf is not null && elf.DebianArchitecture != profile.Arch)
        {
            var actual = elf.DebianArchitecture ?? $"ELF machine {elf.Machine}, {(elf.Is64Bit ? 64 : 32)}-bit";
            throw new EdgeImageException($"--k0s-binary {full} is built for {actual}, but profile {profile.Name} is {profile.Arch}",
                $"Use the k0s binary for {profile.Arch} (k0s-VERSION-{(profile.Arch == "armhf" ? "arm" : profile.Arch)}).", ExitCodes.VerificationFailed);
        }
        if (elf is null)
        {
            if (read < 2 || header[0] != '#' || header[1] != '!')
            {
                throw new EdgeImageException($"--k0s-binary {full} is neither an ELF executable nor a script",
                    "Give the path of a k0s binary for the profile's architecture.", ExitCodes.VerificationFailed);
            }
            log.Warn($"--k0s-binary {full} is a script, not an ELF binary: ITS ARCHITECTURE CANNOT BE CHECKED, and it is not the real k0s. "
                + "This is only right for test stand-ins; never ship such an image.");
        }
        using var content = File.OpenRead(full);
        return new K0sFile(full, Convert.ToHexStringLower(SHA256.HashData(content)), content.Length, "--k0s-binary " + full);
    }

    /// <summary>Cache entries are named by their sha256, which the fetch has just verified.</summary>
    private static K0sFile Describe(string cachedPath, string origin) =>
        new(cachedPath, System.IO.Path.GetFileName(cachedPath), new FileInfo(cachedPath).Length, origin);
}
