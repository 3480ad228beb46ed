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
}
