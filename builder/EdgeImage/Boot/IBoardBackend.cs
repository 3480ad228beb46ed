using EdgeImage.Disk;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tools;

namespace EdgeImage.Boot;

/// <summary>What every board's disk is made of: one root squashfs, a kernel and an initramfs per slot.</summary>
public sealed record BootPayload
{
    public required Profile Profile { get; init; }

    public required RootfsTree Tree { get; init; }

    public required byte[] Kernel { get; init; }

    public required string KernelVersion { get; init; }

    public required byte[] Initramfs { get; init; }

    /// <summary>
    /// The root squashfs file for slot A, still being compressed when the board starts: a board
    /// writes its boot partition and partition table first and awaits this only to copy the root.
    /// </summary>
    public required Task<string> RootImage { get; init; }

    /// <summary>Verified .debs of the backend's BuildPackages.</summary>
    public required IReadOnlyList<PackageFile> BuildPackages { get; init; }

    public required DiskSeed Seed { get; init; }

    /// <summary>The verified .deb of one of the backend's build packages.</summary>
    public PackageFile BuildPackage(string name) => BuildPackages.Single(f => f.Package.Name == name);
}

/// <summary>A partition of the written disk, for the manifest.</summary>
public sealed record DiskPartition(int Number, string Name, string Type, string Uuid, long Offset, long Size, string? Sha256);

public sealed record DiskResult(long DiskSize, string DiskId, IReadOnlyList<DiskPartition> Partitions);

/// <summary>
/// One board family's boot chain and disk layout (genimage's "image handler"): which packages it
/// needs at build time, which modules its initramfs loads, and how it writes the disk. The
/// pipeline in ImageBuild is the same for every board.
/// </summary>
public interface IBoardBackend
{
    /// <summary>Packages fetched and verified with the rootfs but unpacked apart from it (boot loaders, firmware).</summary>
    IReadOnlyList<string> BuildPackages(Profile profile);

    /// <summary>Modules the initramfs loads to reach the root device on this board; missing ones are skipped.</summary>
    IReadOnlyList<string> InitramfsModules(Profile profile);

    /// <summary>
    /// Whether the initramfs loads <see cref="InitramfsModules"/> only for devices that are present
    /// (by modalias). Boards with a fixed SoC list exactly their own drivers and load them all.
    /// </summary>
    bool InitramfsModulesByModalias => false;

    /// <summary>Host tools WriteDiskAsync calls, checked before the build starts.</summary>
    IReadOnlyList<string> RequiredTools { get; }

    /// <summary>Writes the whole disk to <paramref name="disk"/> (a temporary file the caller publishes).</summary>
    Task<DiskResult> WriteDiskAsync(BootPayload payload, Stream disk, HostTools tools, BuildContext context);
}
