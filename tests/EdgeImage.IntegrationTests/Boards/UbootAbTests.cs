using System.Diagnostics;
using EdgeImage.Boot;
using EdgeImage.IntegrationTests.Image;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>
/// The image's own boot.scr, run by a real U-Boot: Debian's rpi U-Boot prints nothing under QEMU's
/// raspi2b (README, "Limits"), so Debian's qemu_arm U-Boot (package u-boot-qemu) runs it on QEMU's
/// virt machine, with the rpi-armv7 image as a virtio disk. The script, the counters on the FAT,
/// the armmp kernel and the image's root are the image's; U-Boot's board and the machine are not.
/// </summary>
[Trait("Category", "qemu")]
[Trait("Suite", "boards")]
public sealed class UbootAbTests
{
    private const string Uboot = "/usr/lib/u-boot/qemu_arm/u-boot.bin";

    /// <summary>Three failed attempts at slot A (kernel, initramfs, reboot) and a boot of B, under TCG on a loaded two-core host.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(15);

    [Fact]
    public async Task Uboot_falls_back_to_slot_b_after_slot_a_failed_three_times_and_the_good_boot_restores_b_counter()
    {
        Assert.True(File.Exists(Uboot), $"{Uboot} is missing: apt-get install u-boot-qemu");
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
        File.Copy(Uboot, flash0, overwrite: true);
        var flash1 = Path.Combine(work, "flash1.img");
        foreach (var flash in new[] { flash0, flash1 })
        {
            await using var f = new FileStream(flash, FileMode.OpenOrCreate, FileAccess.Write);
            f.SetLength(64L << 20);
        }
        var log = Path.Combine(work, "console.log");

        // The boot-check unit powers the guest off once slot B is up and marked good; QEMU then exits.
        var (console, exitCode) = await HeavyWork.RunAsync(() => RunUntilExitAsync(
            ["-M", "virt", "-cpu", "cortex-a15", "-m", "1024", "-nographic", "-monitor", "none", "-serial", "file:" + log,
             "-drive", $"if=pflash,unit=0,format=raw,file={flash0}", "-drive", $"if=pflash,unit=1,format=raw,file={flash1}",
             "-drive", $"if=none,format=raw,id=d,file={disk}", "-device", "virtio-blk-device,drive=d"],
            log, Timeout));

        var attempts = console.Split('\n').Where(l => l.StartsWith("edgeimage: booting slot", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
        Assert.True(attempts.SequenceEqual(["edgeimage: booting slot a", "edgeimage: booting slot a", "edgeimage: booting slot a", "edgeimage: booting slot b"]),
            $"attempts: {string.Join(", ", attempts)}; QEMU exit {exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none (stopped at the time limit)"}; console in {log}");
        // U-Boot spent one of B's tries before starting it ...
        Assert.Contains($"edgeimage: slot B, {RaspberryPiBoard.BootTries - 1} tries left after this one", console, StringComparison.Ordinal);
        Assert.Contains("edgeimage-initrd: switching to systemd on /dev/vda3", console, StringComparison.Ordinal);
        var check = BootCheck.Find(console);
        Assert.True(check is not null, $"slot B never reported from multi-user; console in {log}");
        Assert.Equal("active", check["multi-user"]);
        Assert.Equal("ro", check["root"]);
        Assert.Equal(0, exitCode);
        // ... and the good boot gave it back, while A stays spent. U-Boot's `env export -t` writes the
        // variables sorted with a NUL at the end; edgeimage-u-boot-mark-good drops the NUL and puts the
        // booted slot's line last.
        Assert.Equal($"BOOT_A_LEFT=0\nBOOT_ORDER=A B\nBOOT_B_LEFT={RaspberryPiBoard.BootTries}\n", StateOf(image, disk, work));
    }

    /// <summary>The A/B counters on the boot partition of the booted disk.</summary>
    private static string StateOf(BoardImage image, string disk, string work)
    {
        var fat = image.ExtractPartition("boot", Path.Combine(work, "boot.fat"), fromDisk: disk);
        return TrixieDebs.Run("mtype", "-i", fat, "::" + RaspberryPiBoard.StateFile);
    }

    /// <summary>Runs QEMU until it exits or the time limit; the console without systemd's colour codes, and QEMU's exit code when it ended by itself.</summary>
    private static async Task<(string Console, int? ExitCode)> RunUntilExitAsync(IReadOnlyList<string> arguments, string log, TimeSpan timeout)
    {
        using var qemu = Process.Start(new ProcessStartInfo("qemu-system-arm", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        _ = qemu.StandardOutput.ReadToEndAsync();
        _ = qemu.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(timeout);
        int? exitCode;
        try
        {
            await qemu.WaitForExitAsync(limit.Token);
            exitCode = qemu.ExitCode;
        }
        catch (OperationCanceledException)
        {
            qemu.Kill(entireProcessTree: true);
            await qemu.WaitForExitAsync();
            exitCode = null;
        }
        var text = File.Exists(log) ? await File.ReadAllTextAsync(log) : "";
        return (System.Text.RegularExpressions.Regex.Replace(text, @"\x1b\[[0-9;]*m", ""), exitCode);
    }
}
