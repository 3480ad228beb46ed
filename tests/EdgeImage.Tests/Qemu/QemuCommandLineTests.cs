using System.Runtime.InteropServices;
using EdgeImage.Qemu;

namespace EdgeImage.Tests.Qemu;

public class QemuCommandLineTests
{
    private static readonly QemuMachineCatalog Catalog = QemuMachineCatalog.LoadBuiltIn();

    [Fact]
    public void Generic_x86_64_boots_q35_with_OVMF_a_virtio_disk_and_a_restricted_user_network()
    {
        var request = new QemuRunRequest { ImagePath = "out/generic-x86_64/edge.img" };

        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), request, QemuAccelerator.Tcg, "/tmp/run/OVMF_VARS_4M.fd");

        Assert.Equal(
            [
                "-machine", "q35", "-accel", "tcg", "-cpu", "qemu64", "-m", "1024M",
                "-nodefaults", "-display", "none", "-no-user-config", "-serial", "stdio", "-monitor", "none",
                "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                "-drive", "if=pflash,format=raw,unit=1,file=/tmp/run/OVMF_VARS_4M.fd",
                "-drive", "if=virtio,format=raw,file=out/generic-x86_64/edge.img",
                "-nic", "user,restrict=on,model=virtio-net-pci",
                "-device", "virtio-rng-pci",
            ],
            args);
    }

    [Fact]
    public void Generic_aarch64_boots_virt_on_cortex_a57_with_AAVMF()
    {
        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-aarch64"), new QemuRunRequest { ImagePath = "a.img" }, QemuAccelerator.Tcg, "/tmp/run/AAVMF_VARS.fd");

        Assert.Equal(
            [
                "-machine", "virt", "-accel", "tcg", "-cpu", "cortex-a57", "-m", "1024M", "-smp", "2",
                "-nodefaults", "-display", "none", "-no-user-config", "-serial", "stdio", "-monitor", "none",
                "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd",
                "-drive", "if=pflash,format=raw,unit=1,file=/tmp/run/AAVMF_VARS.fd",
                "-drive", "if=virtio,format=raw,file=a.img",
                "-nic", "user,restrict=on,model=virtio-net-pci",
                "-device", "virtio-rng-pci",
            ],
            args);
        Assert.Equal("qemu-system-aarch64", Catalog.Get("generic-efi-aarch64").Binary);
    }

    [Fact]
    public void Rpi_armv7_boots_raspi2b_from_a_given_kernel_and_device_tree_with_the_image_as_SD_card()
    {
        var request = new QemuRunRequest { ImagePath = "sd.img", Kernel = "u-boot.bin", Dtb = "bcm2836-rpi-2-b.dtb" };

        var args = QemuCommandLine.Build(Catalog.Get("rpi-armv7"), request, QemuAccelerator.Tcg, null);

        Assert.Equal(
            [
                "-machine", "raspi2b", "-accel", "tcg",
                "-nodefaults", "-display", "none", "-no-user-config", "-serial", "stdio", "-monitor", "none",
                "-kernel", "u-boot.bin", "-append", "console=ttyAMA0",
                "-dtb", "bcm2836-rpi-2-b.dtb",
                "-drive", "if=sd,format=raw,file=sd.img",
            ],
            args);
        Assert.Equal("qemu-system-arm", Catalog.Get("rpi-armv7").Binary);
    }

    [Fact]
    public void Rpi4_aarch64_stands_in_with_raspi3b_on_qemu_system_aarch64()
    {
        var request = new QemuRunRequest { ImagePath = "sd.img", Kernel = "Image", Initrd = "initrd.img", Append = "console=ttyAMA0 root=/dev/mmcblk0p2", Dtb = "bcm2837-rpi-3-b.dtb" };

        var args = QemuCommandLine.Build(Catalog.Get("rpi4-aarch64"), request, QemuAccelerator.Tcg, null);

        Assert.Equal("qemu-system-aarch64", Catalog.Get("rpi4-aarch64").Binary);
        Assert.Equal(
            [
                "-machine", "raspi3b", "-accel", "tcg,thread=single",
                "-nodefaults", "-display", "none", "-no-user-config", "-serial", "stdio", "-monitor", "none",
                "-kernel", "Image", "-initrd", "initrd.img", "-append", "console=ttyAMA0 root=/dev/mmcblk0p2",
                "-dtb", "bcm2837-rpi-3-b.dtb",
                "-drive", "if=sd,format=raw,file=sd.img",
            ],
            args);
    }

    [Fact]
    public void Single_threaded_TCG_applies_to_the_tcg_fallback_after_kvm_and_other_boards_keep_one_thread_per_vCPU()
    {
        var pi = new QemuRunRequest { ImagePath = "sd.img", Kernel = "k", Dtb = "d" };

        var underKvm = QemuCommandLine.Build(Catalog.Get("rpi4-aarch64"), pi, QemuAccelerator.Kvm, null);
        var armv7 = QemuCommandLine.Build(Catalog.Get("rpi-armv7"), pi, QemuAccelerator.Tcg, null);

        Assert.Equal(["-machine", "raspi3b", "-accel", "kvm", "-accel", "tcg,thread=single"], underKvm.Take(6));
        Assert.Equal(["-machine", "raspi2b", "-accel", "tcg"], armv7.Take(4));
    }

    [Fact]
    public void A_Pi_board_without_kernel_and_device_tree_is_refused_with_both_named()
    {
        var e = Assert.Throws<EdgeImageException>(() =>
            QemuCommandLine.Build(Catalog.Get("rpi-armv7"), new QemuRunRequest { ImagePath = "sd.img" }, QemuAccelerator.Tcg, null));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.Contains("--kernel", e.Message);
        Assert.Contains("--dtb", e.Message);
    }

    [Fact]
    public void Forwards_go_into_the_restricted_user_nic_and_extra_nics_follow_it()
    {
        var request = new QemuRunRequest
        {
            ImagePath = "a.img",
            HostForwards = ["tcp:127.0.0.1:2222-:22", "tcp:127.0.0.1:6443-:6443"],
            GuestForwards = ["tcp:10.0.2.100:80-tcp:127.0.0.1:8080"],
            ExtraNics = ["socket,listen=127.0.0.1:40000,model=virtio-net-pci"],
        };

        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), request, QemuAccelerator.Tcg, "/v");

        var nics = args.Select((a, i) => (a, i)).Where(x => x.a == "-nic").Select(x => args[x.i + 1]).ToList();
        Assert.Equal(
            [
                "user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:6443-:6443,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080",
                "socket,listen=127.0.0.1:40000,model=virtio-net-pci",
            ],
            nics);
    }

    [Fact]
    public void Extra_disks_take_the_first_slots_of_the_disk_bus_and_the_image_comes_first_in_the_boot_order()
    {
        var request = new QemuRunRequest { ImagePath = "edge.img", ExtraDisks = ["internal.img", "old,disk.img"], Snapshot = true };

        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), request, QemuAccelerator.Tcg, "/v");

        var disks = args.Select((a, i) => (a, i)).Where(x => x.a is "-drive" or "-device" && !args[x.i + 1].StartsWith("if=pflash", StringComparison.Ordinal)
            && !args[x.i + 1].StartsWith("virtio-rng", StringComparison.Ordinal)).Select(x => $"{x.a} {args[x.i + 1]}").ToList();
        Assert.Equal(
            [
                "-drive if=none,id=edgeimage-extra0,format=raw,file=internal.img,snapshot=on",
                "-device virtio-blk-pci,drive=edgeimage-extra0",
                "-drive if=none,id=edgeimage-extra1,format=raw,file=old,,disk.img,snapshot=on",
                "-device virtio-blk-pci,drive=edgeimage-extra1",
                "-drive if=none,id=edgeimage-disk,format=raw,file=edge.img,snapshot=on",
                "-device virtio-blk-pci,drive=edgeimage-disk,bootindex=0",
            ],
            disks);
    }

    [Fact]
    public void A_board_with_one_SD_slot_refuses_extra_disks()
    {
        var request = new QemuRunRequest { ImagePath = "sd.img", ExtraDisks = ["usb.img"], Kernel = "vmlinuz", Dtb = "pi.dtb" };

        var e = Assert.Throws<EdgeImageException>(() => QemuCommandLine.Build(Catalog.Get("rpi-armv7"), request, QemuAccelerator.Tcg, null));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.Contains("single SD card slot", e.Message);
    }

    [Fact]
    public void A_forward_with_a_comma_cannot_smuggle_options_into_the_nic()
    {
        var request = new QemuRunRequest { ImagePath = "a.img", HostForwards = ["tcp::2222-:22,restrict=off"] };

        var e = Assert.Throws<EdgeImageException>(() => QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), request, QemuAccelerator.Tcg, "/v"));

        Assert.Contains("tcp::2222-:22,restrict=off", e.Message);
    }

    [Fact]
    public void Commas_in_paths_are_doubled_and_snapshot_keeps_the_image_unchanged()
    {
        var request = new QemuRunRequest { ImagePath = "/data/a,b.img", Snapshot = true };

        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), request, QemuAccelerator.Tcg, "/tmp/x,y/VARS.fd");

        Assert.Contains("if=virtio,format=raw,file=/data/a,,b.img,snapshot=on", args);
        Assert.Contains("if=pflash,format=raw,unit=1,file=/tmp/x,,y/VARS.fd", args);
    }

    [Fact]
    public void A_direct_kernel_boot_defaults_to_the_boards_serial_console_and_can_forbid_reboots()
    {
        var request = new QemuRunRequest { Kernel = "vmlinuz", Initrd = "initrd.cpio", NoReboot = true, MemoryMiB = 512 };

        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), request, QemuAccelerator.Tcg, "/v");

        Assert.Equal("console=ttyS0", args[args.ToList().IndexOf("-append") + 1]);
        Assert.Equal("512M", args[args.ToList().IndexOf("-m") + 1]);
        Assert.Contains("-no-reboot", args);
        Assert.DoesNotContain(args, a => a.StartsWith("if=virtio", StringComparison.Ordinal));
    }

    [Fact]
    public void Kvm_is_named_with_tcg_after_it_and_the_cpu_becomes_host()
    {
        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), new QemuRunRequest { ImagePath = "a.img" }, QemuAccelerator.Kvm, "/v");

        Assert.Equal(["-machine", "q35", "-accel", "kvm", "-accel", "tcg", "-cpu", "host"], args.Take(8));
    }

    [Fact]
    public void An_attached_terminal_multiplexes_monitor_and_serial_on_stdio()
    {
        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-x86_64"), new QemuRunRequest { ImagePath = "a.img", AttachTerminal = true }, QemuAccelerator.Tcg, "/v");

        Assert.Contains("mon:stdio", args);
        Assert.DoesNotContain("-monitor", args);
    }

    [Fact]
    public void A_run_can_ask_for_more_CPUs_than_the_board_defines_but_not_on_a_fixed_SoC_model()
    {
        var args = QemuCommandLine.Build(Catalog.Get("generic-efi-aarch64"), new QemuRunRequest { ImagePath = "a.img", Smp = 4 }, QemuAccelerator.Tcg, "/v");
        var pi = new QemuRunRequest { ImagePath = "sd.img", Kernel = "k", Dtb = "d", Smp = 2 };

        Assert.Equal("4", args[args.ToList().IndexOf("-smp") + 1]);
        Assert.Single(args, a => a == "-smp");
        Assert.Contains("fixed number of CPUs", Assert.Throws<EdgeImageException>(() => QemuCommandLine.Build(Catalog.Get("rpi-armv7"), pi, QemuAccelerator.Tcg, null)).Message);
    }

    [Fact]
    public void Memory_cannot_be_changed_on_a_board_with_fixed_memory()
    {
        var request = new QemuRunRequest { ImagePath = "sd.img", Kernel = "k", Dtb = "d", MemoryMiB = 512 };

        var e = Assert.Throws<EdgeImageException>(() => QemuCommandLine.Build(Catalog.Get("rpi-armv7"), request, QemuAccelerator.Tcg, null));

        Assert.Contains("fixed amount of memory", e.Message);
    }

    [Fact]
    public void Kvm_is_chosen_only_for_the_hosts_own_architecture_and_the_environment_overrides()
    {
        var x86 = Catalog.Get("generic-efi-x86_64");
        var armhf = Catalog.Get("rpi-armv7");
        var hostIsX64 = RuntimeInformation.OSArchitecture == Architecture.X64;

        Assert.Equal(hostIsX64 ? QemuAccelerator.Kvm : QemuAccelerator.Tcg, QemuCommandLine.ChooseAccelerator(x86, null, kvmUsable: true));
        Assert.Equal(QemuAccelerator.Tcg, QemuCommandLine.ChooseAccelerator(x86, null, kvmUsable: false));
        Assert.Equal(QemuAccelerator.Tcg, QemuCommandLine.ChooseAccelerator(armhf, null, kvmUsable: true));
        Assert.Equal(QemuAccelerator.Tcg, QemuCommandLine.ChooseAccelerator(x86, "tcg", kvmUsable: true));
        Assert.Equal(QemuAccelerator.Kvm, QemuCommandLine.ChooseAccelerator(x86, "KVM", kvmUsable: false));
        Assert.Throws<EdgeImageException>(() => QemuCommandLine.ChooseAccelerator(x86, "hvf", kvmUsable: false));
    }
}
