using EdgeImage.Filesystems;
using EdgeImage.Tools;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>The ESP writer with the real mkfs.vfat and mtools: the wall clock must not reach the image.</summary>
public sealed class FatImageTests : IDisposable
{
    private const long Epoch = 1_750_000_000;

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-fat-");

    [Fact]
    public async Task Two_FAT_images_written_seconds_apart_are_byte_identical_and_keep_the_seeded_serial()
    {
        var first = await WriteAsync("first.img");
        // FAT stores times in 2-second steps: a wall-clock timestamp would now differ.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var second = await WriteAsync("second.img");

        Assert.Equal(ImageLayoutTests.Sha256Of(first, 0, new FileInfo(first).Length), ImageLayoutTests.Sha256Of(second, 0, new FileInfo(second).Length));
        var info = TrixieDebs.Run("minfo", "-i", first, "::");
        Assert.Contains("serial number: 1234ABCD", info, StringComparison.OrdinalIgnoreCase);
        TrixieDebs.Run("fsck.vfat", "-n", first);
    }

    public void Dispose() => _work.Delete(recursive: true);

    private async Task<string> WriteAsync(string name)
    {
        var path = Path.Combine(_work.FullName, name);
        var workDir = Directory.CreateDirectory(Path.Combine(_work.FullName, name + ".work")).FullName;
        var context = new BuildContext
        {
            CacheDir = workDir,
            WorkDir = workDir,
            SourceDateEpoch = Epoch,
            VerificationTime = DateTimeOffset.FromUnixTimeSeconds(Epoch),
        };
        await FatImage.WriteAsync(path, 64L << 20, "ESP", 0x1234ABCD,
            [new FatFile("/EFI/BOOT/BOOTX64.EFI", [0x4d, 0x5a, 1, 2, 3]), new FatFile("/loader/loader.conf", "timeout 0\n"u8.ToArray())],
            new HostTools(), context);
        return path;
    }
}
