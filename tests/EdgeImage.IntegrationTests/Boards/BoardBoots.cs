using EdgeImage.Boot;
using EdgeImage.IntegrationTests.Image;
using EdgeImage.Profiles;
using EdgeImage.Qemu;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>
/// A board's boot-check image booted twice from one disk, each boot until the boot-check unit
/// powered the guest off (or the time limit): the first boot creates the data file system and
/// writes a file under /var, the second must find it. Each board is its own xunit collection, so
/// the boards boot in parallel, two at a time (<see cref="HeavyWork"/>).
/// </summary>
public abstract class BoardBootsFixture(string profile) : IAsyncLifetime
{
    public string Profile => profile;

    public BoardImage Image { get; private set; } = null!;

    public DiskBoot First { get; private set; } = null!;

    /// <summary>Null when the first boot did not report (nothing to build on).</summary>
    public DiskBoot? Second { get; private set; }

    /// <summary>The per-boot limit: TCG on a two-core host that also builds and boots other images.</summary>
    protected abstract TimeSpan BootTimeout { get; }

    public async Task InitializeAsync()
    {
        Image = await BoardImages.GetAsync(profile);
        var work = BoardImages.Work(profile + "-boots");
        var first = Path.Combine(work, "first-boot.img");
        First = await BootAsync(first, async () =>
        {
            TrixieDebs.Run("cp", "--sparse=always", Image.ImagePath, first);
            await PrepareDiskAsync(first, work);
        });
        if (First.Check is null)
        {
            return;
        }
        var second = Path.Combine(work, "second-boot.img");
        Second = await BootAsync(second, () =>
        {
            TrixieDebs.Run("cp", "--sparse=always", first, second);
            return Task.CompletedTask;
        });
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Makes the copied disk bootable on the QEMU machine and takes what a direct boot needs from it.</summary>
    protected virtual Task PrepareDiskAsync(string disk, string work) => Task.CompletedTask;

    protected abstract QemuRunRequest Request(string disk);

    /// <summary>
    /// How long a boot may print nothing before it counts as an emulator stall. QEMU's raspi
    /// machines were seen to stop for good (every vCPU thread asleep, no console output for ten
    /// minutes, README "Troubleshooting"); a healthy boot of the slowest board, on a loaded host,
    /// prints something at least every two to three minutes.
    /// </summary>
    private static readonly TimeSpan StallLimit = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Boots a disk made by <paramref name="makeDisk"/>. A boot that stalls is not the image's
    /// failure: it is reported in the console log and tried once more on a fresh copy; a second
    /// stall, or any other failure, stands.
    /// </summary>
    private async Task<DiskBoot> BootAsync(string disk, Func<Task> makeDisk)
    {
        var notes = "";
        for (var attempt = 1; ; attempt++)
        {
            await makeDisk();
            var console = new WatchedWriter();
            using var hardStop = new CancellationTokenSource(BootTimeout + TimeSpan.FromMinutes(1));
            using var stalled = new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(hardStop.Token, stalled.Token);
            using var watchdog = new Timer(_ =>
            {
                if (console.Silence >= StallLimit)
                {
                    stalled.Cancel();
                }
            }, null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
            QemuRunResult? result = null;
            try
            {
                result = await HeavyWork.RunAsync(() => new QemuRunner().RunAsync(Request(disk) with
                {
                    Timeout = BootTimeout,
                    // The initramfs reboots when it cannot mount the root: end the run instead of looping.
                    NoReboot = true,
                    SerialEcho = TextWriter.Synchronized(console),
                }, NullBuildLog.Instance, linked.Token));
            }
            catch (OperationCanceledException) when (stalled.IsCancellationRequested)
            {
            }
            var text = notes + console.ToString();
            if (result is null)
            {
                notes = text + $"\n[test: attempt {attempt}: no console output for {StallLimit.TotalMinutes:0} minutes: QEMU's emulation stalled; {(attempt == 1 ? "booting a fresh copy once more" : "giving up")}]\n";
                if (attempt == 1)
                {
                    continue;
                }
                await File.WriteAllTextAsync(disk + ".console.log", notes);
                throw new TimeoutException($"{Path.GetFileName(disk)}: QEMU's emulation stalled twice (no console output for {StallLimit.TotalMinutes:0} minutes); console in {disk}.console.log");
            }
            // The log keeps a stalled attempt; the tests read only the boot that ran to its end.
            await File.WriteAllTextAsync(disk + ".console.log", text);
            return new DiskBoot(disk, console.ToString(), result);
        }
    }

    /// <summary>The console of a boot, and how long ago it last printed.</summary>
    private sealed class WatchedWriter : StringWriter
    {
        private long _last = System.Diagnostics.Stopwatch.GetTimestamp();

        public TimeSpan Silence => System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _last));

        public override void Write(char value)
        {
            base.Write(value);
            Interlocked.Exchange(ref _last, System.Diagnostics.Stopwatch.GetTimestamp());
        }

        public override void Write(char[] buffer, int index, int count)
        {
            base.Write(buffer, index, count);
            Interlocked.Exchange(ref _last, System.Diagnostics.Stopwatch.GetTimestamp());
        }

        public override void Write(string? value)
        {
            base.Write(value);
            Interlocked.Exchange(ref _last, System.Diagnostics.Stopwatch.GetTimestamp());
        }
    }
}

