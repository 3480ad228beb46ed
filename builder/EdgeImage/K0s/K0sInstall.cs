using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using EdgeImage.Oci;
using EdgeImage.Packages;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;

namespace EdgeImage.K0s;

/// <summary>What of k0s an image holds, for manifest.json.</summary>
public sealed record ManifestK0s
{
    public required string Version { get; init; }

    /// <summary>Where the binary is installed in the image.</summary>
    public required string Path { get; init; }

    public required string Sha256 { get; init; }

    public required long Size { get; init; }

    /// <summary>The release URL or directory it was fetched from, or "--k0s-binary PATH".</summary>
    public required string Origin { get; init; }

    public required bool Airgap { get; init; }

    public ManifestBundle? AirgapBundle { get; init; }

    public required IReadOnlyList<ManifestImage> Images { get; init; }
}

/// <summary>An image archive in the OS image.</summary>
public sealed record ManifestBundle(string File, string Sha256, long Size);

/// <summary>A pulled image: the pinned reference, the manifest chosen for the platform, and its archive in the OS image.</summary>
public sealed record ManifestImage(string Reference, string Platform, string ManifestDigest, string File, string Sha256, long Size);

/// <summary>
/// Lays the k0s payload into the composed tree:
/// - the binary at /usr/local/bin/k0s, where k0s's own install docs put it (and so where
///   `k0s install worker` points the service it writes);
/// - the airgap bundle and every pulled image as OCI archives under /usr/lib/edgeimage/k0s/images,
///   read-only in the root slot, exposed at boot as symlinks in /var/lib/k0s/images by a
///   tmpfiles.d rule: k0s imports every file there, and the directory itself must be writable
///   because k0s creates and chmods it;
/// - for an airgapped profile, a containerd drop-in in /etc/k0s/containerd.d that points every
///   registry at an address that cannot resolve. containerd has no "pull policy" setting; with
///   this, any pull of an image the node does not already hold fails at once, which is the effect
///   of pull policy Never on the node. (Pods still say IfNotPresent; set spec.images.default_pull_policy:
///   Never in the controller's ClusterConfig for k0s's own pods.)
/// - the profile's k0s.worker options at /usr/lib/edgeimage/k0s-worker.env (<see cref="K0sWorkerOptions"/>),
///   which the first-boot join passes to `k0s install worker`.
/// </summary>
public static partial class K0sInstall
{
    public const string BinaryPath = "/usr/local/bin/k0s";
    public const string ImagesDirectory = "/usr/lib/edgeimage/k0s/images";
    public const string K0sImagesDirectory = "/var/lib/k0s/images";
    public const string TmpfilesPath = "/usr/lib/tmpfiles.d/edgeimage-k0s-images.conf";
    public const string ContainerdDropIn = "/etc/k0s/containerd.d/edgeimage-airgap.toml";
    public const string RegistryHostsDirectory = "/etc/k0s/containerd.d/certs.d";

    /// <summary>RFC 6761 reserves .invalid: it never resolves, so a pull fails at once instead of timing out.</summary>
    public const string PullDisabledServer = "https://pulls-disabled-airgapped-node.invalid";

    public static async Task<ManifestK0s> InstallAsync(RootfsTree tree, K0sPayload payload, bool airgap, K0sWorkerSpec worker, BuildContext ctx)
    {
        var epoch = ctx.SourceDateEpoch;
        // Written for every k0s image, with empty values when the profile sets no worker options,
        // so what the devices of an image pass to k0s can be read in the image itself.
        tree.WriteFile(K0sWorkerOptions.Path, K0sWorkerOptions.Render(worker), epoch);
        await using (var binary = File.OpenRead(payload.Binary.Path))
        {
            tree.WriteFile(BinaryPath, binary, payload.Binary.Size, epoch, 0b111_101_101);
        }

        var archives = new List<(string Name, string Sha256, long Size)>();
        ManifestBundle? bundle = null;
        if (payload.AirgapBundle is { } official)
        {
            var name = $"k0s-airgap-bundle-{payload.Version}.tar";
            await using var stream = File.OpenRead(official.Path);
            tree.WriteFile($"{ImagesDirectory}/{name}", stream, official.Size, epoch);
            archives.Add((name, official.Sha256, official.Size));
            bundle = new ManifestBundle($"{ImagesDirectory}/{name}", official.Sha256, official.Size);
        }

        var images = new List<ManifestImage>();
        var cache = new ContentCache(ctx.CacheDir, ctx.Log);
        Directory.CreateDirectory(ctx.WorkDir);
        foreach (var image in payload.Images)
        {
            var name = ArchiveName(image.Reference);
            var scratch = Path.Combine(ctx.WorkDir, name);
            try
            {
                await using (var output = new FileStream(scratch, FileMode.Create, FileAccess.ReadWrite))
                {
                    await OciArchive.WriteAsync(image, cache, output, epoch, ctx.Cancellation);
                }
                string sha256;
                long size;
                await using (var archive = File.OpenRead(scratch))
                {
                    sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(archive, ctx.Cancellation));
                    size = archive.Length;
                    archive.Position = 0;
                    tree.WriteFile($"{ImagesDirectory}/{name}", archive, size, epoch);
                }
                archives.Add((name, sha256, size));
                images.Add(new ManifestImage(image.Reference.Original, image.Platform.ToString(), image.Manifest.Digest, $"{ImagesDirectory}/{name}", sha256, size));
            }
            finally
            {
                File.Delete(scratch);
            }
        }

