using EdgeImage.Boot;
using EdgeImage.Initramfs;
using EdgeImage.Kernel;
using EdgeImage.Profiles;
using EdgeImage.Tests.Profiles;

namespace EdgeImage.Tests.Initramfs;

/// <summary>
/// The initramfs init's steps run in busybox sh against a fake sysfs and stand-in tools
/// (<see cref="InitScriptRig"/>). The QEMU boot tests (EdgeImage.IntegrationTests Image.BootTests)
/// run the same script on real disks; these cover what a VM does not easily show.
/// </summary>
public sealed class InitScriptTests : IDisposable
{
    private const long DataSectors = 32768;

    private readonly InitScriptRig _rig = new();

    public void Dispose() => _rig.Dispose();

    /// <summary>
    /// A disk as EfiBoard writes it (esp, root-a, root-b, data; 1 MiB before the first partition and
    /// after the last), <paramref name="extraSectors"/> larger when the image went to a larger disk.
    /// Partitions are named as the kernel names them: sda4, or nvme0n1p4 when the disk name ends in a digit.
    /// </summary>
    private void EfiDisk(string disk, string? ptuuid = null, long extraSectors = 0)
    {
        var end = 2048L;
        _rig.AddDisk(disk, 2048 + 2048 + 2 * 8192 + DataSectors + 2048 + extraSectors, ptuuid);
        foreach (var (name, sectors, number) in new[] { ("esp", 2048L, 1), ("root-a", 8192L, 2), ("root-b", 8192L, 3), ("data", DataSectors, 4) })
        {
            _rig.AddPartition(disk, Part(disk, number), number, end, sectors, partName: name);
            end += sectors;
        }
    }

    private static string Part(string disk, int number) => char.IsAsciiDigit(disk[^1]) ? $"{disk}p{number}" : $"{disk}{number}";

    private const string BootDisk = "6f0b3c52-7d0e-8a41-9b2c-5e7f10a2d3c4";
    private const string OtherDisk = "0c9d8e7f-6a5b-8c4d-9e3f-2a1b0c9d8e7f";

    [Fact]
    public void The_command_line_names_the_slot_and_the_partitions()
    {
        File.WriteAllText(Path.Combine(_rig.Root, "cmdline"), "console=ttyS0 edgeimage.slot=b ro edgeimage.root=PARTUUID=1234abcd-03 edgeimage.data=PARTUUID=1234abcd-04 quiet\n");

        var result = _rig.Run("""read_cmdline "$PWD/cmdline"; echo "$slot|$root_spec|$data_spec" """);

        Assert.Equal("b|PARTUUID=1234abcd-03|PARTUUID=1234abcd-04", result.Text.Trim());
    }

    [Fact]
    public void The_command_line_names_the_boot_disk_and_the_partition_names_follow_the_slot()
    {
        File.WriteAllText(Path.Combine(_rig.Root, "cmdline"), $"edgeimage.slot=b ro edgeimage.disk=PTUUID={BootDisk} console=ttyS0\n");

        var result = _rig.Run("""read_cmdline "$PWD/cmdline"; echo "$disk_spec|$root_name|$data_name" """);

        Assert.Equal($"PTUUID={BootDisk}|root-b|data", result.Text.Trim());
    }

    /// <summary>Runs read_cmdline on <paramref name="cmdline"/>, then locate_partitions; prints what it found or what is missing.</summary>
    private HostTool.Result Locate(string cmdline)
    {
        File.WriteAllText(Path.Combine(_rig.Root, "cmdline"), cmdline + "\n");
        return _rig.Run("""
            read_cmdline "$PWD/cmdline"
            if locate_partitions; then echo "root=$rootdev data=$datadev roots=$roots"; else echo "missing: $missing"; fi
            if partitions_present; then echo "coldplug stops"; else echo "coldplug goes on"; fi
            """);
    }

    [Fact]
    public void With_the_same_partition_names_on_two_disks_the_boot_disk_named_by_its_GPT_GUID_is_taken()
    {
        // sda sorts before sdb in /sys/class/block: the disk found first is not the boot disk.
        EfiDisk("sda", OtherDisk);
        EfiDisk("sdb", BootDisk);

        var result = Locate($"edgeimage.slot=a edgeimage.disk=PTUUID={BootDisk}");

        Assert.Equal(["root=sdb2 data=sdb4 roots= /dev/sdb2", "coldplug stops"], result.Text.Trim().Split('\n'));
    }

