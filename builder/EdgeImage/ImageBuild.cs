using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeImage.Boot;
using EdgeImage.Disk;
using EdgeImage.Filesystems;
using EdgeImage.Initramfs;
using EdgeImage.K0s;
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

    /// <summary>--no-k0s and --k0s-binary.</summary>
    public K0sOptions K0s { get; init; } = new();
}

/// <summary>
/// `edgeimage build`: the composed rootfs becomes a disk with a boot partition (the board's boot
/// chain, one kernel + initramfs per slot), root A and B (read-only squashfs) and a data partition
/// the initramfs formats on first boot. One readable method; each step is a small stage.
/// </summary>
public sealed class ImageBuild(RootfsBuild rootfs, HostTools tools, K0sSources k0sSources)
{
    public const string ImageName = "edge.img";
    public const string ManifestName = "manifest.json";

    /// <summary>A slot must hold the root with this much room left for updates to grow into.</summary>
    public const double SlotHeadroom = 1.25;

    /// <summary>Board name (the profile's `board:`) -> its boot chain and disk layout.</summary>
    public static readonly IReadOnlyDictionary<string, IBoardBackend> Boards = new Dictionary<string, IBoardBackend>(
        RaspberryPiBoardData.BuiltInBoards().Select(name => KeyValuePair.Create(name, (IBoardBackend)new RaspberryPiBoard(new Lazy<RaspberryPiBoardData>(() => RaspberryPiBoardData.LoadBuiltIn(name)))))
            .Prepend(KeyValuePair.Create("generic-efi", (IBoardBackend)new EfiBoard())),
        StringComparer.Ordinal);

