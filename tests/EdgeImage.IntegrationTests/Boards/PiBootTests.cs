using System.Diagnostics;
using EdgeImage.Boot;
using EdgeImage.Profiles;
using EdgeImage.Qemu;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>
/// The Pi images booted in QEMU. QEMU cannot run the Pi's GPU firmware, and Debian's rpi U-Boot
/// prints nothing under raspi2b (ARCHITECTURE.md), so the raspi boots start the image's own kernel,
/// initramfs and device tree directly with the command line boot.scr would give, from the image's
/// SD card; the U-Boot A/B script is booted by Debian's qemu_arm U-Boot on the virt machine.
/// </summary>
[Trait("Category", "qemu")]
// Run by `make test-boards`, not by `make test`: these builds and boots are not yet proven to fit CI.
[Trait("Suite", "boards")]
public sealed partial class PiBootTests
{
    /// <summary>raspi2b on a loaded two-core host took 377 s to reach multi-user.</summary>
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(12);

    private const string MultiUser = "Reached target multi-user.target";

    [Theory]
    [InlineData("rpi-armv7", "rpi-armv7", "bcm2836-rpi-2-b.dtb", "")]
    // The profile's console is the Pi 3/4's mini UART (ttyS1); QEMU's first serial port is the PL011.
    [InlineData("rpi4-aarch64", "rpi4-aarch64", "bcm2837-rpi-3-b.dtb", " console=ttyAMA0,115200")]
    public async Task Pi_image_boots_its_kernel_to_multi_user_from_a_read_only_squashfs_root_in_qemu(string profile, string board, string dtb, string qemuConsole)
    {
        var image = await BoardImages.GetAsync(profile);
        var work = BoardImages.Work(profile + "-boot");
        var fat = image.ExtractPartition("boot", Path.Combine(work, "boot.fat"));
        foreach (var file in new[] { "a/vmlinuz", "a/initrd.img", dtb })
        {
            TrixieDebs.Run("mcopy", "-o", "-i", fat, "::" + file, Path.Combine(work, Path.GetFileName(file)));
        }
        // QEMU takes only SD cards of a power-of-two size; the image stays compact and a sparse copy is padded.
        var sd = Path.Combine(work, "sd.img");
        TrixieDebs.Run("cp", "--sparse=always", image.ImagePath, sd);
        await using (var card = new FileStream(sd, FileMode.Open, FileAccess.ReadWrite))
        {
            card.SetLength(1L << (int)(64 - long.LeadingZeroCount(card.Length - 1)));
        }
        var loaded = new ProfileCatalog(Path.Combine(Cli.RepositoryRoot, "profiles"), "the checkout").Load(profile);
        var console = new StringWriter();

        var result = await new QemuRunner().RunAsync(new QemuRunRequest
        {
            ImagePath = sd,
            Board = board,
            Kernel = Path.Combine(work, "vmlinuz"),
            Initrd = Path.Combine(work, "initrd.img"),
            Dtb = Path.Combine(work, Path.GetFileName(dtb)),
            Append = RaspberryPiBoard.SlotCommandLine(loaded, image.DiskId, "a") + qemuConsole,
            // The watcher sees the raw console, where colour codes split "Reached target" from the unit name.
            Expects = ["switching to systemd on /dev/mmcblk0p2", "multi-user.target"],
            Timeout = BootTimeout,
            NoReboot = true,
            SerialEcho = TextWriter.Synchronized(console),
        }, NullBuildLog.Instance);

        await File.WriteAllTextAsync(Path.Combine(work, "console.log"), console.ToString());
        Assert.True(result.ExitReason == QemuExitReason.Expected, $"{profile}: {result.ExitReason} after {result.Elapsed.TotalSeconds:0}s; console in {work}/console.log:\n{string.Join('\n', result.LastLines)}");
    }