    [Fact]
    public void The_command_line_EfiBoard_writes_names_the_disk_as_blkid_prints_its_GUID_so_init_takes_that_disk()
    {
        var profile = new ProfileCatalog(Checkout.Profiles, "the checkout").Load("generic-x86_64");
        var commandLine = EfiBoard.CommandLine(profile, Guid.Parse(BootDisk.ToUpperInvariant()));
        EfiDisk("sda", OtherDisk);
        // blkid prints a GPT disk GUID in lower case.
        EfiDisk("sdb", BootDisk);

        var result = Locate($"edgeimage.slot=a ro {commandLine}");

        Assert.Contains(profile.Kernel.CommandLine!, commandLine, StringComparison.Ordinal);
        Assert.Equal("root=sdb2 data=sdb4 roots= /dev/sdb2", result.Text.Trim().Split('\n')[0]);
    }

    [Fact]
    public void While_only_another_disk_has_the_partitions_the_look_goes_on_and_says_where_they_are()
    {
        // The internal disk's driver came up; the USB stick the machine booted from has not yet.
        EfiDisk("nvme0n1", OtherDisk);

        var result = Locate($"edgeimage.slot=a edgeimage.disk=PTUUID={BootDisk}");

        Assert.Equal([$"missing: partition root-a not found on the boot disk (PTUUID={BootDisk}); found on other disks: /dev/nvme0n1p2", "coldplug goes on"], result.Text.Trim().Split('\n'));
    }

    [Fact]
    public void The_data_partition_is_the_one_on_the_disk_of_the_root()
    {
        // Another disk, sorting first, has a partition named data and nothing else of EdgeImage's.
        _rig.AddDisk("sda", 1 << 20);
        _rig.AddPartition("sda", "sda1", 1, 2048, DataSectors, partName: "data");
        EfiDisk("sdb");

        var result = Locate("edgeimage.slot=a");

        Assert.Equal(["root=sdb2 data=sdb4 roots= /dev/sdb2", "coldplug stops"], result.Text.Trim().Split('\n'));
    }

    [Fact]
    public void A_root_disk_without_a_data_partition_is_reported_not_completed_from_another_disk()
    {
        _rig.AddDisk("sda", 1 << 20);
        _rig.AddPartition("sda", "sda1", 1, 2048, DataSectors, partName: "data");
        _rig.AddDisk("sdb", 1 << 20);
        _rig.AddPartition("sdb", "sdb2", 2, 4096, 8192, partName: "root-a");

        var result = Locate("edgeimage.slot=a");

        Assert.Equal(["missing: partition data not found on /dev/sdb, the disk of the root partition /dev/sdb2", "coldplug goes on"], result.Text.Trim().Split('\n'));
    }

    [Fact]
    public void Copies_of_one_image_on_two_disks_both_qualify_the_first_is_taken_and_both_are_listed()
    {
        EfiDisk("sda", BootDisk);
        EfiDisk("sdb", BootDisk);

        var result = Locate($"edgeimage.slot=b edgeimage.disk=PTUUID={BootDisk}");

        Assert.Equal("root=sda3 data=sda4 roots= /dev/sda3 /dev/sdb3", result.Text.Trim().Split('\n')[0]);
    }

    [Fact]
    public void On_an_MBR_disk_the_root_by_PARTUUID_decides_the_disk_and_the_data_PARTUUID_is_taken_from_it()
    {
        // A Pi booted from its SD card with a USB disk holding a copy of the image: the disk
        // signature, and so every PARTUUID, is the same on both; blkid lists the USB disk first.
        foreach (var disk in new[] { "sda", "mmcblk0" })
        {
            _rig.AddDisk(disk, 1 << 20);
        }
        _rig.AddPartition("sda", "sda4", 4, 40960, DataSectors, partUuid: "1234abcd-04");
        _rig.AddPartition("mmcblk0", "mmcblk0p2", 2, 8192, 8192, partUuid: "1234abcd-02");
        _rig.AddPartition("mmcblk0", "mmcblk0p4", 4, 40960, DataSectors, partUuid: "1234abcd-04");

        var result = Locate("edgeimage.slot=a edgeimage.root=PARTUUID=1234abcd-02 edgeimage.data=PARTUUID=1234abcd-04");

        // Partitions named by PARTUUID need blkid, which coldplug does not run between module loads.
        Assert.Equal(["root=mmcblk0p2 data=mmcblk0p4 roots= /dev/mmcblk0p2", "coldplug goes on"], result.Text.Trim().Split('\n'));
    }