    public async Task<ImageManifest> BuildAsync(ImageRequest request, BuildContext context)
    {
        var profile = request.Profile;
        var log = context.Log;
        var board = BoardOf(profile);
        SquashfsImage.CheckCompressor(request.Compression);
        tools.Require([.. board.RequiredTools, "tar2sqfs", "depmod"]);
        var stages = new List<StageTiming>();
        var clock = Stopwatch.StartNew();

        var k0s = await k0sSources.FetchAsync(profile, request.K0s, context);
        if (k0s is not null)
        {
            stages.Add(Stage("k0s fetch+verify", clock));
        }

        using var composed = await rootfs.ComposeAsync(new RootfsRequest
        {
            Profile = profile,
            Mirror = request.Mirror,
            BuildPackages = board.BuildPackages(profile),
        }, context);
        context = composed.Context;
        stages.Add(Stage("resolve+fetch+compose", clock));
        var tree = composed.Tree;

        PrepareImmutableLayout(tree, context.SourceDateEpoch);
        var kernel = await KernelInstall.PrepareAsync(tree, tools, context, profile.Locate("kernel"), profile.Kernel.ExcludeModules,
            [.. InitramfsBuilder.CoreModules, .. InitramfsBuilder.BootPartitionModules, .. board.InitramfsModules(profile), .. profile.Kernel.Modules, .. ModulePruning.K0sModules,
             .. k0s is null ? [] : K0sRequirements.Modules],
            profile.Kernel.IncludeModules);
        stages.Add(Stage("kernel modules", clock));

        ManifestK0s? k0sManifest = null;
        if (k0s is not null)
        {
            var imagesMiB = (k0s.Images.Sum(i => i.Blobs.Sum(b => b.Size)) * 2 + (1 << 20) - 1) >> 20;
            K0sRequirements.Check(tree, kernel, profile, imagesMiB, log);
            k0sManifest = await K0sInstall.InstallAsync(tree, k0s, profile.K0s!.Airgap, profile.K0s.Worker, context);
            stages.Add(Stage("k0s", clock));
        }
        else if (profile.K0s is not null)
        {
            log.Warn($"building {profile.Name} without k0s (--no-k0s): the image cannot join a cluster");
        }

        // Each slot's kernel boots from the boot partition; a second copy in the root would only cost slot space.
        var kernelBytes = tree.ReadAllBytes(tree[kernel.ImagePath]!);
        tree.Remove(kernel.ImagePath);

        // From here on the tree is only read. Compressing the root, the longest step, runs alongside
        // the initramfs and the disk, which do not depend on it: the board writes its boot partition
        // and partition table meanwhile and awaits the root only to copy it into slot A. If either
        // side fails, the other is cancelled and awaited, and the first failure is the one reported.
        using var overlap = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
        var overlapped = context with { Cancellation = overlap.Token };
        var rootImage = Path.Combine(context.WorkDir, "root.sqfs");
        var alongside = Stopwatch.StartNew();
        var root = CompressRootAsync(tree, rootImage, request, profile, overlapped, overlap, alongside);
        byte[] initramfsBytes;
        InitramfsResult initramfs;
        DiskResult? disk = null;
        double initramfsDone, diskDone;
        var imagePath = Path.Combine(request.OutputDirectory, ImageName);
        string imageTemporary;
        try
        {
            using var initramfsStream = new MemoryStream();
            initramfs = InitramfsBuilder.Write(new InitramfsInput
            {
                Tree = tree,
                Kernel = kernel,
                BoardModules = board.InitramfsModules(profile),
                BoardModulesByModalias = board.InitramfsModulesByModalias,
                ProfileModules = profile.Kernel.Modules,
                Origin = profile.Locate("kernel"),
                Debug = profile.Debug,
                CompressedCache = new DerivedCache(context.CacheDir, "initramfs", ".cpio.zst"),
            }, initramfsStream, context.SourceDateEpoch);
            initramfsBytes = initramfsStream.ToArray();
            log.Info($"initramfs: {initramfs.Entries} entries, {initramfs.Modules.Count} modules, {initramfsBytes.Length >> 10} KiB");
            initramfsDone = alongside.Elapsed.TotalSeconds;

            var payload = new BootPayload
            {
                Profile = profile,
                Tree = tree,
                Kernel = kernelBytes,
                KernelVersion = kernel.Version,
                Initramfs = initramfsBytes,
                RootImage = PathWhenDone(root, rootImage),
                BuildPackages = composed.BuildPackageFiles,
                Seed = new DiskSeed($"edgeimage/{profile.Name}/{context.SourceDateEpoch}"),
            };
            Directory.CreateDirectory(request.OutputDirectory);
            // Published together with its manifest at the end, never beside the previous build's.
            imageTemporary = await AtomicFile.WriteUnpublishedAsync(imagePath, async stream =>
                disk = await board.WriteDiskAsync(payload, stream, tools, overlapped));
            diskDone = alongside.Elapsed.TotalSeconds;
        }
        catch
        {
            overlap.Cancel();
            await ((Task)root).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (root.Exception?.InnerException is { } cause and not OperationCanceledException)
            {
                ExceptionDispatchInfo.Throw(cause);
            }
            throw;
        }
        // Until both are published, a failure removes what is not in place yet (File.Delete of a
        // published temporary name finds nothing).
        string? manifestTemporary = null;
        try
        {
            var (rootSize, squashfsDone) = await root;
            // The stages after "kernel modules" overlap: each is timed on its own and marked with how
            // much of it ran alongside the squashfs compression.
            stages.Add(new StageTiming("squashfs", squashfsDone));
            stages.Add(new StageTiming("initramfs", initramfsDone, Overlapped: Math.Min(initramfsDone, squashfsDone)));
            stages.Add(new StageTiming("disk", diskDone - initramfsDone, Overlapped: Math.Max(0, Math.Min(diskDone, squashfsDone) - initramfsDone)));
            clock.Restart();

            var manifest = new ImageManifest
            {
                Profile = profile.Name,
                Arch = profile.Arch,
                Board = profile.Board,
                Suite = profile.Suite,
                SourceDateEpoch = context.SourceDateEpoch,
                Kernel = kernel.Version,
                Image = ImageName,
                DiskSize = disk!.DiskSize,
                DiskGuid = disk.DiskId,
                Partitions = disk.Partitions,
                Packages = composed.Packages.Select(p => new ManifestPackage(p.Name, p.Version, p.Architecture, p.Sha256)).ToList(),
                Sizes = new ManifestSizes(kernelBytes.Length, initramfsBytes.Length, rootSize, kernelBytes.Length + initramfsBytes.Length + rootSize),
                InitramfsModules = initramfs.Modules,
                K0s = k0sManifest,
            };
            var manifestPath = Path.Combine(request.OutputDirectory, ManifestName);
            manifestTemporary = await AtomicFile.WriteUnpublishedAsync(manifestPath, stream => JsonSerializer.SerializeAsync(stream, manifest, ManifestJson.Default.ImageManifest));
            AtomicFile.PublishTogether([(imageTemporary, imagePath), (manifestTemporary, manifestPath)]);
            stages.Add(Stage("manifest", clock));
            log.Info("stages: " + string.Join(", ", stages));
            return manifest with { Stages = stages };
        }
        catch
        {
            File.Delete(imageTemporary);
            if (manifestTemporary is not null)
            {
                File.Delete(manifestTemporary);
            }
            throw;
        }
    }

