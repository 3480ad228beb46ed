using EdgeImage.Qemu;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>
/// The UEFI A/B fallback on the generic-x86_64 image, end to end in QEMU (q35 + OVMF): slot B holds
/// the root an update would have written there, and slot A cannot boot (its squashfs superblock is
/// gone, so the initramfs cannot mount it and reboots). systemd-boot must count down slot A's tries
/// on the ESP and then boot slot B, which comes up and powers off (the boot-check unit).
/// </summary>
[Trait("Category", "qemu")]
public sealed class EfiAbFallbackTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>Three failed attempts (firmware, kernel, the initramfs's 10 s before it reboots) and a first boot of B, under TCG on a loaded two-core host.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(15);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-efi-ab-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task Systemd_boot_falls_back_to_slot_b_after_slot_a_failed_its_three_tries()
    {
        var image = await BootCheckImage.GetAsync();
        var disk = Path.Combine(_work.FullName, "ab.img");
        TrixieDebs.Run("cp", "--sparse=always", image.ImagePath, disk);
        var rootA = image.Partition("root-a");
        var rootB = image.Partition("root-b");
        await using (var file = new FileStream(disk, FileMode.Open, FileAccess.ReadWrite))
        {
            var root = new byte[image.Manifest.Sizes.Root];
            file.Position = rootA.Offset;
            file.ReadExactly(root);
            file.Position = rootB.Offset;
            file.Write(root);
            file.Position = rootA.Offset;
            file.Write(new byte[1 << 20]);
        }

        var console = new StringWriter();
        using var hardStop = new CancellationTokenSource(Timeout + TimeSpan.FromMinutes(1));
        // Reboots allowed: each failed attempt at A reboots into systemd-boot, which counts it.
        var result = await HeavyWork.RunAsync(() => new QemuRunner().RunAsync(new QemuRunRequest
        {
            ImagePath = disk,
            Board = ImageBootsFixture.Board,
            Timeout = Timeout,
            SerialEcho = TextWriter.Synchronized(console),
        }, NullBuildLog.Instance, hardStop.Token));
        var text = console.ToString();
        await File.WriteAllTextAsync(disk + ".console.log", text);
        var attempts = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("edgeimage-initrd: booting slot", StringComparison.Ordinal)).ToList();
        output.WriteLine(string.Join('\n', attempts));

        Assert.True(attempts.SequenceEqual(["edgeimage-initrd: booting slot a", "edgeimage-initrd: booting slot a", "edgeimage-initrd: booting slot a", "edgeimage-initrd: booting slot b"]),
            $"expected three attempts at slot A, then slot B; saw: {string.Join(", ", attempts)}\nlast console lines:\n  | {string.Join("\n  | ", result.LastLines)}");
        var check = BootCheck.Find(text);
        Assert.True(check is not null, $"slot B never reported up; last console lines:\n  | {string.Join("\n  | ", result.LastLines)}");
        Assert.True(result.ExitReason == QemuExitReason.QemuExited && result.QemuExitCode == 0, $"QEMU did not end with the guest's power-off: {result.ExitReason}");

        // On the ESP, slot A's entry has used up its tries; slot B's is not exhausted.
        var esp = Path.Combine(_work.FullName, "esp.fat");
        var espPartition = image.Partition("esp");
        await using (var source = File.OpenRead(disk))
        await using (var target = File.Create(esp))
        {
            source.Position = espPartition.Offset;
            var bytes = new byte[espPartition.Size];
            source.ReadExactly(bytes);
            target.Write(bytes);
        }
        var entries = TrixieDebs.Run("mdir", "-i", esp, "-b", "::/loader/entries");
        output.WriteLine(entries);
        Assert.Contains("edge-a+0-3.conf", entries);
        Assert.DoesNotContain("edge-b+0-", entries);
    }
}
