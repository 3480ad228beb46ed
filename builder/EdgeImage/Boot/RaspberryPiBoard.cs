using System.Globalization;
using System.Text;
using EdgeImage.Disk;
using EdgeImage.Filesystems;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tools;
using Scriban;
using Scriban.Runtime;

namespace EdgeImage.Boot;

/// <summary>
/// Raspberry Pi: GPU firmware -> U-Boot -> boot.scr (A/B with attempt counters) -> kernel +
/// initramfs of the slot. An MBR disk (the firmware reads no GPT): a bootable FAT partition with the
/// firmware, config.txt, device trees, U-Boot, boot.scr and each slot's kernel and initramfs, then
/// root-a, root-b and data. MBR partitions have no names, so the kernel command line names the
/// root and data partitions by PARTUUID (disk signature and partition number).
/// </summary>
public sealed class RaspberryPiBoard(Lazy<RaspberryPiBoardData> description) : IBoardBackend
{
    public RaspberryPiBoard(RaspberryPiBoardData data)
        : this(new Lazy<RaspberryPiBoardData>(data))
    {
    }

    public const string BootLabel = "EDGE-BOOT";

    /// <summary>Attempts a slot gets before the script falls back to the other one.</summary>
    public const int BootTries = 3;

    /// <summary>The A/B counters on the boot partition, read and written by boot.scr (see firmware/u-boot/ab-boot.cmd.scriban).</summary>
    public const string StateFile = "ab-state.txt";

    public static string InitialState => $"BOOT_ORDER=A B\nBOOT_A_LEFT={BootTries}\nBOOT_B_LEFT={BootTries}\n";

    /// <summary>The board's description, read when first needed: a build for another board never parses it.</summary>
    public RaspberryPiBoardData Data => description.Value;

    public IReadOnlyList<string> BuildPackages(Profile profile) => [Data.FirmwarePackage, Data.UbootPackage];

    public IReadOnlyList<string> InitramfsModules(Profile profile) => Data.InitramfsModules;

    public IReadOnlyList<string> RequiredTools => FatImage.RequiredTools;