        if (archives.Count > 0)
        {
            tree.WriteFile(TmpfilesPath, Tmpfiles(archives.Select(a => a.Name)), epoch);
        }
        if (airgap)
        {
            tree.WriteFile(ContainerdDropIn, DropIn(payload.Version), epoch);
            tree.WriteFile($"{RegistryHostsDirectory}/_default/hosts.toml", $"""
                # Written by edgeimage for an airgapped profile: every registry without a directory of its
                # own here resolves to an address that does not exist, so containerd never pulls; the
                # images this node runs come from {K0sImagesDirectory}.
                server = "{PullDisabledServer}"

                """, epoch);
        }
        ctx.Log.Info($"k0s {payload.Version}: {BinaryPath} ({payload.Binary.Size >> 20} MiB), {archives.Count} image archives ({archives.Sum(a => a.Size) >> 20} MiB){(airgap ? ", pulls disabled" : "")}");
        return new ManifestK0s
        {
            Version = payload.Version,
            Path = BinaryPath,
            Sha256 = payload.Binary.Sha256,
            Size = payload.Binary.Size,
            Origin = payload.Binary.Origin,
            Airgap = airgap,
            AirgapBundle = bundle,
            Images = images,
        };
    }

    /// <summary>registry/repository@sha256:HEX -> registry_repository-HEX12.tar, a name safe for any file system.</summary>
    public static string ArchiveName(ImageReference reference) =>
        UnsafeCharacters().Replace($"{reference.Registry}_{reference.Repository}", "_") + "-" + reference.Hex[..12] + ".tar";

    public static string Tmpfiles(IEnumerable<string> archives)
    {
        var text = new StringBuilder($"""
            # Written by edgeimage: the image archives of this OS slot are read-only under {ImagesDirectory};
            # k0s imports every file in {K0sImagesDirectory}, a writable directory on the data partition,
            # so each archive is linked there at every boot (L+ re-points the links after an A/B update).
            d {K0sImagesDirectory} 0755 root root -

            """);
        foreach (var name in archives.Order(StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"L+ {K0sImagesDirectory}/{name} - - - - {ImagesDirectory}/{name}\n");
        }
        return text.ToString();
    }

    /// <summary>
    /// k0s up to 1.35 runs containerd 1.7 (config version 2, CRI plugin io.containerd.grpc.v1.cri);
    /// from 1.36 on containerd 2, whose drop-ins must be version 3 with the io.containerd.cri.v1.images
    /// plugin, and k0s refuses to start on a version 2 drop-in.
    /// </summary>
    public static string DropIn(string k0sVersion)
    {
        var match = MinorVersion().Match(k0sVersion);
        var minor = match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var (version, plugin) = minor >= 36 ? (3, "io.containerd.cri.v1.images") : (2, "io.containerd.grpc.v1.cri");
        return $"""
            # Written by edgeimage for an airgapped profile: containerd reads registry hosts from
            # certs.d, whose _default sends every pull to an address that cannot resolve.
            version = {version}

            [plugins."{plugin}".registry]
            config_path = "{RegistryHostsDirectory}"

            """;
    }

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex UnsafeCharacters();

    [GeneratedRegex(@"^v1\.(\d+)\.")]
    private static partial Regex MinorVersion();
}