    /// <summary>The root squashfs, checked to fit its slot; cancels the rest of the build when it fails.</summary>
    private async Task<(long Size, double Done)> CompressRootAsync(
        RootfsTree tree, string rootImage, ImageRequest request, Profile profile, BuildContext context, CancellationTokenSource overlap, Stopwatch alongside)
    {
        try
        {
            var size = await SquashfsImage.WriteAsync(tree, rootImage, request.Compression, tools, context);
            context.Log.Info($"root: squashfs ({request.Compression}) {size >> 20} MiB");
            CheckRootFits(profile, size);
            return (size, alongside.Elapsed.TotalSeconds);
        }
        catch
        {
            await overlap.CancelAsync();
            throw;
        }
    }

    private static async Task<string> PathWhenDone(Task root, string path)
    {
        await root;
        return path;
    }

    private static IBoardBackend BoardOf(Profile profile) =>
        Boards.TryGetValue(profile.Board, out var board)
            ? board
            : throw new EdgeImageException(
                $"{profile.Locate("board")}: board '{profile.Board}' has no disk image backend",
                $"set `board:` to one of {string.Join(", ", Boards.Keys.Order(StringComparer.Ordinal))}; `edgeimage rootfs --profile {profile.Name}` composes the root file system of any board",
                ExitCodes.InvalidProfile);