/// <summary>generic-aarch64 from its disk through AAVMF and systemd-boot on QEMU virt (Cortex-A57).</summary>
public sealed class GenericAarch64Boots() : BoardBootsFixture("generic-aarch64")
{
    protected override TimeSpan BootTimeout => TimeSpan.FromMinutes(10);

    protected override QemuRunRequest Request(string disk) => new() { ImagePath = disk, Board = "generic-efi-aarch64" };
}

/// <summary>
/// A Pi image booted directly: QEMU cannot run the Pi's GPU firmware and Debian's rpi U-Boot prints
/// nothing under QEMU's raspi machines (README, "Limits"), so QEMU starts the kernel, initramfs and
/// device tree read from the image's own boot partition, with the command line boot.scr gives slot
/// A, and the kernel finds its root, data and boot partitions on the image as the SD card.
/// </summary>
public abstract class RaspberryPiBoots(string profile, string board, string dtb, string qemuConsole) : BoardBootsFixture(profile)
{
    /// <summary>
    /// QEMU's raspi machines are the slowest here (four emulated cores, SD card by emulated DMA): on
    /// a busy two-core host, journald and first-boot units were seen to exceed systemd's 90 s start
    /// limit and be killed, which fails the "no failed unit" check for the host's load, not the image.
    /// </summary>
    private const string SlowMachine = " systemd.default_timeout_start_sec=600";

    private string _work = "";

    protected override async Task PrepareDiskAsync(string disk, string work)
    {
        _work = work;
        var fat = Image.ExtractPartition("boot", Path.Combine(work, "boot.fat"));
        foreach (var file in new[] { "a/vmlinuz", "a/initrd.img", dtb })
        {
            TrixieDebs.Run("mcopy", "-o", "-i", fat, "::" + file, Path.Combine(work, Path.GetFileName(file)));
        }
        // QEMU takes only SD cards of a power-of-two size; the image stays compact and its copy is
        // padded (a hole: nothing is written). The initramfs grows the data partition into it.
        await using var card = new FileStream(disk, FileMode.Open, FileAccess.ReadWrite);
        card.SetLength(1L << (int)(64 - long.LeadingZeroCount(card.Length - 1)));
    }

    protected override QemuRunRequest Request(string disk)
    {
        var loaded = new ProfileCatalog(Path.Combine(Cli.RepositoryRoot, "profiles"), "the checkout").Load(Profile);
        return new QemuRunRequest
        {
            ImagePath = disk,
            Board = board,
            Kernel = Path.Combine(_work, "vmlinuz"),
            Initrd = Path.Combine(_work, "initrd.img"),
            Dtb = Path.Combine(_work, Path.GetFileName(dtb)),
            Append = RaspberryPiBoard.SlotCommandLine(loaded, Image.DiskId, "a") + qemuConsole + SlowMachine,
        };
    }
}

/// <summary>rpi-armv7 on QEMU's raspi2b (Cortex-A7, bcm2835 sdhost SD card).</summary>
public sealed class RpiArmv7Boots() : RaspberryPiBoots("rpi-armv7", "rpi-armv7", "bcm2836-rpi-2-b.dtb", "")
{
    protected override TimeSpan BootTimeout => TimeSpan.FromMinutes(12);
}

/// <summary>
/// rpi4-aarch64 on QEMU's raspi3b (Cortex-A53), the nearest model QEMU has. The profile's console
/// is the Pi 3/4's mini UART (ttyS1); QEMU's first serial port is the PL011, so it is added.
/// </summary>
public sealed class Rpi4Aarch64Boots() : RaspberryPiBoots("rpi4-aarch64", "rpi4-aarch64", "bcm2837-rpi-3-b.dtb", " console=ttyAMA0,115200")
{
    protected override TimeSpan BootTimeout => TimeSpan.FromMinutes(12);
}
