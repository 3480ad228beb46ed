using EdgeImage.Filesystems;
using EdgeImage.Tests.Fixtures;
using EdgeImage.Tools;

namespace EdgeImage.Tests.Filesystems;

[Collection(ProcessEnvironmentCollection.Name)]
public sealed class FatImageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-fat-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<string> WriteAsync(string name, long epoch = 1_700_000_000)
    {
        var image = Path.Combine(_dir, name);
        var work = Path.Combine(_dir, "work-" + name);
        Directory.CreateDirectory(work);
        var context = new BuildContext { CacheDir = _dir, WorkDir = work, SourceDateEpoch = epoch, VerificationTime = DateTimeOffset.UnixEpoch };
        FatFile[] files =
        [
            new("/EFI/BOOT/BOOTX64.EFI", new byte[70_000]),
            new("/loader/entries/edge-a+3.conf", "title A\n"u8.ToArray()),
            new("/loader/loader.conf", "timeout 0\n"u8.ToArray()),
        ];
        await FatImage.WriteAsync(image, 64L << 20, "ESP", 0x0badcafe, files, new HostTools(), context);
        return image;
    }

    [Fact]
    public async Task Two_images_made_seconds_apart_are_byte_identical()
    {
        var first = await WriteAsync("a.img");
        await Task.Delay(TimeSpan.FromSeconds(2.1));
        var second = await WriteAsync("b.img");

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }

    [Fact]
    public async Task The_build_hosts_time_zone_does_not_reach_the_image()
    {
        // mtools writes FAT timestamps in local time: a builder in Tokyo and one in UTC must still
        // write the same bytes.
        var before = Environment.GetEnvironmentVariable("TZ");
        try
        {
            Environment.SetEnvironmentVariable("TZ", "Asia/Tokyo");
            var tokyo = await WriteAsync("tokyo.img");
            Environment.SetEnvironmentVariable("TZ", "UTC");
            var utc = await WriteAsync("utc.img");

            Assert.Equal(File.ReadAllBytes(utc), File.ReadAllBytes(tokyo));
        }
        finally
        {
            Environment.SetEnvironmentVariable("TZ", before);
        }
    }

    [Fact]
    public async Task The_image_is_clean_for_fsck_and_holds_the_files_with_clamped_times_and_seeded_serial()
    {
        var image = await WriteAsync("c.img");

        TestTool.Run("fsck.vfat", ["-n", image]);
        var environment = new Dictionary<string, string> { ["MTOOLS_SKIP_CHECK"] = "1" };
        var listing = TestTool.Run("mdir", ["-i", image, "::/loader/entries"], environment);
        Assert.Contains("edge-a+3.conf", listing);
        Assert.Contains("2023-11-14", listing);
        Assert.Contains("0BAD-CAFE", TestTool.Run("mdir", ["-i", image, "::/"], environment));
        Assert.Equal("timeout 0\n", TestTool.Run("mtype", ["-i", image, "::/loader/loader.conf"], environment));
    }

    [Fact]
    public async Task Files_that_do_not_fit_are_refused_before_anything_is_written()
    {
        var context = new BuildContext { CacheDir = _dir, WorkDir = _dir, SourceDateEpoch = 1, VerificationTime = DateTimeOffset.UnixEpoch };
        var image = Path.Combine(_dir, "small.img");

        var e = await Assert.ThrowsAsync<EdgeImageException>(() =>
            FatImage.WriteAsync(image, 8L << 20, "ESP", 1, [new("/big", new byte[9 << 20])], new HostTools(), context));

        Assert.Contains("partitions.boot", e.Hint);
        Assert.False(File.Exists(image));
    }
}

/// <summary>Tests that change this process's environment (which the tools it starts inherit) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection
{
    public const string Name = "process environment";
}