    /// <summary>
    /// Units Debian's packages start on every machine that an immutable image has no use for, masked
    /// (linked to /dev/null) so they neither run nor fail. Every one is a process start, and boot
    /// time on a small board (or under emulation) is mostly process starts.
    /// - ldconfig.service rebuilds the linker cache with a tool the image does not ship (its
    ///   libraries sit in the loader's default paths).
    /// - e2scrub checks ext4 volumes on LVM with bash and LVM tools the image does not ship either.
    /// - getty-static starts gettys on tty2-6 where there is no login to offer.
    /// - systemd-fsck-root and systemd-remount-fs: the root is a read-only squashfs the initramfs
    ///   mounted; there is nothing to check or remount. The data partition, the one file system
    ///   with something to check, is checked by the initramfs before it mounts it (e2fsck -p on
    ///   every boot, see check_data in Initramfs/init).
    /// - systemd-network-generator and systemd-udev-load-credentials turn kernel command line and
    ///   credential settings into units; the device's network comes from its seed instead.
    /// - binfmt, debug/tracing/FUSE-control/hugepages mounts, pstore and the drm/efi_pstore/fuse
    ///   module loads: foreign binaries, kernel debugging, crash logs in EFI variables, GPUs and FUSE
    ///   are not part of an edge node (the modules still load on demand when something uses them).
    /// - configfs (its module load and its mount at /sys/kernel/config): it configures USB gadgets,
    ///   SCSI and NVMe targets, none of which an edge node is.
    /// - run-lock.mount puts a separate tmpfs at /run/lock; tmpfiles creates /run/lock as a plain
    ///   directory of /run (a tmpfs already) without it, so only its world-writable mode is lost,
    ///   and no program of the image takes locks there as another user than root.
    /// - dev-mqueue.mount shows POSIX message queues as files; mq_open() works without it, and
    ///   container runtimes mount their own mqueue in each container.
    /// - systemd-user-sessions lifts /run/nologin after the network is up, so the login prompts
    ///   waited for the network; /run/nologin only ever keeps out users other than root, of
    ///   which the image has none that log in, and its tmpfiles line is not shipped either
    ///   (profiles/base/debian-trixie.yaml). Together with the two mounts and configfs about 4 s
    ///   of a TCG boot to multi-user (three pairs of boots, medians 32.7 s and 28.6 s).
    /// - systemd-tmpfiles-setup-dev-early creates the static device nodes "gracefully" (skipping
    ///   users and groups that systemd-sysusers has not created yet) so that they exist before
    ///   sysusers runs; the image's accounts are all written at build time, so the ordinary
    ///   systemd-tmpfiles-setup-dev, which runs before udevd all the same, creates every one of them.
    /// </summary>
    public static readonly IReadOnlyList<string> MaskedUnits =
    [
        "ldconfig.service", "e2scrub_all.timer", "e2scrub_all.service", "e2scrub_reap.service", "getty-static.service",
        "systemd-fsck-root.service", "systemd-remount-fs.service",
        "systemd-network-generator.service", "systemd-udev-load-credentials.service",
        "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount", "systemd-binfmt.service",
        "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-fs-fuse-connections.mount", "dev-hugepages.mount",
        "systemd-pstore.service", "modprobe@drm.service", "modprobe@efi_pstore.service", "modprobe@fuse.service",
        "modprobe@configfs.service", "sys-kernel-config.mount", "run-lock.mount", "dev-mqueue.mount",
        "systemd-user-sessions.service", "systemd-tmpfiles-setup-dev-early.service",
    ];

    /// <summary>
    /// systemd generators that have nothing to generate on an EdgeImage device, masked the way
    /// systemd.generator(7) documents (a /dev/null link under /etc/systemd/system-generators). systemd
    /// runs every generator before it starts the first unit, on every boot. Kept: fstab, getty (the
    /// serial console's login), gpt-auto (mounts the ESP at /efi, where boot counting is blessed),
    /// debug and run (systemd.mask=, systemd.run= on the kernel command line, for debugging).
    /// Masked: SysV init scripts (none in the image), rc.local, hibernation resume (no swap),
    /// offline system updates (updates are A/B slots), SSH over vsock and the TPM2 target.
    /// </summary>
    public static readonly IReadOnlyList<string> MaskedGenerators =
    [
        "systemd-sysv-generator", "systemd-rc-local-generator", "systemd-hibernate-resume-generator",
        "systemd-system-update-generator", "systemd-ssh-generator", "systemd-tpm2-generator",
    ];