    private const string Mke2fs = "mke2fs -q -F -t ext4 -E nodiscard -L edge-data /dev/sda4";

    /// <summary>prepare_data as main runs it on the EFI disk <see cref="BootDisk"/> (edgeimage.disk names it).</summary>
    private HostTool.Result PrepareData(string diskSpec = $"PTUUID={BootDisk}") =>
        _rig.Run($"disk_spec={diskSpec} rootdev=sda2 datadev=sda4 prepare_data && echo prepared");

    private void AssertRefused(HostTool.Result result, string because)
    {
        Assert.True(result.ExitCode == InitScriptRig.Failed, $"{because}: init went on ({result.ExitCode}):\n{result.Text}");
        Assert.Contains("edgeimage-initrd: FATAL: the data partition /dev/sda4 has no edge-data file system and does not start with the image's fresh-data marker for this disk", result.Text);
        Assert.Contains("to start afresh write the image to the disk again", result.Text);
        Assert.DoesNotContain(_rig.Calls, c => c.StartsWith("mke2fs", StringComparison.Ordinal) || c.StartsWith("sfdisk", StringComparison.Ordinal));
    }

    [Fact]
    public void A_data_partition_with_the_marker_of_this_disk_gets_an_ext4_file_system_labelled_edge_data_and_loses_the_marker()
    {
        EfiDisk("sda", BootDisk);
        // A used card written with bmaptool: old bytes everywhere the image has a hole.
        _rig.WriteAt("sda4", 8 * 1024 * 1024 + 1024 + 56, [0x53, 0xEF]);
        _rig.WriteMarker("sda4", BootDisk);

        var result = PrepareData();

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("edgeimage-initrd: creating the data file system on /dev/sda4 (first boot)", result.Text);
        Assert.Contains(Mke2fs, _rig.Calls);
        // No marker is left for a later boot to format over this file system (the stand-in mke2fs writes nothing).
        var start = new byte[BoardDisk.DataMarkerSize];
        using (var device = File.OpenRead(_rig.Device("sda4")))
        {
            device.ReadExactly(start);
        }
        Assert.All(start[..1024], b => Assert.Equal(0, b));
    }

