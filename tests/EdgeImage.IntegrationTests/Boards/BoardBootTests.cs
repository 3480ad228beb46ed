using EdgeImage.Boot;
using EdgeImage.IntegrationTests.Image;
using EdgeImage.Qemu;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>
/// What every board must show when its image boots in QEMU, judged by the line the boot-check unit
/// printed (tests/EdgeImage.IntegrationTests/overlays/boot-check). The boots run once per board in
/// its fixture; the derived classes bind the tests to a board.
/// </summary>
[Trait("Category", "qemu")]
[Trait("Suite", "boards")]
public abstract class BoardBootTests(BoardBootsFixture boots, ITestOutputHelper output)
{
    [Fact]
    public void First_boot_reaches_multi_user_on_a_read_only_squashfs_root_with_writable_var_and_etc()
    {
        var boot = Report(boots.First);

        Assert.IsType<BootCheck>(boot.Check).AssertFirstBootState();
        Assert.Contains("edgeimage-initrd: creating the data file system", boot.Console, StringComparison.Ordinal);
        AssertPoweredOff(boot);
    }

    [Fact]
    public void A_file_written_to_var_on_the_first_boot_is_still_there_on_the_second_boot()
    {
        var boot = Report(Assert.IsType<DiskBoot>(boots.Second));

        var check = Assert.IsType<BootCheck>(boot.Check);
        check.AssertSecondBootState();
        Assert.Equal("none", check["failed"]);
        Assert.DoesNotContain("edgeimage-initrd: creating the data file system", boot.Console, StringComparison.Ordinal);
        AssertPoweredOff(boot);
    }

    protected static void AssertPoweredOff(DiskBoot boot) =>
        Assert.True(boot.Result.ExitReason == QemuExitReason.QemuExited && boot.Result.QemuExitCode == 0,
            $"the guest should power itself off after reporting: {boot}");

    protected DiskBoot Report(DiskBoot boot)
    {
        output.WriteLine($"{boots.Profile}: image built in {boots.Image.BuildTime.TotalSeconds:0}s");
        output.WriteLine($"{Path.GetFileName(boot.Disk)}: {boot.Result.ExitReason} after {boot.Result.Elapsed.TotalSeconds:0}s");
        output.WriteLine(boot.Check?.Line ?? "(no boot-check line)");
        Assert.True(boot.Check is not null, $"the boot-check unit never reported: {boot}");
        return boot;
    }
}

[CollectionDefinition(Name)]
public sealed class GenericAarch64BootsCollection : ICollectionFixture<GenericAarch64Boots>
{
    public const string Name = "generic-aarch64 boots";
}

/// <summary>generic-aarch64: AAVMF -> systemd-boot -> slot A on QEMU virt (Cortex-A57), from the disk alone.</summary>
[Trait("Suite", "boards")]
[Collection(GenericAarch64BootsCollection.Name)]
public sealed class GenericAarch64BootTests(GenericAarch64Boots boots, ITestOutputHelper output) : BoardBootTests(boots, output)
{
    [Fact]
    public void Systemd_boot_started_slot_a_from_the_disk()
    {
        var boot = Report(boots.First);

        Assert.Contains("edgeimage-initrd: booting slot a", boot.Console, StringComparison.Ordinal);
        Assert.Contains("edgeimage-initrd: switching to systemd on /dev/vda2", boot.Console, StringComparison.Ordinal);
    }
}

/// <summary>Direct boots of a Pi image and what they leave on its boot partition.</summary>
public abstract class RaspberryPiBootTests(RaspberryPiBoots boots, ITestOutputHelper output) : BoardBootTests(boots, output)
{
    [Fact]
    public void The_booted_slot_is_marked_good_in_the_counters_on_the_boot_partition()
    {
        var boot = Report(Assert.IsType<DiskBoot>(boots.Second));
        var fat = boots.Image.ExtractPartition("boot", boot.Disk + ".boot.fat", fromDisk: boot.Disk);

        // The image starts with both slots at the limit; edgeimage-u-boot-mark-good rewrote the file
        // (the booted slot's line last), which only a unit that mounted the boot FAT can have done.
        Assert.Equal(RaspberryPiBoard.InitialState, TrixieDebs.Run("mtype", "-i", boots.Image.ExtractPartition("boot", boot.Disk + ".image-boot.fat"), "::" + RaspberryPiBoard.StateFile));
        Assert.Equal($"BOOT_ORDER=A B\nBOOT_B_LEFT={RaspberryPiBoard.BootTries}\nBOOT_A_LEFT={RaspberryPiBoard.BootTries}\n",
            TrixieDebs.Run("mtype", "-i", fat, "::" + RaspberryPiBoard.StateFile));
    }
}

[CollectionDefinition(Name)]
public sealed class RpiArmv7BootsCollection : ICollectionFixture<RpiArmv7Boots>
{
    public const string Name = "rpi-armv7 boots";
}

/// <summary>rpi-armv7's kernel, initramfs and Pi 2 device tree on QEMU's raspi2b, root and data on the SD card.</summary>
[Trait("Suite", "boards")]
[Collection(RpiArmv7BootsCollection.Name)]
public sealed class RpiArmv7BootTests(RpiArmv7Boots boots, ITestOutputHelper output) : RaspberryPiBootTests(boots, output);

[CollectionDefinition(Name)]
public sealed class Rpi4Aarch64BootsCollection : ICollectionFixture<Rpi4Aarch64Boots>
{
    public const string Name = "rpi4-aarch64 boots";
}

/// <summary>
/// rpi4-aarch64's kernel, initramfs and Pi 3 device tree on QEMU's raspi3b, root and data on the SD card.
/// QEMU runs raspi3b's four vCPUs in one TCG thread (qemu/rpi4-aarch64.yaml says why).
/// </summary>
[Trait("Suite", "boards")]
[Collection(Rpi4Aarch64BootsCollection.Name)]
public sealed class Rpi4Aarch64BootTests(Rpi4Aarch64Boots boots, ITestOutputHelper output) : RaspberryPiBootTests(boots, output);