    /// <summary>
    /// What a read-only root needs that no package ships: mount points for the data partition and
    /// the ESP (systemd mounts it at /efi to bless a good boot), a journal directory so the
    /// journal is persistent on the data partition, and the masks of <see cref="MaskedUnits"/> and
    /// <see cref="MaskedGenerators"/>.
    /// </summary>
    private static void PrepareImmutableLayout(RootfsTree tree, long epoch)
    {
        tree.EnsureDirectory("/data", epoch);
        tree.EnsureDirectory("/efi", epoch, 0b111_000_000);
        tree.EnsureDirectory("/var/log/journal", epoch, 0b111_101_101 | 0x400);
        foreach (var unit in MaskedUnits.Where(u => tree[$"/usr/lib/systemd/system/{UnitFile(u)}"] is not null))
        {
            tree.WriteSymlink($"/etc/systemd/system/{unit}", "/dev/null", epoch);
        }
        // systemd-update-done's stamps: without them systemd treats every first boot (an empty
        // /etc and /var on a new data partition) as "/usr was updated" and rebuilds the hardware
        // database, the journal catalog and the system users (ConditionNeedsUpdate=). The image
        // already holds what those produce: accounts are written at build time, and the hwdb
        // sources are not shipped. Stamped with /usr's own time, so an A/B update that brings a
        // newer /usr still runs them.
        var usrTime = tree["/usr"]?.MTime ?? epoch;
        foreach (var dir in (string[])["/etc", "/var"])
        {
            tree.WriteFile($"{dir}/.updated",
                "# This file was created by EdgeImage in place of systemd-update-done. Its only\n"
                + "# purpose is to hold a timestamp of the time this directory was updated.\n"
                + "# See man:systemd-update-done.service(8).\n"
                + $"TIMESTAMP_NSEC={usrTime * 1_000_000_000L}\n", usrTime);
        }
        foreach (var generator in MaskedGenerators.Where(g => tree[$"/usr/lib/systemd/system-generators/{g}"] is not null))
        {
            tree.WriteSymlink($"/etc/systemd/system-generators/{generator}", "/dev/null", epoch);
        }
        if (tree[UdevTriggerUnit] is not null)
        {
            tree.WriteFile(UdevTriggerUnit + ".d/edgeimage-devices.conf", UdevTriggerDropIn, epoch);
        }
    }

    private const string UdevTriggerUnit = "/usr/lib/systemd/system/systemd-udev-trigger.service";

    /// <summary>
    /// udev's coldplug of the first boot, without the sysfs entries no rule of the image acts on.
    /// systemd's `udevadm trigger --type=all` replays an "add" for every device, bus, driver and
    /// kernel module (510 events on a QEMU q35 PC), and udevd matches each against every rule; on
    /// one vCPU under TCG udevd is the largest CPU user of the boot. Left out:
    /// - bus, driver and module entries: no udev rule of the image reads them, and of the module
    ///   rules only 60-block.rules' (media-change polling for removable disks) applies to a module
    ///   that is never loaded later: fuse's and configfs's rules pull in mounts the image masks,
    ///   parport is not shipped, and a module loaded after boot sends its own event;
    /// - the virtual consoles tty0-63, /dev/tty, /dev/console, /dev/ptmx and their vcs screens (71
    ///   of the 262 devices): their rules only hand them to group tty, which no user of the image is
    ///   in; agetty sets up the console it runs on. Serial ports, USB serial adapters and hypervisor
    ///   consoles (tty + a letter, hvc) are replayed, first, because serial-getty@ (and with it
    ///   multi-user.target) waits for its port's device unit, and udevd works through its queue in
    ///   order;
    /// - devices that are kernel bookkeeping without a driver to load or a node anyone opens:
    ///   wakeup sources, workqueues, memory blocks and tiers, NUMA nodes, clock and event sources,
    ///   machine-check banks, backing-device info, /dev/null and its siblings (mem: devtmpfs gives
    ///   them their modes), misc character devices (root-only nodes such as /dev/loop-control,
    ///   /dev/net/tun, /dev/fuse; their modules load on open), graphics and vtconsole (framebuffer
    ///   consoles), serial-base (the ports' internal parents), regulators, DMA heaps and EDAC.
    /// Hardware with a modalias (acpi, pci, platform, pnp, cpu, dmi, usb, virtio, ...), block, net,
    /// input, rtc, tpm and the rest are replayed as before, so drivers still load for what is there.
    /// A device that appears after boot sends its own event whatever its subsystem.
    /// One vCPU under TCG: bus/driver/module entries, three pairs of first boots, multi-user 31.1 s
    /// -> 29.4 s (medians). The device subsystems (with the early tmpfiles mask), measured under
    /// QEMU's instruction counting (-icount shift=0: guest time counts instructions, whatever the
    /// host's load): multi-user at 6.99 s -> 6.83 s of guest time (two first boots each), about 2%;
    /// real-time boots on the shared host vary more than that.
    /// </summary>
    private static string UdevTriggerDropIn =>
        "# EdgeImage: coldplug only the devices a rule or a unit of the image acts on; see\n"
        + "# UdevTriggerDropIn in builder/EdgeImage/ImageBuild.cs. The block module's event stays:\n"
        + "# 60-block.rules turns on media-change polling for removable disks on it.\n"
        + "[Service]\n"
        + "ExecStart=\n"
        + "ExecStart=-udevadm trigger --type=subsystems --action=add --subsystem-match=module --sysname-match=block\n"
        + "ExecStart=-udevadm trigger --type=devices --action=add --subsystem-match=tty --sysname-match=tty[!0-9]* --sysname-match=hvc*\n"
        + "ExecStart=-udevadm trigger --type=devices --action=add --prioritized-subsystem=block,tpmrm,net,input"
        + string.Concat(ColdplugSkippedSubsystems.Select(s => " --subsystem-nomatch=" + s)) + "\n";

