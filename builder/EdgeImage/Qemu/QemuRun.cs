namespace EdgeImage.Qemu;

/// <summary>One boot of an image (or of a kernel alone) in QEMU.</summary>
public sealed record QemuRunRequest
{
    /// <summary>The disk image; null for a direct-kernel boot without a disk.</summary>
    public string? ImagePath { get; init; }

    /// <summary>Board name (a file of qemu/); null to take it from the manifest next to the image.</summary>
    public string? Board { get; init; }

    /// <summary>Texts to wait for on the serial console, in this order; empty runs until QEMU exits.</summary>
    public IReadOnlyList<string> Expects { get; init; } = [];

    /// <summary>The single text to wait for; shorthand for <see cref="Expects"/> with one element.</summary>
    public string? Expect
    {
        get => Expects.Count == 0 ? null : Expects[^1];
        init => Expects = value is null ? [] : [value];
    }

    /// <summary>How long the whole run may take; null for no limit.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Forwards from the host into the guest, as QEMU's hostfwd spells them: "tcp:127.0.0.1:2222-:22".</summary>
    public IReadOnlyList<string> HostForwards { get; init; } = [];

    /// <summary>Forwards from the guest to the host, as QEMU's guestfwd spells them: "tcp:10.0.2.100:80-tcp:127.0.0.1:8080".</summary>
    public IReadOnlyList<string> GuestForwards { get; init; } = [];

    /// <summary>
    /// Further raw disks, attached ahead of the image on the board's disk bus: the guest lists them
    /// first (vda, ... before the image), like the internal disks of a machine that boots from a
    /// stick, while the firmware boots the image first. Only for boards with a disk bus (virtio), not
    /// an SD slot.
    /// </summary>
    public IReadOnlyList<string> ExtraDisks { get; init; } = [];

    /// <summary>Further -nic values passed verbatim, e.g. "socket,listen=127.0.0.1:40000,model=virtio-net-pci" to link two guests.</summary>
    public IReadOnlyList<string> ExtraNics { get; init; } = [];

    /// <summary>Kernel (or U-Boot) for a direct boot instead of the board's firmware.</summary>
    public string? Kernel { get; init; }

    public string? Initrd { get; init; }

    /// <summary>Kernel command line; null means "console=&lt;the board's serial console&gt;".</summary>
    public string? Append { get; init; }

    public string? Dtb { get; init; }

    /// <summary>Writes go to a temporary overlay, so the image is unchanged after the run.</summary>
    public bool Snapshot { get; init; }

    /// <summary>RAM; null for the board's default.</summary>
    public int? MemoryMiB { get; init; }

    /// <summary>Virtual CPUs; null for the board's default.</summary>
    public int? Smp { get; init; }

    /// <summary>Make a guest reboot end QEMU (useful with panic=-1); off so A/B tests can reboot within one run.</summary>
    public bool NoReboot { get; init; }

    /// <summary>Receives the serial console as it arrives (the terminal, a test's output).</summary>
    public TextWriter? SerialEcho { get; init; }

    /// <summary>
    /// Hands the terminal to QEMU (serial and monitor multiplexed on stdio, Ctrl-A X quits) instead of
    /// watching the console. No expects in this mode.
    /// </summary>
    public bool AttachTerminal { get; init; }
}

public enum QemuExitReason
{
    /// <summary>Every expected text appeared.</summary>
    Expected,

    Timeout,

    /// <summary>The guest printed "Kernel panic - not syncing".</summary>
    KernelPanic,

    /// <summary>QEMU ended by itself: the guest powered off, or QEMU failed to start.</summary>
    QemuExited,
}

public sealed record QemuRunResult
{
    /// <summary>All expects appeared; without expects, QEMU exited with 0 and the guest did not panic.</summary>
    public required bool Matched { get; init; }

    public required QemuExitReason ExitReason { get; init; }

    /// <summary>The last ~30 lines of the serial console, escape sequences removed.</summary>
    public required IReadOnlyList<string> LastLines { get; init; }

    /// <summary>What QEMU itself printed on stderr (errors about its arguments or files).</summary>
    public required IReadOnlyList<string> QemuErrors { get; init; }

    /// <summary>From starting QEMU to the match, the timeout, the panic or QEMU's exit.</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>How many of the expects appeared.</summary>
    public required int ExpectsMatched { get; init; }

    /// <summary>QEMU's exit code when it ended by itself; null when the runner stopped it.</summary>
    public int? QemuExitCode { get; init; }

    /// <summary>The command that was run, for reports and reproducing by hand.</summary>
    public required IReadOnlyList<string> CommandLine { get; init; }
}
