namespace EdgeImage.Tests.Initramfs;

/// <summary>
/// The initramfs init's steps run in busybox sh against a fake sysfs and stand-in tools
/// (<see cref="InitScriptRig"/>). The QEMU boot tests (EdgeImage.IntegrationTests Image.BootTests)
/// run the same script on real disks; these cover what a VM does not easily show.
/// </summary>
public sealed class InitScriptTests : IDisposable
{
    private const long DataSectors = 32768;

    private readonly InitScriptRig _rig = new();

    public void Dispose() => _rig.Dispose();

    /// <summary>
    /// A disk as EfiBoard writes it (esp, root-a, root-b, data; 1 MiB before the first partition and
    /// after the last), <paramref name="extraSectors"/> larger when the image went to a larger disk.
    /// Partitions are named as the kernel names them: sda4, or nvme0n1p4 when the disk name ends in a digit.
    /// </summary>
    private void EfiDisk(string disk, string? ptuuid = null, long extraSectors = 0)
    {
        var end = 2048L;
        _rig.AddDisk(disk, 2048 + 2048 + 2 * 8192 + DataSectors + 2048 + extraSectors, ptuuid);
        foreach (var (name, sectors, number) in new[] { ("esp", 2048L, 1), ("root-a", 8192L, 2), ("root-b", 8192L, 3), ("data", DataSectors, 4) })
        {
            _rig.AddPartition(disk, Part(disk, number), number, end, sectors, partName: name);
            end += sectors;
        }
    }

    private static string Part(string disk, int number) => char.IsAsciiDigit(disk[^1]) ? $"{disk}p{number}" : $"{disk}{number}";

    [Fact]
    public void The_command_line_names_the_slot_and_the_partitions()
    {
        File.WriteAllText(Path.Combine(_rig.Root, "cmdline"), "console=ttyS0 edgeimage.slot=b ro edgeimage.root=PARTUUID=1234abcd-03 edgeimage.data=PARTUUID=1234abcd-04 quiet\n");

        var result = _rig.Run("""read_cmdline "$PWD/cmdline"; echo "$slot|$root_spec|$data_spec" """);

        Assert.Equal("b|PARTUUID=1234abcd-03|PARTUUID=1234abcd-04", result.Text.Trim());
    }

    [Fact]
    public void A_blank_data_partition_gets_an_ext4_file_system_labelled_edge_data()
    {
        EfiDisk("sda");

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("edgeimage-initrd: creating the data file system on /dev/sda4 (first boot)", result.Text);
        Assert.Contains("mke2fs -q -F -t ext4 -E nodiscard -L edge-data /dev/sda4", _rig.Calls);
    }

    [Fact]
    public void On_a_larger_disk_the_data_partition_and_its_file_system_grow_to_the_end()
    {
        EfiDisk("sda", extraSectors: 1 << 21);
        _rig.Tag("sda4", "LABEL=edge-data");

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("edgeimage-initrd: growing data partition /dev/sda4 to the end of /dev/sda", result.Text);
        Assert.Contains("edgeimage-initrd: data file system grown", result.Text);
        var calls = _rig.Calls.Where(c => !c.StartsWith("blkid", StringComparison.Ordinal)).ToList();
        Assert.Equal(["sfdisk --no-reread --no-tell-kernel -q -N 4 /dev/sda", "blockdev --rereadpt /dev/sda", "e2fsck -f -p /dev/sda4", "resize2fs /dev/sda4"], calls);
    }

