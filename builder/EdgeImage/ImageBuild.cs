using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeImage.Boot;
using EdgeImage.Disk;
using EdgeImage.Filesystems;
using EdgeImage.Initramfs;
using EdgeImage.Kernel;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tools;

namespace EdgeImage;

public sealed record ImageRequest
{
    public required Profile Profile { get; init; }

    public string? Mirror { get; init; }

    /// <summary>out/PROFILE: edge.img and manifest.json appear here, whole or not at all.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Squashfs compressor of the root slots.</summary>
    public string Compression { get; init; } = "zstd";
}

/// <summary>
/// `edgeimage build` for UEFI boards: the composed rootfs becomes a GPT disk with an ESP
/// (systemd-boot, one kernel + initramfs per slot), root A and B (read-only squashfs) and a data
/// partition the initramfs formats on first boot. One readable method; each step is a small stage.
/// </summary>
public sealed class ImageBuild(RootfsBuild rootfs, HostTools tools)
{
    public const string ImageName = "edge.img";
    public const string ManifestName = "manifest.json";

    /// <summary>A slot must hold the root with this much room left for updates to grow into.</summary>
    public const double SlotHeadroom = 1.25;

    /// <summary>Modules of the generic-efi board: the disks and buses a UEFI machine or VM boots from.</summary>
    public static readonly IReadOnlyList<string> GenericEfiModules =
        ["virtio_pci", "virtio_blk", "virtio_scsi", "nvme", "ahci", "sd_mod", "usb_storage", "uas", "xhci_pci", "mmc_block", "sdhci_pci"];

