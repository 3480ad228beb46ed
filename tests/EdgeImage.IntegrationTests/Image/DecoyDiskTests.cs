using System.Security.Cryptography;
using EdgeImage.Qemu;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>
/// The generic-x86_64 image booted in QEMU with another disk ahead of it, as on a PC with an internal
/// disk that once held EdgeImage and now boots from a stick. The other disk ("decoy") is a copy of
/// the image with a disk GUID of its own, bootable itself: it lists first (vda) and holds partitions
/// named root-a and data, the data partition still with the marker that lets the initramfs format
/// it (the marker names the image's own disk GUID). The firmware boots the image (it is first in the
/// boot order), and only the disk its loader entry names (edgeimage.disk=PTUUID=) may be used: the
/// decoy must come out of the boot byte for byte as it went in, ESP included, and the image's own
/// data partition gets the file system.
/// </summary>
[Trait("Category", "qemu")]
public sealed class DecoyDiskTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-decoy-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task A_disk_ahead_of_the_boot_disk_with_the_same_partition_names_is_neither_mounted_nor_formatted()
    {
        var image = await BootCheckImage.GetAsync();
        var disk = Path.Combine(_work.FullName, "edge.img");
        var decoy = Path.Combine(_work.FullName, "decoy.img");
        TrixieDebs.Run("cp", "--sparse=always", image.ImagePath, disk);
        TrixieDebs.Run("cp", "--sparse=always", image.ImagePath, decoy);
        TrixieDebs.Run("sfdisk", "--disk-id", decoy, "0DEC0DEC-0000-4000-8000-00000000D15C");
        var data = image.Partition("data");
        Assert.Equal("EDGEIMAGE-DATA-UNFORMATTED", DataMarkerLine(decoy, data.Offset));
        var decoyBefore = Digest(decoy);

        var console = new StringWriter();
        using var hardStop = new CancellationTokenSource(Timeout + TimeSpan.FromMinutes(1));
        var result = await HeavyWork.RunAsync(() => new QemuRunner().RunAsync(new QemuRunRequest
        {
            ImagePath = disk,
            ExtraDisks = [decoy],
            Board = ImageBootsFixture.Board,
            Timeout = Timeout,
            NoReboot = true,
            SerialEcho = TextWriter.Synchronized(console),
        }, NullBuildLog.Instance, hardStop.Token));
        var text = console.ToString();
        await File.WriteAllTextAsync(disk + ".console.log", text);

        var check = BootCheck.Find(text);
        Assert.True(check is not null, $"the image did not come up beside the decoy disk; last console lines:\n  | {string.Join("\n  | ", result.LastLines)}");
        check.AssertFirstBootState();
        var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("edgeimage-initrd:", StringComparison.Ordinal)).ToList();
        output.WriteLine(string.Join('\n', lines));
        Assert.Contains("edgeimage-initrd: creating the data file system on /dev/vdb4 (first boot)", lines);
        Assert.Contains("edgeimage-initrd: switching to systemd on /dev/vdb2", lines);

        Assert.Equal(decoyBefore, Digest(decoy));
        // ext4's magic (0xEF53, little-endian) at byte 0x38 of the superblock, 1 KiB into the partition.
        await using (var file = File.OpenRead(disk))
        {
            var magic = new byte[2];
            file.Position = data.Offset + 1024 + 0x38;
            file.ReadExactly(magic);
            Assert.Equal(new byte[] { 0x53, 0xEF }, magic);
        }
    }

    private static string DataMarkerLine(string path, long offset)
    {
        using var file = File.OpenRead(path);
        var head = new byte[64];
        file.Position = offset;
        file.ReadExactly(head);
        return System.Text.Encoding.ASCII.GetString(head).Split('\n')[0];
    }

    private static string Digest(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }
}