    [Fact]
    public void On_the_Pi_the_marker_names_the_disk_signature_the_PARTUUIDs_begin_with()
    {
        EfiDisk("sda");
        _rig.WriteMarker("sda4", "1234abcd");

        var result = _rig.Run("root_spec=PARTUUID=1234abcd-02 rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(Mke2fs, _rig.Calls);
    }

    [Theory]
    [InlineData(0, "all zeros, no marker")]
    [InlineData(1080, "old superblock magic at 1 KiB")]
    [InlineData(4 * 1024 * 1024 - 1, "old bytes further in")]
    public void A_data_partition_without_the_label_or_the_marker_is_refused_and_left_alone(long offset, string what)
    {
        EfiDisk("sda", BootDisk);
        if (offset > 0)
        {
            _rig.WriteAt("sda4", offset, [0x53, 0xEF]);
        }

        AssertRefused(PrepareData(), what);
    }

    [Fact]
    public void A_marker_written_for_another_disk_is_not_trusted()
    {
        EfiDisk("sda", BootDisk);
        _rig.WriteMarker("sda4", OtherDisk);

        AssertRefused(PrepareData(), "the marker of another image");
    }

    [Fact]
    public void A_marker_with_a_changed_byte_is_not_trusted()
    {
        EfiDisk("sda", BootDisk);
        _rig.WriteMarker("sda4", BootDisk);
        // Past the text, in the newline padding: the whole 4 KiB block must be the builder's.
        _rig.WriteAt("sda4", 4095, [0]);

        AssertRefused(PrepareData(), "a damaged marker");
    }

    [Fact]
    public void Without_a_disk_ID_on_the_command_line_no_marker_is_trusted()
    {
        EfiDisk("sda");
        _rig.WriteMarker("sda4", BootDisk);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        AssertRefused(result, "no disk ID");
        Assert.Contains("(no disk ID on the command line)", result.Text);
    }

    [Fact]
    public void A_marker_beside_an_ext4_file_system_of_another_label_is_not_formatted_over()
    {
        EfiDisk("sda", BootDisk);
        _rig.WriteMarker("sda4", BootDisk);
        _rig.Tag("sda4", "TYPE=ext4");

        AssertRefused(PrepareData(), "an ext4 file system");
    }

    [Fact]
    public void A_data_partition_that_cannot_be_read_is_refused()
    {
        EfiDisk("sda", BootDisk);
        // A partition shorter than the marker: cmp meets the end where the disk would fail a read.
        File.WriteAllBytes(_rig.Device("sda4"), BoardDisk.DataMarker(BootDisk)[..2048]);

        var result = PrepareData();

        AssertRefused(result, "a read error");
        Assert.Contains("or could not be read", result.Text);
    }

    [Fact]
    public void A_fresh_data_partition_on_a_larger_disk_grows_before_its_file_system_is_made()
    {
        EfiDisk("sda", BootDisk, extraSectors: 1 << 21);
        _rig.WriteMarker("sda4", BootDisk);

        var result = PrepareData();

        Assert.Equal(0, result.ExitCode);
        var calls = _rig.Calls.Where(c => !c.StartsWith("blkid", StringComparison.Ordinal)).ToList();
        Assert.Equal(["sfdisk --no-reread --no-tell-kernel -q -N 4 /dev/sda", "blockdev --rereadpt /dev/sda", Mke2fs], calls);
    }

    [Fact]
    public void A_refused_data_partition_on_a_larger_disk_is_not_grown()
    {
        EfiDisk("sda", BootDisk, extraSectors: 1 << 21);

        AssertRefused(PrepareData(), "no marker");
        Assert.DoesNotContain(_rig.Calls, c => c.StartsWith("blockdev", StringComparison.Ordinal));
    }

    [Fact]
    public void On_a_larger_disk_the_data_partition_and_its_file_system_grow_to_the_end()
    {
        EfiDisk("sda", extraSectors: 1 << 21);
        _rig.Tag("sda4", "LABEL=edge-data");

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("edgeimage-initrd: growing data partition /dev/sda4 to the end of /dev/sda", result.Text);
        Assert.Contains("edgeimage-initrd: data file system grown", result.Text);
        var calls = _rig.Calls.Where(c => !c.StartsWith("blkid", StringComparison.Ordinal)).ToList();
        Assert.Equal(["sfdisk --no-reread --no-tell-kernel -q -N 4 /dev/sda", "blockdev --rereadpt /dev/sda", "e2fsck -f -p /dev/sda4", "resize2fs /dev/sda4"], calls);
    }

    [Fact]
    public void A_labelled_data_file_system_takes_the_e2fsck_path_even_with_a_marker_left_before_it()
    {
        EfiDisk("sda", BootDisk);
        _rig.WriteMarker("sda4", BootDisk);
        _rig.Tag("sda4", "LABEL=edge-data");

        var result = PrepareData();

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["e2fsck -p /dev/sda4"], _rig.Calls.Where(c => !c.StartsWith("blkid", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_data_file_system_is_checked_on_every_boot_before_it_is_mounted()
    {
        EfiDisk("sda");
        _rig.Tag("sda4", "LABEL=edge-data");

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["e2fsck -p /dev/sda4"], _rig.Calls.Where(c => !c.StartsWith("blkid", StringComparison.Ordinal)));
        // A clean check prints nothing of its own to the console.
        Assert.DoesNotContain("e2fsck", result.Text);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_check_that_fixed_errors_or_asks_for_a_reboot_is_logged_and_the_boot_goes_on(int exitCode)
    {
        EfiDisk("sda");
        _rig.Tag("sda4", "LABEL=edge-data");
        _rig.ExitCode("e2fsck", exitCode);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data && echo prepared");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("edgeimage-initrd: e2fsck: stand-in e2fsck: done", result.Text);
        Assert.Contains($"edgeimage-initrd: e2fsck repaired the data file system on /dev/sda4 (exit code {exitCode}); it is not mounted yet, so the boot goes on", result.Text);
        Assert.EndsWith("prepared", result.Text.Trim());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(12)]
    public void A_check_that_left_errors_or_failed_stops_the_boot(int exitCode)
    {
        EfiDisk("sda");
        _rig.Tag("sda4", "LABEL=edge-data");
        _rig.ExitCode("e2fsck", exitCode);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data && echo prepared");

        Assert.Equal(InitScriptRig.Failed, result.ExitCode);
        Assert.Contains($"edgeimage-initrd: FATAL: e2fsck -p could not repair the data file system on /dev/sda4 (exit code {exitCode})", result.Text);
        Assert.DoesNotContain("prepared", result.Text);
        Assert.DoesNotContain(_rig.Calls, c => c.StartsWith("mke2fs", StringComparison.Ordinal));
    }

    // The storage drivers of EfiBoard's list that these tests plug, with their real modules.alias
    // lines (Debian's 6.12 amd64 kernel) and dependencies.
    private static readonly KernelInstall Kernel = new()
    {
        Version = "6.12.0-test",
        ImagePath = "/boot/vmlinuz-6.12.0-test",
        ModulesDirectory = "/usr/lib/modules/6.12.0-test",
        Modules = new Dictionary<string, string>
        {
            ["vmd"] = "kernel/drivers/pci/controller/vmd.ko.xz",
            ["nvme_core"] = "kernel/drivers/nvme/host/nvme-core.ko.xz",
            ["nvme"] = "kernel/drivers/nvme/host/nvme.ko.xz",
            ["mmc_core"] = "kernel/drivers/mmc/core/mmc_core.ko.xz",
            ["mmc_block"] = "kernel/drivers/mmc/core/mmc_block.ko.xz",
            ["sdhci"] = "kernel/drivers/mmc/host/sdhci.ko.xz",
            ["sdhci_acpi"] = "kernel/drivers/mmc/host/sdhci-acpi.ko.xz",
        },
        Dependencies = new Dictionary<string, IReadOnlyList<string>>
        {
            ["kernel/drivers/nvme/host/nvme.ko.xz"] = ["kernel/drivers/nvme/host/nvme-core.ko.xz"],
            ["kernel/drivers/mmc/core/mmc_block.ko.xz"] = ["kernel/drivers/mmc/core/mmc_core.ko.xz"],
            ["kernel/drivers/mmc/host/sdhci.ko.xz"] = ["kernel/drivers/mmc/core/mmc_core.ko.xz"],
            ["kernel/drivers/mmc/host/sdhci-acpi.ko.xz"] = ["kernel/drivers/mmc/host/sdhci.ko.xz", "kernel/drivers/mmc/core/mmc_core.ko.xz"],
        },
        SoftPre = new Dictionary<string, IReadOnlyList<string>>(),
        Builtin = new HashSet<string>(),
    };

    private const string Aliases = """
        alias pci:v00008086d0000B06Fsv*sd*bc*sc*i* vmd
        alias pci:v00008086d0000467Fsv*sd*bc*sc*i* vmd
        alias pci:v00008086d0000201Dsv*sd*bc*sc*i* vmd
        alias pci:v*d*sv*sd*bc01sc08i02* nvme
        alias mmc:block mmc_block
        alias acpi*:80860F14:* sdhci_acpi
        alias acpi*:PNP0D40:* sdhci_acpi
        alias acpi*:INT33BB:* sdhci_acpi

        """;

    /// <summary>
    /// Boots the coldplug and partition look of init on a machine whose only device at first is
    /// <paramref name="controllers"/> (sysfs bus path -> modalias). Loading a module runs the shell
    /// in <paramref name="onLoad"/> for it, as the real driver would make devices appear; the disk
    /// <paramref name="disk"/> (EfiBoard's layout) stays out of /sys/class/block until <paramref name="diskDriver"/> loads.
    /// Returns what init loaded, in order, and where it found the partitions.
    /// </summary>
    private (IReadOnlyList<string> Loaded, string Found) Coldplug(Dictionary<string, string> controllers, Dictionary<string, string> onLoad, string disk, string diskDriver)
    {
        EfiDisk(disk);
        var pending = Path.Combine(_rig.Root, "pending");
        Directory.CreateDirectory(pending);
        foreach (var link in Directory.GetFileSystemEntries(Path.Combine(_rig.Root, "sys/class/block")))
        {
            Directory.Move(link, Path.Combine(pending, Path.GetFileName(link)));
        }
        foreach (var (device, modalias) in controllers)
        {
            Directory.CreateDirectory(Path.Combine(_rig.Root, "sys", device));
            File.WriteAllText(Path.Combine(_rig.Root, "sys", device, "modalias"), modalias + "\n");
        }
        onLoad[diskDriver] = """mv "$initrd"/pending/* "$sys/class/block/" """;
        File.WriteAllText(Path.Combine(_rig.Root, "etc/initrd-modalias"), ModaliasTable.Generate(Kernel, Aliases, EfiBoard.Modules, "EfiBoard").Script);
        File.WriteAllText(Path.Combine(_rig.Root, "cmdline"), "edgeimage.slot=a\n");
        var cases = string.Concat(onLoad.Select(kv => $"            {kv.Key}) {kv.Value} ;;\n"));

        var result = _rig.Run($$"""
            # Stand-in for init's load (insmod): records the module and does what its driver would.
            load() {
                for module; do
                    [ -d "$sys/module/$module" ] && continue
                    mkdir -p "$sys/module/$module"
                    echo "$module" >> "$initrd/loaded"
                    loaded=$((loaded + 1))
                    case "$module" in
            {{cases}}
                    esac
                done
            }
            read_cmdline "$initrd/cmdline"
            . "$initrd/etc/initrd-modalias"
            coldplug
            wait_partitions && echo "root=$rootdev data=$datadev"
            """);

        var loadedFile = Path.Combine(_rig.Root, "loaded");
        return (File.Exists(loadedFile) ? File.ReadAllLines(loadedFile) : [], result.Text.Trim() + result.Stderr);
    }

    [Fact]
    public void NVMe_behind_Intel_VMD_is_reached_vmd_by_its_PCI_ID_then_nvme_for_the_disk_on_its_PCI_domain()
    {
        var (loaded, found) = Coldplug(
            new() { ["bus/pci/devices/0000:00:0e.0"] = "pci:v00008086d0000467Fsv00001028sd00000B1Abc01sc04i00" },
            new()
            {
                // vmd makes a PCI domain of its own, on which the NVMe controllers behind it appear.
                ["vmd"] = """mkdir -p "$sys/bus/pci/devices/10000:e1:00.0" && echo pci:v0000144Dd0000A80Asv0000144Dsd0000A801bc01sc08i02 > "$sys/bus/pci/devices/10000:e1:00.0/modalias" """,
            },
            "nvme0n1", "nvme");

        Assert.Equal(["vmd", "nvme_core", "nvme"], loaded);
        Assert.Equal("root=nvme0n1p2 data=nvme0n1p4", found);
    }

    [Fact]
    public void eMMC_listed_in_ACPI_is_reached_sdhci_acpi_by_its_acpi_modalias_then_mmc_block_for_the_card()
    {
        var (loaded, found) = Coldplug(
            new()
            {
                // The firmware's ACPI device and the platform device the kernel made of it carry the same modalias.
                ["bus/acpi/devices/80860F14:01"] = "acpi:80860F14:PNP0D40:",
                ["bus/platform/devices/80860F14:01"] = "acpi:80860F14:PNP0D40:",
            },
            new()
            {
                ["sdhci_acpi"] = """mkdir -p "$sys/bus/mmc/devices/mmc0:0001" && echo mmc:block > "$sys/bus/mmc/devices/mmc0:0001/modalias" """,
            },
            "mmcblk0", "mmc_block");

        Assert.Equal(["mmc_core", "sdhci", "sdhci_acpi", "mmc_block"], loaded);
        Assert.Equal("root=mmcblk0p2 data=mmcblk0p4", found);
    }
}
