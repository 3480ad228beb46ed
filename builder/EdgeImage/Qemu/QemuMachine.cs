namespace EdgeImage.Qemu;

/// <summary>
/// How QEMU models one board, read from qemu/&lt;board&gt;.yaml. The runner turns it into a command
/// line; nothing board-specific lives in code.
/// </summary>
public sealed record QemuMachine
{
    /// <summary>The board name, which is the file name without .yaml (generic-efi-x86_64, rpi-armv7, ...).</summary>
    public required string Name { get; init; }

    public required string Description { get; init; }

    /// <summary>Debian architecture of the guest: amd64, arm64 or armhf.</summary>
    public required string Arch { get; init; }

    /// <summary>QEMU system emulator, e.g. qemu-system-x86_64.</summary>
    public required string Binary { get; init; }

    /// <summary>Value of -machine.</summary>
    public required string Machine { get; init; }

    /// <summary>Value of -cpu; null when the machine fixes its CPU (raspi).</summary>
    public string? Cpu { get; init; }

    /// <summary>Default RAM; null when the machine has a fixed size (raspi boards have exactly 1 GiB).</summary>
    public int? MemoryMiB { get; init; }

    public int Smp { get; init; } = 1;

    /// <summary>
    /// How TCG runs the vCPUs: one host thread each (multi-threaded TCG, QEMU's default where the
    /// guest supports it) or all in one thread, in turn. Only TCG reads it; under KVM every vCPU
    /// is a host thread anyway.
    /// </summary>
    public QemuTcgThreads TcgThreads { get; init; } = QemuTcgThreads.Multi;

    /// <summary>The guest's serial console device, used for the default kernel command line of direct boots.</summary>
    public required string Console { get; init; }

    /// <summary>UEFI firmware in pflash; null for boards that boot a given kernel.</summary>
    public QemuFirmware? Firmware { get; init; }

    public required QemuDisk Disk { get; init; }

    /// <summary>Model of the user-mode NIC; null when QEMU's model of the board has no network.</summary>
    public string? Nic { get; init; }

    /// <summary>What a run must supply because the board has no firmware that reads the disk.</summary>
    public IReadOnlyList<QemuRequirement> Requires { get; init; } = [];

    /// <summary>Appended verbatim after everything else.</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = [];
}

/// <summary>A UEFI firmware: read-only code and the template of its variable store.</summary>
public sealed record QemuFirmware
{
    /// <summary>Debian package that installs both files, named in the hint when one is missing.</summary>
    public required string Package { get; init; }

    public required string Code { get; init; }

    /// <summary>Never given to QEMU itself: every run boots from a fresh writable copy.</summary>
    public required string Vars { get; init; }
}

public enum QemuTcgThreads
{
    /// <summary>Multi-threaded TCG: each vCPU in its own host thread.</summary>
    Multi,

    /// <summary>One host thread runs every vCPU in turn (-accel tcg,thread=single).</summary>
    Single,
}

/// <summary>How the image is attached to the guest.</summary>
public enum QemuDisk
{
    VirtioBlk,
    Sd,
}

public enum QemuRequirement
{
    Kernel,
    Dtb,
}
