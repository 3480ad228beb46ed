using System.Runtime.InteropServices;

namespace EdgeImage.Qemu;

public enum QemuAccelerator
{
    /// <summary>QEMU's portable emulator; always works, 10-50x slower than KVM.</summary>
    Tcg,

    /// <summary>Hardware virtualization, with TCG named after it so QEMU falls back when KVM cannot start.</summary>
    Kvm,
}

/// <summary>Turns a machine definition and a run request into QEMU's arguments. Pure: no files are touched.</summary>
public static class QemuCommandLine
{
    /// <param name="varsCopy">The per-run writable copy of the firmware's vars template; required when the machine has firmware.</param>
    public static IReadOnlyList<string> Build(QemuMachine machine, QemuRunRequest request, QemuAccelerator accelerator, string? varsCopy)
    {
        Validate(machine, request);
        var args = new List<string> { "-machine", machine.Machine };
        // The TCG named after KVM is its fallback, so it gets the board's threading too.
        var tcg = machine.TcgThreads == QemuTcgThreads.Single ? "tcg,thread=single" : "tcg";
        args.AddRange(accelerator == QemuAccelerator.Kvm ? ["-accel", "kvm", "-accel", tcg] : ["-accel", tcg]);
        if (machine.Cpu is not null)
        {
            // Under KVM the guest runs on the host's own CPU; the board's model only matters to TCG.
            args.AddRange(["-cpu", accelerator == QemuAccelerator.Kvm ? "host" : machine.Cpu]);
        }
        if ((request.MemoryMiB ?? machine.MemoryMiB) is { } memory)
        {
            args.AddRange(["-m", $"{memory}M"]);
        }
        if ((request.Smp ?? machine.Smp) is var smp and not 1)
        {
            args.AddRange(["-smp", $"{smp}"]);
        }
        // -nodefaults drops the VGA card, the default NIC and the default serial/monitor so that the
        // only console is the serial line the runner watches.
        args.AddRange(["-nodefaults", "-display", "none", "-no-user-config"]);
        args.AddRange(request.AttachTerminal ? ["-serial", "mon:stdio"] : ["-serial", "stdio", "-monitor", "none"]);

        if (machine.Firmware is { } firmware)
        {
            if (varsCopy is null)
            {
                throw new ArgumentException($"board {machine.Name} has UEFI firmware, so a writable copy of {firmware.Vars} is needed", nameof(varsCopy));
            }
            args.AddRange(["-drive", $"if=pflash,format=raw,unit=0,readonly=on,file={DriveValue(firmware.Code)}"]);
            args.AddRange(["-drive", $"if=pflash,format=raw,unit=1,file={DriveValue(varsCopy)}"]);
        }

        if (request.Kernel is not null)
        {
            args.AddRange(["-kernel", request.Kernel]);
            if (request.Initrd is not null)
            {
                args.AddRange(["-initrd", request.Initrd]);
            }
            args.AddRange(["-append", request.Append ?? $"console={machine.Console}"]);
        }
        if (request.Dtb is not null)
        {
            args.AddRange(["-dtb", request.Dtb]);
        }

        if (request.ImagePath is not null)
        {
            var iface = machine.Disk switch
            {
                QemuDisk.VirtioBlk => "virtio",
                QemuDisk.Sd => "sd",
                _ => throw new ArgumentOutOfRangeException(nameof(machine), machine.Disk, null),
            };
            var snapshot = request.Snapshot ? ",snapshot=on" : "";
            if (request.ExtraDisks.Count == 0)
            {
                args.AddRange(["-drive", $"if={iface},format=raw,file={DriveValue(request.ImagePath)}{snapshot}"]);
            }
            else
            {
                // Explicit devices take the bus's slots in command-line order, so the extra disks
                // are listed first; the image is first in the firmware's boot order all the same,
                // as a further disk may well be bootable (an old internal disk with an earlier image).
                foreach (var (path, n) in request.ExtraDisks.Select((p, n) => (p, n)))
                {
                    args.AddRange(["-drive", $"if=none,id=edgeimage-extra{n},format=raw,file={DriveValue(path)}{snapshot}",
                        "-device", $"virtio-blk-pci,drive=edgeimage-extra{n}"]);
                }
                args.AddRange(["-drive", $"if=none,id=edgeimage-disk,format=raw,file={DriveValue(request.ImagePath)}{snapshot}",
                    "-device", "virtio-blk-pci,drive=edgeimage-disk,bootindex=0"]);
            }
        }

        if (machine.Nic is not null)
        {
            // restrict=on cuts the guest off from the host's network: a test guest reaches nothing
            // but the forwards the test asked for.
            var nic = $"user,restrict=on,model={machine.Nic}"
                + string.Concat(request.HostForwards.Select(f => ",hostfwd=" + f))
                + string.Concat(request.GuestForwards.Select(f => ",guestfwd=" + f));
            args.AddRange(["-nic", nic]);
        }
        foreach (var extra in request.ExtraNics)
        {
            args.AddRange(["-nic", extra]);
        }
        if (request.NoReboot)
        {
            args.Add("-no-reboot");
        }
        args.AddRange(machine.ExtraArgs);
        return args;
    }