    public async Task<DiskResult> WriteDiskAsync(BootPayload payload, Stream disk, HostTools tools, BuildContext context)
    {
        var profile = payload.Profile;
        var spec = DiskSpec(profile, payload.Seed);
        var plan = MbrWriter.Plan(spec);
        using var firmware = BoardDisk.UnpackApart(payload.BuildPackage(Data.FirmwarePackage), context);
        using var uboot = BoardDisk.UnpackApart(payload.BuildPackage(Data.UbootPackage), context);

        var files = BootFiles(profile, plan, payload, firmware, uboot, context.SourceDateEpoch);
        var bootImage = Path.Combine(context.WorkDir, "boot.img");
        await FatImage.WriteAsync(bootImage, (long)profile.Partitions.Boot << 20, BootLabel, payload.Seed.DeriveUInt32("boot-serial"), files, tools, context);

        var layout = MbrWriter.Write(disk, spec);
        // The disk signature as the PARTUUIDs of the boot script begin with it.
        await BoardDisk.WriteDataMarkerAsync(disk, layout.Partitions[3].Offset, layout.Partitions[3].Size,
            layout.DiskSignature.ToString("x8", CultureInfo.InvariantCulture), context.Cancellation);
        var digests = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["boot"] = await BoardDisk.CopyAtAsync(bootImage, disk, layout.Partitions[0].Offset, context.Cancellation),
            ["root-a"] = await BoardDisk.CopyAtAsync(await payload.RootImage, disk, layout.Partitions[1].Offset, context.Cancellation),
        };
        return new DiskResult(layout.DiskSize, layout.DiskSignature.ToString("x8", CultureInfo.InvariantCulture),
            [.. layout.Partitions.Select(p => new DiskPartition(p.Number, p.Name, "0x" + p.Type.ToString("x2", CultureInfo.InvariantCulture), p.PartUuid, p.Offset, p.Size, digests.GetValueOrDefault(p.Name)))]);
    }

    /// <summary>Everything on the FAT boot partition, in a stable order.</summary>
    public IReadOnlyList<FatFile> BootFiles(Profile profile, MbrLayout plan, BootPayload payload, RootfsTree firmware, RootfsTree uboot, long epoch)
    {
        var files = new List<FatFile>();
        foreach (var name in Data.FirmwareFiles)
        {
            files.Add(new("/" + name, ReadFrom(firmware, $"{Data.FirmwareDirectory}/{name}", Data.FirmwarePackage)));
        }
        foreach (var model in Data.Models.DistinctBy(m => m.UbootFile))
        {
            files.Add(new("/" + model.UbootFile, ReadFrom(uboot, $"/usr/lib/u-boot/{model.Uboot}/u-boot.bin", Data.UbootPackage)));
        }
        foreach (var model in Data.Models.DistinctBy(m => m.DtbFile))
        {
            files.Add(new("/" + model.DtbFile, ReadFrom(payload.Tree, $"/usr/lib/linux-image-{payload.KernelVersion}/{model.Dtb}", profile.Kernel.Package ?? "the kernel package")));
        }
        files.Add(new("/config.txt", Encoding.UTF8.GetBytes(ConfigTxt(profile))));
        files.Add(new("/" + StateFile, Encoding.UTF8.GetBytes(InitialState)));
        files.Add(new("/boot.cmd", Encoding.UTF8.GetBytes(BootScript(profile, plan))));
        files.Add(new("/boot.scr", UBootScript.Wrap(BootScript(profile, plan), "edgeimage A/B boot", profile.Arch, epoch)));
        foreach (var slot in new[] { "a", "b" })
        {
            files.Add(new($"/{slot}/vmlinuz", payload.Kernel));
            files.Add(new($"/{slot}/initrd.img", payload.Initramfs));
        }
        return files;
    }

    public string ConfigTxt(Profile profile) => Render(Data.ConfigTemplate, $"firmware/{Data.Name}/config.txt", new()
    {
        ["profile"] = profile.Name,
        ["board"] = Data.Name,
        ["arm_64bit"] = Data.Arm64Bit,
        ["models"] = Data.Models.Select(m => new ScriptObject { ["section"] = m.Section, ["kernel"] = m.UbootFile, ["dtb"] = m.DtbFile }).ToList(),
    });

    /// <summary>The U-Boot script source (boot.cmd) for a disk with the planned partitions.</summary>
    public string BootScript(Profile profile, MbrLayout plan) => Render(Data.BootScriptTemplate, "the boot script", new()
    {
        ["board"] = Data.Name,
        ["tries"] = BootTries,
        ["state_file"] = StateFile,
        ["root_a"] = plan.Partitions[1].PartUuid,
        ["root_b"] = plan.Partitions[2].PartUuid,
        ["data"] = plan.Partitions[3].PartUuid,
        ["cmdline"] = KernelCommandLine(profile),
        ["kernel_boot"] = Data.KernelBoot,
        ["env"] = Data.UbootEnv.Select(kv => new ScriptObject { ["key"] = kv.Key, ["value"] = kv.Value }).ToList(),
    });

    /// <summary>The profile's command line as the boot script passes it, before the slot's own arguments.</summary>
    public static string KernelCommandLine(Profile profile) =>
        string.Join(' ', new[] { profile.Kernel.CommandLine, profile.Debug ? "systemd.debug_shell=ttyAMA0" : null }.Where(s => !string.IsNullOrEmpty(s)));

    /// <summary>The whole command line the boot script gives the kernel of <paramref name="slot"/> (a or b) on a disk with this signature.</summary>
    public static string SlotCommandLine(Profile profile, string diskSignature, string slot) =>
        $"{KernelCommandLine(profile)} edgeimage.slot={slot} edgeimage.tries={BootTries} edgeimage.root=PARTUUID={diskSignature}-0{(slot == "a" ? 2 : 3)} edgeimage.data=PARTUUID={diskSignature}-04";

    public static MbrDiskSpec DiskSpec(Profile profile, DiskSeed seed)
    {
        var p = profile.Partitions;
        MbrPartitionSpec[] partitions =
        [
            new() { Name = "boot", Type = MbrPartitionTypes.Fat32Lba, Size = PartitionSize.FromMiB(p.Boot), Bootable = true },
            new() { Name = "root-a", Type = MbrPartitionTypes.Linux, Size = PartitionSize.FromMiB(p.Root) },
            new() { Name = "root-b", Type = MbrPartitionTypes.Linux, Size = PartitionSize.FromMiB(p.Root) },
            new() { Name = "data", Type = MbrPartitionTypes.Linux, Size = PartitionSize.FromMiB(p.Data) },
        ];
        // The first partition starts at the 4 MiB alignment; nothing follows the last. The image
        // stays this compact: QEMU's power-of-two SD size is met by padding a copy (see README).
        var diskSize = ((MbrWriter.Alignment >> 20) + p.Boot + 2L * p.Root + p.Data) << 20;
        return new MbrDiskSpec { DiskSize = diskSize, Seed = seed, Partitions = partitions };
    }

    private static byte[] ReadFrom(RootfsTree tree, string path, string package) =>
        tree[tree.Resolve(path, followFinal: true, path)] is { Kind: RootfsEntryKind.File } entry
            ? tree.ReadAllBytes(entry)
            : throw new EdgeImageException($"{package} has no {path}", $"check the board description's file lists against the {package} package of this suite");

    private static string Render(string text, string origin, ScriptObject model)
    {
        var template = Template.Parse(text, origin);
        if (template.HasErrors)
        {
            throw new EdgeImageException($"{origin}: {string.Join("; ", template.Messages.Select(m => m.ToString()))}", "fix the Scriban template", ExitCodes.InvalidProfile);
        }
        var scriptContext = new TemplateContext { StrictVariables = true };
        scriptContext.PushGlobal(model);
        return template.Render(scriptContext);
    }
}