    [Fact]
    public async Task Uboot_script_falls_back_to_slot_b_after_slot_a_fails_three_times()
    {
        const string uboot = "/usr/lib/u-boot/qemu_arm/u-boot.bin";
        Assert.True(File.Exists(uboot), $"{uboot} is missing: apt-get install u-boot-qemu");
        var image = await BoardImages.GetAsync("rpi-armv7");
        var work = BoardImages.Work("rpi-armv7-ab");
        var disk = Path.Combine(work, "ab.img");
        TrixieDebs.Run("cp", "--sparse=always", image.ImagePath, disk);
        // Slot B gets the root an update would have put there (a build fills slot A only); then slot A
        // becomes unbootable: its squashfs superblock is gone, so the initramfs cannot mount it and reboots.
        var root = image.ExtractPartition("root-a", Path.Combine(work, "root-a.sqfs"));
        await using (var file = new FileStream(disk, FileMode.Open, FileAccess.Write))
        {
            file.Position = image.Partition("root-b").GetProperty("offset").GetInt64();
            await using (var source = File.OpenRead(root))
            {
                await source.CopyToAsync(file);
            }
            file.Position = image.Partition("root-a").GetProperty("offset").GetInt64();
            file.Write(new byte[1 << 20]);
        }
        // qemu_arm U-Boot runs from pflash, which QEMU wants as 64 MiB files.
        var flash0 = Path.Combine(work, "flash0.img");
        File.Copy(uboot, flash0, overwrite: true);
        var flash1 = Path.Combine(work, "flash1.img");
        foreach (var flash in new[] { flash0, flash1 })
        {
            await using var f = new FileStream(flash, FileMode.OpenOrCreate, FileAccess.Write);
            f.SetLength(64L << 20);
        }
        var log = Path.Combine(work, "console.log");

        var console = await RunUntilAsync(
            ["-M", "virt", "-cpu", "cortex-a15", "-m", "1024", "-nographic", "-monitor", "none", "-serial", "file:" + log,
             "-drive", $"if=pflash,unit=0,format=raw,file={flash0}", "-drive", $"if=pflash,unit=1,format=raw,file={flash1}",
             "-drive", $"if=none,format=raw,id=d,file={disk}", "-device", "virtio-blk-device,drive=d"],
            log, text => text.Contains(MultiUser, StringComparison.Ordinal) || text.Contains("no slot has tries left", StringComparison.Ordinal),
            TimeSpan.FromMinutes(25));

        var attempts = console.Split('\n').Where(l => l.StartsWith("edgeimage: booting slot", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
        Assert.True(attempts.SequenceEqual(["edgeimage: booting slot a", "edgeimage: booting slot a", "edgeimage: booting slot a", "edgeimage: booting slot b"]),
            $"attempts: {string.Join(", ", attempts)}; console in {log}");
        Assert.Contains("edgeimage-initrd: switching to systemd on /dev/vda3", console, StringComparison.Ordinal);
        Assert.Contains(MultiUser, console, StringComparison.Ordinal);
        // U-Boot's `env export -t` writes the variables sorted, with a NUL after the last line.
        Assert.Equal($"BOOT_A_LEFT=0\nBOOT_B_LEFT={RaspberryPiBoard.BootTries - 1}\nBOOT_ORDER=A B\n",
            StateOf(image, disk, work));
    }

    /// <summary>The A/B counters the script saved on the boot partition.</summary>
    private static string StateOf(BoardImage image, string disk, string work)
    {
        var fat = image.ExtractPartition("boot", Path.Combine(work, "boot.fat"), fromDisk: disk);
        return TrixieDebs.Run("mtype", "-i", fat, "::" + RaspberryPiBoard.StateFile).Replace("\0", "", StringComparison.Ordinal);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial System.Text.RegularExpressions.Regex Colours();

    private static async Task<string> RunUntilAsync(IReadOnlyList<string> arguments, string log, Func<string, bool> done, TimeSpan timeout)
    {
        using var qemu = Process.Start(new ProcessStartInfo("qemu-system-arm", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var clock = Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed < timeout && !qemu.HasExited)
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
                if (File.Exists(log) && done(Colours().Replace(await File.ReadAllTextAsync(log), "")))
                {
                    break;
                }
            }
        }
        finally
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
                await qemu.WaitForExitAsync();
            }
        }
        // systemd colours its status lines: "Reached target ESC[0;1;39mmulti-user.targetESC[0m".
        return File.Exists(log) ? Colours().Replace(await File.ReadAllTextAsync(log), "") : "";
    }
}