    [Theory]
    [InlineData(1080, "superblock magic at 1 KiB")]
    [InlineData(4096 + 17, "group descriptors after the superblock")]
    [InlineData(4 * 1024 * 1024 - 1, "last byte of the first 4 MiB")]
    [InlineData(8 * 1024 * 1024 + 1024 + 56, "backup superblock of 1 KiB blocks")]
    [InlineData(128 * 1024 * 1024 + 56, "backup superblock of 4 KiB blocks")]
    public void A_data_partition_without_the_label_that_is_not_blank_is_refused_and_left_alone(long offset, string what)
    {
        EfiDisk("sda");
        _rig.ResizePartition("sda4", 256L << 11);
        _rig.WriteAt("sda4", offset, [0x53, 0xEF]);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.True(result.ExitCode == InitScriptRig.Failed, $"{what}: init went on ({result.ExitCode}):\n{result.Text}");
        Assert.Contains("edgeimage-initrd: FATAL: the data partition /dev/sda4 has no edge-data file system, yet it is not blank as the image left it", result.Text);
        Assert.DoesNotContain(_rig.Calls, c => c.StartsWith("mke2fs", StringComparison.Ordinal) || c.StartsWith("sfdisk", StringComparison.Ordinal));
    }

    [Fact]
    public void A_blank_data_partition_smaller_than_the_checked_regions_is_blank_to_its_end()
    {
        EfiDisk("sda");
        _rig.ResizePartition("sda4", 4096);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("mke2fs -q -F -t ext4 -E nodiscard -L edge-data /dev/sda4", _rig.Calls);
    }

    [Fact]
    public void A_data_partition_without_the_label_that_cannot_be_read_is_refused()
    {
        EfiDisk("sda");
        // A partition shorter than its sysfs size: cmp meets the end where the disk would fail a read.
        File.WriteAllBytes(_rig.Device("sda4"), new byte[4096]);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(InitScriptRig.Failed, result.ExitCode);
        Assert.Contains("not blank as the image left it, or could not be read", result.Text);
        Assert.DoesNotContain(_rig.Calls, c => c.StartsWith("mke2fs", StringComparison.Ordinal));
    }

    [Fact]
    public void A_blank_data_partition_on_a_larger_disk_grows_before_its_file_system_is_made()
    {
        EfiDisk("sda", extraSectors: 1 << 21);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        var calls = _rig.Calls.Where(c => !c.StartsWith("blkid", StringComparison.Ordinal)).ToList();
        Assert.Equal(["sfdisk --no-reread --no-tell-kernel -q -N 4 /dev/sda", "blockdev --rereadpt /dev/sda", "mke2fs -q -F -t ext4 -E nodiscard -L edge-data /dev/sda4"], calls);
    }

    [Fact]
    public void The_data_file_system_is_checked_on_every_boot_before_it_is_mounted()
    {
        EfiDisk("sda");
        _rig.Tag("sda4", "LABEL=edge-data");

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["e2fsck -p /dev/sda4"], _rig.Calls.Where(c => !c.StartsWith("blkid", StringComparison.Ordinal)));
        // A clean check prints nothing of its own to the console.
        Assert.DoesNotContain("e2fsck", result.Text);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_check_that_fixed_errors_or_asks_for_a_reboot_is_logged_and_the_boot_goes_on(int exitCode)
    {
        EfiDisk("sda");
        _rig.Tag("sda4", "LABEL=edge-data");
        _rig.ExitCode("e2fsck", exitCode);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data && echo prepared");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("edgeimage-initrd: e2fsck: stand-in e2fsck: done", result.Text);
        Assert.Contains($"edgeimage-initrd: e2fsck repaired the data file system on /dev/sda4 (exit code {exitCode}); it is not mounted yet, so the boot goes on", result.Text);
        Assert.EndsWith("prepared", result.Text.Trim());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(12)]
    public void A_check_that_left_errors_or_failed_stops_the_boot(int exitCode)
    {
        EfiDisk("sda");
        _rig.Tag("sda4", "LABEL=edge-data");
        _rig.ExitCode("e2fsck", exitCode);

        var result = _rig.Run("rootdev=sda2 datadev=sda4 prepare_data && echo prepared");

        Assert.Equal(InitScriptRig.Failed, result.ExitCode);
        Assert.Contains($"edgeimage-initrd: FATAL: e2fsck -p could not repair the data file system on /dev/sda4 (exit code {exitCode})", result.Text);
        Assert.DoesNotContain("prepared", result.Text);
        Assert.DoesNotContain(_rig.Calls, c => c.StartsWith("mke2fs", StringComparison.Ordinal));
    }
}
