using EdgeImage.Disk;
using EdgeImage.Filesystems;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tools;

namespace EdgeImage.Boot;

/// <summary>
/// generic-efi: UEFI firmware -> systemd-boot -> kernel + initramfs of the slot. GPT with the
/// partitions esp, root-a, root-b and data, typed per the Discoverable Partitions Specification.
/// </summary>
public sealed class EfiBoard : IBoardBackend
{
    /// <summary>
    /// The disks and buses a UEFI machine or VM boots from. vmd: Intel Volume Management Device, the
    /// PCI device NVMe disks sit behind on many Intel PCs set to "RST"/RAID (it loads by its own PCI
    /// ID; the NVMe disks appear on the PCI domain it creates and nvme loads for them on init's next
    /// look). sdhci_acpi: SD/eMMC controllers the firmware lists in ACPI instead of on PCI (Intel
    /// Atom/Celeron boards, AMD), matched by their acpi: modaliases. A kernel without one of them
    /// (vmd is x86 only, or a profile's include_modules leaves it out) simply goes without.
    /// </summary>
    internal static readonly IReadOnlyList<string> Modules =
        ["virtio_pci", "virtio_blk", "virtio_scsi", "nvme", "vmd", "ahci", "sd_mod", "usb_storage", "uas", "xhci_pci", "mmc_block", "sdhci_pci", "sdhci_acpi"];

    public IReadOnlyList<string> BuildPackages(Profile profile) => [SystemdBoot.Package];

    public IReadOnlyList<string> InitramfsModules(Profile profile) => Modules;

    /// <summary>A generic UEFI machine has one or two of the storage buses these modules drive.</summary>
    public bool InitramfsModulesByModalias => true;

    public IReadOnlyList<string> RequiredTools => FatImage.RequiredTools;

    public async Task<DiskResult> WriteDiskAsync(BootPayload payload, Stream disk, HostTools tools, BuildContext context)
    {
        var profile = payload.Profile;
        using var loaderTree = BoardDisk.UnpackApart(payload.BuildPackage(SystemdBoot.Package), context);
        var spec = DiskSpec(profile, payload.Seed);
        var commandLine = CommandLine(profile, GptWriter.Plan(spec).DiskGuid);
        var espFiles = SystemdBoot.EspFiles(loaderTree, profile.Arch,
            [new SlotBootFiles("a", payload.Kernel, payload.Initramfs), new SlotBootFiles("b", payload.Kernel, payload.Initramfs)], commandLine);
        var espImage = Path.Combine(context.WorkDir, "esp.img");
        await FatImage.WriteAsync(espImage, (long)profile.Partitions.Boot << 20, "ESP", payload.Seed.DeriveUInt32("esp-serial"), espFiles, tools, context);

        var layout = GptWriter.Write(disk, spec);
        // The disk ID as edgeimage.disk=PTUUID= names it (Guid.ToString: lower case, as blkid prints it).
        await BoardDisk.WriteDataMarkerAsync(disk, layout["data"].Offset, layout["data"].Size, layout.DiskGuid.ToString(), context.Cancellation);
        var digests = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["esp"] = await BoardDisk.CopyAtAsync(espImage, disk, layout["esp"].Offset, context.Cancellation),
            ["root-a"] = await BoardDisk.CopyAtAsync(await payload.RootImage, disk, layout["root-a"].Offset, context.Cancellation),
        };
        return new DiskResult(layout.DiskSize, layout.DiskGuid.ToString(),
            layout.Partitions.Select(p => new DiskPartition(p.Number, p.Name, p.Type.ToString(), p.UniqueGuid.ToString(), p.Offset, p.Size, digests.GetValueOrDefault(p.Name))).ToList());
    }

    /// <summary>
    /// The kernel command line of both slots' entries. edgeimage.disk names this disk by its GPT
    /// GUID, so the initramfs takes the root and data partitions from the disk the firmware booted
    /// and not from another disk with partitions of the same names (an internal disk with an older
    /// EdgeImage beside the USB stick booted now).
    /// </summary>
    internal static string CommandLine(Profile profile, Guid diskGuid) =>
        string.Join(' ', new[] { $"edgeimage.disk=PTUUID={diskGuid}", profile.Kernel.CommandLine, profile.Debug ? "systemd.debug_shell=ttyS0" : null }.Where(s => !string.IsNullOrEmpty(s)));

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
}