    /// <summary>
    /// KVM when the host can run this guest's architecture with /dev/kvm usable, TCG otherwise.
    /// EDGEIMAGE_QEMU_ACCEL=tcg|kvm overrides, for hosts whose /dev/kvm exists but cannot run guests.
    /// </summary>
    public static QemuAccelerator ChooseAccelerator(QemuMachine machine, string? overrideValue, bool kvmUsable)
    {
        switch (overrideValue?.Trim().ToLowerInvariant())
        {
            case "tcg":
                return QemuAccelerator.Tcg;
            case "kvm":
                return QemuAccelerator.Kvm;
            case null or "":
                break;
            default:
                throw new EdgeImageException($"EDGEIMAGE_QEMU_ACCEL is '{overrideValue}'", "set it to tcg or kvm, or unset it", ExitCodes.Usage);
        }
        var hostArch = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "amd64",
            Architecture.Arm64 => "arm64",
            _ => null,
        };
        return kvmUsable && machine.Arch == hostArch ? QemuAccelerator.Kvm : QemuAccelerator.Tcg;
    }

    /// <summary>
    /// /dev/kvm can be opened for writing and the CPU advertises virtualization. The flag check
    /// matters: some sandboxes expose a /dev/kvm that opens but fails the first guest instruction
    /// it cannot emulate.
    /// </summary>
    public static bool KvmUsable()
    {
        try
        {
            using (File.Open("/dev/kvm", FileMode.Open, FileAccess.ReadWrite))
            {
            }
            if (RuntimeInformation.OSArchitecture != Architecture.X64)
            {
                return true;
            }
            return File.ReadLines("/proc/cpuinfo")
                .Where(l => l.StartsWith("flags", StringComparison.Ordinal))
                .Take(1)
                .Any(l => l.Split(' ').Any(f => f is "vmx" or "svm"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Validate(QemuMachine machine, QemuRunRequest request)
    {
        var problems = new List<string>();
        if (machine.Requires.Contains(QemuRequirement.Kernel) && request.Kernel is null)
        {
            problems.Add("a kernel (--kernel: U-Boot or Linux)");
        }
        if (machine.Requires.Contains(QemuRequirement.Dtb) && request.Dtb is null)
        {
            problems.Add("a device tree (--dtb)");
        }
        if (problems.Count > 0)
        {
            throw new EdgeImageException(
                $"board {machine.Name} ({machine.Machine}) boots only with {string.Join(" and ", problems)}: QEMU has no firmware for it that reads the disk",
                "take them from the image's boot partition or the kernel package, e.g. --kernel vmlinuz --dtb bcm2836-rpi-2-b.dtb", ExitCodes.Usage);
        }
        if (request.Initrd is not null && request.Kernel is null)
        {
            throw new EdgeImageException("an initrd was given without a kernel", "pass --kernel too, or drop --initrd", ExitCodes.Usage);
        }
        if (request.Append is not null && request.Kernel is null)
        {
            throw new EdgeImageException("a kernel command line was given without a kernel", "pass --kernel too, or drop --append", ExitCodes.Usage);
        }
        if (request.ImagePath is null && request.Kernel is null)
        {
            throw new EdgeImageException("nothing to boot: neither an image nor a kernel was given", "pass an image path or --kernel", ExitCodes.Usage);
        }
        if (request.MemoryMiB is not null && machine.MemoryMiB is null)
        {
            throw new EdgeImageException($"board {machine.Name} ({machine.Machine}) has a fixed amount of memory", "drop the memory size", ExitCodes.Usage);
        }
        // The boards without a memory size are QEMU's models of one SoC, whose core count is fixed too.
        if (request.Smp is not null && machine.MemoryMiB is null)
        {
            throw new EdgeImageException($"board {machine.Name} ({machine.Machine}) has a fixed number of CPUs", "drop the CPU count", ExitCodes.Usage);
        }
        if (request.Smp is <= 0)
        {
            throw new EdgeImageException($"a run with {request.Smp} CPUs was asked for", "give a positive CPU count", ExitCodes.Usage);
        }
        if (machine.Nic is null && (request.HostForwards.Count > 0 || request.GuestForwards.Count > 0))
        {
            throw new EdgeImageException($"board {machine.Name} ({machine.Machine}) has no network in QEMU, so nothing can be forwarded",
                "drop the forwards for this board", ExitCodes.Usage);
        }
        // A comma would smuggle further options into the -nic value.
        foreach (var forward in request.HostForwards.Concat(request.GuestForwards))
        {
            if (forward.Contains(',') || forward.Length == 0)
            {
                throw new EdgeImageException($"forward '{forward}' is not a single QEMU forward rule",
                    "write one rule per forward, e.g. tcp:127.0.0.1:2222-:22", ExitCodes.Usage);
            }
        }
        if (request.ExtraDisks.Count > 0 && (machine.Disk != QemuDisk.VirtioBlk || request.ImagePath is null))
        {
            throw new EdgeImageException(
                machine.Disk != QemuDisk.VirtioBlk
                    ? $"board {machine.Name} ({machine.Machine}) has a single SD card slot, so no further disk can be attached"
                    : "further disks were given without an image to boot",
                machine.Disk != QemuDisk.VirtioBlk ? "drop the further disks for this board" : "pass the image too", ExitCodes.Usage);
        }
        if (request.AttachTerminal && request.Expects.Count > 0)
        {
            throw new EdgeImageException("a run attached to the terminal cannot wait for expected text", "drop the expect, or do not attach", ExitCodes.Usage);
        }
    }

    /// <summary>QEMU's option parser ends a value at a comma; a literal comma is written twice.</summary>
    private static string DriveValue(string path) => path.Replace(",", ",,", StringComparison.Ordinal);

    /// <summary>The same command line with the watched serial console written to a file instead of stdio.</summary>
    public static IReadOnlyList<string> SerialToFile(IReadOnlyList<string> commandLine, string path)
    {
        var args = commandLine.ToList();
        var at = args.FindIndex(a => a == "-serial");
        if (at >= 0 && at + 1 < args.Count && args[at + 1] == "stdio")
        {
            args[at + 1] = "file:" + path.Replace(",", ",,", StringComparison.Ordinal);
        }
        return args;
    }
}
