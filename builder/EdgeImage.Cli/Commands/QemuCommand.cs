using System.CommandLine;
using EdgeImage.Qemu;

namespace EdgeImage.Cli.Commands;

internal static class QemuCommand
{
    private const int DefaultTimeoutSeconds = 120;

    public static Command Create()
    {
        var image = new Argument<string?>("IMAGE")
        {
            Description = "Disk image to boot (its board is read from manifest.json beside it).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var board = new Option<string?>("--board") { Description = "QEMU machine to boot on: generic-efi-x86_64, generic-efi-aarch64, rpi-armv7, rpi4-aarch64." };
        var expect = new Option<string[]>("--expect")
        {
            Description = "Text the serial console must show; repeat for texts that must appear in order. Exit 0 when seen, 1 on timeout, kernel panic or QEMU exiting. Without it the console is attached to the terminal (Ctrl-A X quits).",
        };
        var timeout = new Option<int?>("--timeout") { Description = $"Seconds before giving up (default {DefaultTimeoutSeconds} with --expect, none without)." }.Positive();
        var kernel = new Option<string?>("--kernel") { Description = "Boot this kernel (or U-Boot) directly instead of the board's firmware." };
        var initrd = new Option<string?>("--initrd") { Description = "Initramfs for --kernel." };
        var append = new Option<string?>("--append") { Description = "Kernel command line for --kernel (default: console=<the board's serial console>)." };
        var dtb = new Option<string?>("--dtb") { Description = "Device tree for --kernel (required by the Raspberry Pi boards)." };
        var memory = new Option<int?>("--memory") { Description = "RAM in MiB (default: the board's)." }.Positive();
        var cpus = new Option<int?>("--smp") { Description = "Virtual CPUs (default: the board's; fixed on the Raspberry Pi models)." }.Positive();
        var forward = new Option<string[]>("--forward") { Description = "Host-to-guest forward in QEMU's hostfwd form, e.g. tcp:127.0.0.1:2222-:22; repeatable." };
        var guestForward = new Option<string[]>("--guest-forward")
        {
            Description = "Guest-to-host forward in QEMU's guestfwd form, e.g. tcp:10.0.2.100:6443-tcp:127.0.0.1:6443 (or -cmd:COMMAND for a command per connection); repeatable. The guest's network reaches nothing else.",
        };
        var snapshot = new Option<bool>("--snapshot") { Description = "Leave the image unchanged: the guest's writes go to a temporary overlay." };
        var disk = new Option<string[]>("--disk")
        {
            Description = "A further raw disk, attached ahead of the image (the guest lists it first, as a PC's internal disk beside the stick it boots from; the firmware still boots the image); repeatable; virtio boards only.",
        };

        var command = new Command("qemu", "Boot an image (or a kernel) in QEMU and watch its serial console.")
        {
            image, board, expect, timeout, kernel, initrd, append, dtb, memory, cpus, forward, guestForward, snapshot, disk,
        };
        command.SetAction(async (parsed, ct) =>
        {
            var verbose = parsed.GetValue(GlobalOptions.Verbose);
            var expects = parsed.GetValue(expect) ?? [];
            var attach = expects.Length == 0;
            var seconds = parsed.GetValue(timeout) ?? (attach ? null : DefaultTimeoutSeconds);
            var request = new QemuRunRequest
            {
                ImagePath = parsed.GetValue(image),
                Board = parsed.GetValue(board),
                Expects = expects,
                Timeout = seconds is { } s ? TimeSpan.FromSeconds(s) : null,
                Kernel = parsed.GetValue(kernel),
                Initrd = parsed.GetValue(initrd),
                Append = parsed.GetValue(append),
                Dtb = parsed.GetValue(dtb),
                MemoryMiB = parsed.GetValue(memory),
                Smp = parsed.GetValue(cpus),
                HostForwards = parsed.GetValue(forward) ?? [],
                GuestForwards = parsed.GetValue(guestForward) ?? [],
                Snapshot = parsed.GetValue(snapshot),
                ExtraDisks = parsed.GetValue(disk) ?? [],
                AttachTerminal = attach,
                SerialEcho = !attach && (verbose || !Console.IsOutputRedirected) ? Console.Out : null,
            };
            var log = new PlainBuildLog(Console.Error, verbose);
            var result = await new QemuRunner().RunAsync(request, log, ct);
            if (result.Matched)
            {
                return ExitCodes.Success;
            }
            Console.Error.WriteLine($"error: {Reason(result, expects)}");
            if (result.LastLines.Count > 0)
            {
                Console.Error.WriteLine("last lines of the serial console:");
                foreach (var line in result.LastLines)
                {
                    Console.Error.WriteLine("  | " + line);
                }
            }
            foreach (var line in result.QemuErrors)
            {
                Console.Error.WriteLine("  qemu: " + line);
            }
            return ExitCodes.Failure;
        });
        return command;
    }

    private static string Reason(QemuRunResult result, string[] expects) => result.ExitReason switch
    {
        QemuExitReason.Timeout when expects.Length > 0 =>
            $"timed out after {result.Elapsed.TotalSeconds:0}s waiting for '{expects[result.ExpectsMatched]}' ({result.ExpectsMatched} of {expects.Length} expected texts seen)",
        QemuExitReason.Timeout => $"timed out after {result.Elapsed.TotalSeconds:0}s",
        QemuExitReason.KernelPanic => $"the guest kernel panicked after {result.Elapsed.TotalSeconds:0.0}s",
        QemuExitReason.QemuExited when expects.Length > 0 =>
            $"QEMU exited (code {result.QemuExitCode}) after {result.Elapsed.TotalSeconds:0.0}s before '{expects[result.ExpectsMatched]}' appeared",
        _ => $"QEMU exited with code {result.QemuExitCode}",
    };
}