    public async Task<ImageManifest> BuildAsync(ImageRequest request, BuildContext context)
    {
        var profile = request.Profile;
        var log = context.Log;
        CheckBoard(profile);
        SquashfsImage.CheckCompressor(request.Compression);
        tools.Require([.. FatImage.RequiredTools, "tar2sqfs", "depmod"]);
        var stages = new List<StageTiming>();
        var clock = Stopwatch.StartNew();

        using var composed = await rootfs.ComposeAsync(new RootfsRequest
        {
            Profile = profile,
            Mirror = request.Mirror,
            BuildPackages = [SystemdBoot.Package],
        }, context);
        context = composed.Context;
        stages.Add(Stage("resolve+fetch+compose", clock));
        var tree = composed.Tree;

        PrepareImmutableLayout(tree, context.SourceDateEpoch);
        var kernel = await KernelInstall.PrepareAsync(tree, tools, context, profile.Locate("kernel"), profile.Kernel.ExcludeModules,
            [.. InitramfsBuilder.CoreModules, .. GenericEfiModules, .. profile.Kernel.Modules, .. ModulePruning.K0sModules]);
        stages.Add(Stage("kernel modules", clock));

        using var initramfsStream = new MemoryStream();
        var initramfs = InitramfsBuilder.Write(new InitramfsInput
        {
            Tree = tree,
            Kernel = kernel,
            BoardModules = GenericEfiModules,
            ProfileModules = profile.Kernel.Modules,
            Origin = profile.Locate("kernel"),
            Debug = profile.Debug,
        }, initramfsStream, context.SourceDateEpoch);
        var initramfsBytes = initramfsStream.ToArray();
        log.Info($"initramfs: {initramfs.Entries} entries, {initramfs.Modules.Count} modules, {initramfsBytes.Length >> 10} KiB");
        stages.Add(Stage("initramfs", clock));

        // Each slot's kernel boots from the ESP; a second copy in the root would only cost slot space.
        var kernelBytes = tree.ReadAllBytes(tree[kernel.ImagePath]!);
        tree.Remove(kernel.ImagePath);

        var rootImage = Path.Combine(context.WorkDir, "root.sqfs");
        var rootSize = await SquashfsImage.WriteAsync(tree, rootImage, request.Compression, tools, context);
        log.Info($"root: squashfs ({request.Compression}) {rootSize >> 20} MiB");
        stages.Add(Stage("squashfs", clock));
        CheckRootFits(profile, rootSize);

        using var loaderTree = UnpackBuildPackage(composed, SystemdBoot.Package, context);
        var commandLine = string.Join(' ', new[] { profile.Kernel.CommandLine, profile.Debug ? "systemd.debug_shell=ttyS0" : null }.Where(s => !string.IsNullOrEmpty(s)));
        var espFiles = SystemdBoot.EspFiles(loaderTree, profile.Arch,
            [new SlotBootFiles("a", kernelBytes, initramfsBytes), new SlotBootFiles("b", kernelBytes, initramfsBytes)], commandLine);
        var seed = new DiskSeed($"edgeimage/{profile.Name}/{context.SourceDateEpoch}");
        var espImage = Path.Combine(context.WorkDir, "esp.img");
        await FatImage.WriteAsync(espImage, (long)profile.Partitions.Boot << 20, "ESP", seed.DeriveUInt32("esp-serial"), espFiles, tools, context);
        stages.Add(Stage("esp", clock));

        var spec = DiskSpec(profile, seed);
        Directory.CreateDirectory(request.OutputDirectory);
        var imagePath = Path.Combine(request.OutputDirectory, ImageName);
        var layout = default(GptLayout);
        var digests = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await AtomicFile.WriteAsync(imagePath, async disk =>
        {
            layout = GptWriter.Write(disk, spec);
            digests["esp"] = await CopyAtAsync(espImage, disk, layout["esp"].Offset, context.Cancellation);
            digests["root-a"] = await CopyAtAsync(rootImage, disk, layout["root-a"].Offset, context.Cancellation);
        });
        stages.Add(Stage("disk", clock));

        var manifest = new ImageManifest
        {
            Profile = profile.Name,
            Arch = profile.Arch,
            Board = profile.Board,
            Suite = profile.Suite,
            SourceDateEpoch = context.SourceDateEpoch,
            Kernel = kernel.Version,
            Image = ImageName,
            DiskSize = layout!.DiskSize,
            DiskGuid = layout.DiskGuid.ToString(),
            Partitions = layout.Partitions.Select(p => new ManifestPartition(p.Number, p.Name, p.Type.ToString(), p.UniqueGuid.ToString(), p.Offset, p.Size,
                digests.GetValueOrDefault(p.Name))).ToList(),
            Packages = composed.Packages.Select(p => new ManifestPackage(p.Name, p.Version, p.Architecture, p.Sha256)).ToList(),
            Sizes = new ManifestSizes(kernelBytes.Length, initramfsBytes.Length, rootSize, kernelBytes.Length + initramfsBytes.Length + rootSize),
            InitramfsModules = initramfs.Modules,
        };
        await AtomicFile.WriteAsync(Path.Combine(request.OutputDirectory, ManifestName), stream => JsonSerializer.SerializeAsync(stream, manifest, ManifestJson.Default.ImageManifest));
        stages.Add(Stage("manifest", clock));
        log.Info("stages: " + string.Join(", ", stages.Select(s => $"{s.Name} {s.Seconds:0.0}s")));
        return manifest with { Stages = stages };
    }

    private static void CheckBoard(Profile profile)
    {
        if (profile.Board != "generic-efi")
        {
            throw new EdgeImageException(
                $"board '{profile.Board}' of {profile.Name} has no disk image backend yet",
                $"`edgeimage rootfs --profile {profile.Name}` composes its root file system; disk images are built for generic-efi boards today");
        }
    }

    /// <summary>
    /// What a read-only root needs that no package ships: mount points for the data partition and
    /// the ESP (systemd mounts it at /efi to bless a good boot), and a journal directory so the
    /// journal is persistent on the data partition.
    /// </summary>
    private static void PrepareImmutableLayout(RootfsTree tree, long epoch)
    {
        tree.EnsureDirectory("/data", epoch);
        tree.EnsureDirectory("/efi", epoch, 0b111_000_000);
        tree.EnsureDirectory("/var/log/journal", epoch, 0b111_101_101 | 0x400);
    }