    /// <summary>Device subsystems the first boot's coldplug leaves out (see <see cref="UdevTriggerDropIn"/>).</summary>
    public static readonly IReadOnlyList<string> ColdplugSkippedSubsystems =
    [
        "tty", "vc", "wakeup", "workqueue", "memory", "memory_tiering", "node", "event_source", "clockevents",
        "clocksource", "machinecheck", "bdi", "mem", "misc", "graphics", "vtconsole", "serial-base", "regulator",
        "dma_heap", "edac",
    ];

    /// <summary>The file a unit comes from: a template instance (modprobe@drm.service) from its template.</summary>
    private static string UnitFile(string unit) =>
        unit.IndexOf('@') is var at and >= 0 && unit.LastIndexOf('.') is var dot && dot > at + 1
            ? string.Concat(unit.AsSpan(0, at + 1), unit.AsSpan(dot))
            : unit;

    private static void CheckRootFits(Profile profile, long rootSize)
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

    private static StageTiming Stage(string name, Stopwatch clock)
    {
        var timing = new StageTiming(name, clock.Elapsed.TotalSeconds);
        clock.Restart();
        return timing;
    }
}

/// <param name="Overlapped">Seconds of this stage that ran alongside another one (the squashfs compression).</param>
public sealed record StageTiming(string Name, double Seconds, double Overlapped = 0)
{
    public override string ToString() => Overlapped switch
    {
        < 0.05 => $"{Name} {Seconds:0.0}s",
        _ when Overlapped >= Seconds - 0.05 => $"{Name} {Seconds:0.0}s (overlapped)",
        _ => $"{Name} {Seconds:0.0}s ({Overlapped:0.0}s overlapped)",
    };
}

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
    public required IReadOnlyList<DiskPartition> Partitions { get; init; }
    public required ManifestSizes Sizes { get; init; }
    public required IReadOnlyList<string> InitramfsModules { get; init; }
    public required IReadOnlyList<ManifestPackage> Packages { get; init; }

    /// <summary>The k0s binary and image archives in the image, with their digests; null for an image without k0s.</summary>
    public ManifestK0s? K0s { get; init; }

    /// <summary>Timings of this run; reported, never written (they would break reproducibility).</summary>
    [JsonIgnore]
    public IReadOnlyList<StageTiming> Stages { get; init; } = [];
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ImageManifest))]
internal sealed partial class ManifestJson : JsonSerializerContext;
