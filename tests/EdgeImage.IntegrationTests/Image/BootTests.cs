using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Image;

[CollectionDefinition(Name)]
public sealed class ImageBootsCollection : ICollectionFixture<ImageBootsFixture>
{
    public const string Name = "image boots";
}

/// <summary>
/// The shared generic-x86_64 image booted in QEMU (q35 + OVMF): first boot, second boot of the
/// same disk, and a boot after the disk grew. The boots themselves run once in
/// <see cref="ImageBootsFixture"/>; each test judges one of them by the line the boot-check unit
/// printed and by what the initramfs logged.
/// </summary>
[Trait("Category", "qemu")]
[Collection(ImageBootsCollection.Name)]
public sealed class BootTests(ImageBootsFixture boots, ITestOutputHelper output)
{
    private const string CreatesDataFs = "edgeimage-initrd: creating the data file system";
    private const string GrowsPartition = "edgeimage-initrd: growing data partition";
    private const string LoadsEveryModule = "edgeimage-initrd: partition not found after 5 s; loading every initramfs module";
    private const string GrowsFs = "edgeimage-initrd: data file system grown";

    [Fact]
    public void First_boot_reaches_multi_user_on_a_read_only_squashfs_root_with_writable_var_and_etc()
    {
        var boot = Report(boots.First);

        Assert.Contains("Reached target", boot.Console);
        Assert.Contains("multi-user.target", boot.Console);
        Assert.IsType<BootCheck>(boot.Check).AssertFirstBootState();
        AssertPoweredOff(boot);
    }

    [Fact]
    public void The_initramfs_init_runs_without_a_shell_error_on_any_boot()
    {
        // busybox sh reports its own errors as "/init: line N: ..."; init's messages all carry
        // the edgeimage-initrd prefix, so any such line is a defect of the script, not the disk.
        foreach (var boot in new[] { boots.First, boots.Second, boots.Grown }.OfType<DiskBoot>())
        {
            var errors = Regex.Matches(boot.Console, @"^.*/init: line \d+:.*$", RegexOptions.Multiline).Select(m => m.Value.Trim()).ToList();
            Assert.True(errors.Count == 0, $"{boot.Disk}: init printed shell errors:\n{string.Join('\n', errors)}");
        }
    }

    [Fact]
    public void The_image_data_partition_starts_with_the_fresh_data_marker_of_its_disk()
    {
        // What lets the first boot format the partition even when the image was written with
        // bmaptool or dd conv=sparse over a used card: the marker, not zeros.
        var data = boots.Image.Partition("data");
        var start = new byte[EdgeImage.Boot.BoardDisk.DataMarkerSize];
        using (var image = File.OpenRead(boots.Image.ImagePath))
        {
            image.Position = data.Offset;
            image.ReadExactly(start);
        }
        Assert.Equal(EdgeImage.Boot.BoardDisk.DataMarker(boots.Image.Manifest.DiskGuid), start);
        // No digest: the partition is the device's own after the first boot, and hashing its zeros
        // would cost every build a second.
        Assert.Null(data.Sha256);
    }

    [Fact]
    public void First_boot_creates_the_data_file_system_across_the_whole_data_partition()
    {
        var boot = Report(boots.First);

        Assert.Contains(CreatesDataFs, boot.Console);
        Assert.DoesNotContain(GrowsPartition, boot.Console);
        // The virtio disk's driver came from the modalias table, not from the load-everything fallback.
        Assert.DoesNotContain(LoadsEveryModule, boot.Console);
        var check = Assert.IsType<BootCheck>(boot.Check);
        var partition = boots.Image.Partition("data").Size;
        Assert.Equal(partition, check.Bytes("data-part"));
        // ext4 keeps a few percent for its own metadata; the rest of the partition is usable.
        Assert.InRange(check.Bytes("data-fs"), partition * 9 / 10, partition);
    }

    [Fact]
    public void A_file_written_to_var_on_the_first_boot_is_still_there_on_the_second_boot()
    {
        var boot = Report(Assert.IsType<DiskBoot>(boots.Second));

        var check = Assert.IsType<BootCheck>(boot.Check);
        check.AssertSecondBootState();
        Assert.Equal(boots.First.Check!.Bytes("data-fs"), check.Bytes("data-fs"));
        Assert.DoesNotContain(CreatesDataFs, boot.Console);
        Assert.DoesNotContain(GrowsPartition, boot.Console);
        AssertPoweredOff(boot);
    }

    [Fact]
    public void On_a_larger_disk_the_data_partition_and_its_existing_file_system_grow_and_keep_their_files()
    {
        var boot = Report(Assert.IsType<DiskBoot>(boots.Grown));
        var before = boots.First.Check!;

        Assert.Contains(GrowsPartition, boot.Console);
        Assert.Contains(GrowsFs, boot.Console);
        Assert.DoesNotContain(CreatesDataFs, boot.Console);
        var check = Assert.IsType<BootCheck>(boot.Check);
        Assert.Equal("2", check["boot"]);
        Assert.Equal("kept-from-boot-1", check["var-file"]);
        // The partition takes all the new space, plus the MiB the image keeps free at its end when
        // sfdisk does not align the new end ...
        Assert.InRange(check.Bytes("data-part") - before.Bytes("data-part"), ImageBootsFixture.GrowBy, ImageBootsFixture.GrowBy + (1 << 20));
        // ... and the file system grew with it instead of being made anew.
        Assert.InRange(check.Bytes("data-fs") - before.Bytes("data-fs"), ImageBootsFixture.GrowBy * 95 / 100, ImageBootsFixture.GrowBy + (1 << 20));
        AssertPoweredOff(boot);

        // The guest rewrote the partition table: a host tool must find it whole, with the backup
        // header moved to the new end of the disk and the data partition ending before it.
        TrixieDebs.Run("sfdisk", "--verify", boot.Disk);
        var table = JsonNode.Parse(TrixieDebs.Run("sfdisk", "--json", boot.Disk))!["partitiontable"]!;
        var lastLba = table["lastlba"]!.GetValue<long>();
        Assert.Equal(boots.GrownDiskSize / 512 - 34, lastLba);
        var data = table["partitions"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "data")!;
        Assert.Equal(check.Bytes("data-part") / 512, data["size"]!.GetValue<long>());
        Assert.True(data["start"]!.GetValue<long>() + data["size"]!.GetValue<long>() - 1 <= lastLba);
    }

    private static void AssertPoweredOff(DiskBoot boot)
    {
        Assert.True(boot.Result.ExitReason == EdgeImage.Qemu.QemuExitReason.QemuExited && boot.Result.QemuExitCode == 0,
            $"the guest should power itself off after reporting: {boot}");
    }

    private DiskBoot Report(DiskBoot boot)
    {
        output.WriteLine($"image built by uid {boots.Image.BuilderUid} in {boots.Image.Elapsed.TotalSeconds:0}s");
        output.WriteLine($"{Path.GetFileName(boot.Disk)}: {boot.Result.ExitReason} after {boot.Result.Elapsed.TotalSeconds:0}s");
        foreach (var line in boot.Console.Split('\n').Where(l => l.Contains("edgeimage-initrd:", StringComparison.Ordinal) && !l.StartsWith('[')))
        {
            output.WriteLine("  | " + line.TrimEnd());
        }
        output.WriteLine(boot.Check?.Line ?? "(no boot-check line)");
        Assert.True(boot.Check is not null, $"the boot-check unit never reported: {boot}");
        return boot;
    }
}