    private void CheckRootFits(Profile profile, long rootSize)
    {
        var slot = (long)profile.Partitions.Root << 20;
        if (rootSize * SlotHeadroom > slot)
        {
            var neededMiB = (long)Math.Ceiling(rootSize * SlotHeadroom / (1 << 20));
            throw new EdgeImageException(
                $"the root file system ({rootSize >> 20} MiB) does not fit a {profile.Partitions.Root} MiB slot with {(SlotHeadroom - 1) * 100:0}% room for updates",
                $"raise `partitions.root` in {profile.Locate("partitions")} to at least {neededMiB}, or remove packages",
                ExitCodes.InvalidProfile);
        }
    }

    private static GptDiskSpec DiskSpec(Profile profile, DiskSeed seed)
    {
        var rootType = GptPartitionTypes.RootFor(profile.Arch);
        var p = profile.Partitions;
        GptPartitionSpec[] partitions =
        [
            new() { Name = "esp", Type = GptPartitionTypes.EfiSystem, Size = PartitionSize.FromMiB(p.Boot) },
            new() { Name = "root-a", Type = rootType, Size = PartitionSize.FromMiB(p.Root), Attributes = GptAttributes.ReadOnly | GptAttributes.NoAuto },
            new() { Name = "root-b", Type = rootType, Size = PartitionSize.FromMiB(p.Root), Attributes = GptAttributes.ReadOnly | GptAttributes.NoAuto },
            new() { Name = "data", Type = GptPartitionTypes.Var, Size = PartitionSize.FromMiB(p.Data), Attributes = GptAttributes.GrowFileSystem },
        ];
        // 1 MiB before the first partition and after the last for the GPT and its backup.
        var diskSize = ((long)p.Boot + 2L * p.Root + p.Data + 2) << 20;
        return new GptDiskSpec { DiskSize = diskSize, Seed = seed, Partitions = partitions };
    }

    private static RootfsTree UnpackBuildPackage(ComposedRootfs composed, string name, BuildContext context)
    {
        var file = composed.BuildPackageFiles.Single(f => f.Package.Name == name);
        var tree = new RootfsTree(Path.Combine(context.WorkDir, "pkg-" + name), context.SourceDateEpoch);
        new DebUnpacker(tree).Unpack(file, context.Cancellation);
        return tree;
    }

    private static async Task<string> CopyAtAsync(string source, Stream disk, long offset, CancellationToken cancellation)
    {
        await using var input = File.OpenRead(source);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        disk.Position = offset;
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await input.ReadAsync(buffer, cancellation)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            await disk.WriteAsync(buffer.AsMemory(0, read), cancellation);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static StageTiming Stage(string name, Stopwatch clock)
    {
        var timing = new StageTiming(name, clock.Elapsed.TotalSeconds);
        clock.Restart();
        return timing;
    }
}

public sealed record StageTiming(string Name, double Seconds);

public sealed record ManifestPartition(int Number, string Name, string Type, string Uuid, long Offset, long Size, string? Sha256);

public sealed record ManifestPackage(string Name, string Version, string Architecture, string Sha256);

/// <summary>Kernel + initramfs + root squashfs: what one slot of the OS costs.</summary>
public sealed record ManifestSizes(long Kernel, long Initramfs, long Root, long Payload);

/// <summary>The build manifest written beside the image; `edgeimage qemu` reads the board from it.</summary>
public sealed record ImageManifest
{
    public required string Profile { get; init; }
    public required string Arch { get; init; }
    public required string Board { get; init; }
    public required string Suite { get; init; }
    public required long SourceDateEpoch { get; init; }
    public required string Kernel { get; init; }
    public required string Image { get; init; }
    public required long DiskSize { get; init; }
    public required string DiskGuid { get; init; }
    public required IReadOnlyList<ManifestPartition> Partitions { get; init; }
    public required ManifestSizes Sizes { get; init; }
    public required IReadOnlyList<string> InitramfsModules { get; init; }
    public required IReadOnlyList<ManifestPackage> Packages { get; init; }

    /// <summary>Timings of this run; reported, never written (they would break reproducibility).</summary>
    [JsonIgnore]
    public IReadOnlyList<StageTiming> Stages { get; init; } = [];
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ImageManifest))]
internal sealed partial class ManifestJson : JsonSerializerContext;
