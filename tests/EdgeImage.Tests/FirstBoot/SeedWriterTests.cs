using EdgeImage.Disk;
using EdgeImage.FirstBoot;
using EdgeImage.Tests.Fixtures;
using EdgeImage.Tools;

namespace EdgeImage.Tests.FirstBoot;

public sealed class SeedWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-seedwriter-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A small GPT disk with an ESP (FAT, made by mkfs.vfat) and a data partition, as the UEFI boards write.</summary>
    private async Task<(string Image, long EspOffset)> GptDiskAsync()
    {
        var image = Path.Combine(_dir, "gpt.img");
        GptLayout layout;
        await using (var disk = new FileStream(image, FileMode.Create, FileAccess.ReadWrite))
        {
            layout = GptWriter.Write(disk, new GptDiskSpec
            {
                DiskSize = 48L << 20,
                Seed = new DiskSeed("seed-writer-test"),
                Partitions =
                [
                    new() { Name = "data", Type = GptPartitionTypes.Var, Size = PartitionSize.FromMiB(8) },
                    new() { Name = "esp", Type = GptPartitionTypes.EfiSystem, Size = PartitionSize.FromMiB(36) },
                ],
            });
        }
        await PutFatAsync(image, layout["esp"].Offset, 36L << 20);
        return (image, layout["esp"].Offset);
    }

    private async Task PutFatAsync(string image, long offset, long size)
    {
        var fat = Path.Combine(_dir, "fat.img");
        await new HostTools().RunAsync("mkfs.vfat", ["-C", "-n", "ESP", fat, (size / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await using var disk = new FileStream(image, FileMode.Open, FileAccess.Write);
        disk.Position = offset;
        await using var source = File.OpenRead(fat);
        await source.CopyToAsync(disk);
        File.Delete(fat);
    }

    private static Task<string> ReadFatFileAsync(string image, long offset, string path) =>
        new HostTools().RunAsync("mtype", ["-i", $"{image}@@{offset}", "::" + path], environment: new Dictionary<string, string?> { ["MTOOLS_SKIP_CHECK"] = "1" });

    private Seed SeedWithTokenFile(string hostname)
    {
        File.WriteAllText(Path.Combine(_dir, hostname + ".token"), SeedTests.Token());
        File.WriteAllText(Path.Combine(_dir, hostname + ".yaml"), $"hostname: {hostname}\ntoken_file: {hostname}.token\nlabels: {{site: berlin}}\n");
        return SeedLoader.Load(Path.Combine(_dir, hostname + ".yaml"));
    }

    [Fact]
    public async Task The_seed_lands_in_the_ESP_of_a_GPT_image_and_reads_back_with_mtools()
    {
        var (image, espOffset) = await GptDiskAsync();
        var seed = SeedWithTokenFile("node-1");

        var result = await new SeedWriter(new HostTools()).WriteAsync(image, seed, 1_700_000_000);

        Assert.Equal(("esp", espOffset), (result.Partition, result.Offset));
        Assert.Equal(["edgeimage/seed.yaml", "edgeimage/seed.env", "edgeimage/node-1.token"], result.Files);
        var yaml = await ReadFatFileAsync(image, espOffset, "edgeimage/seed.yaml");
        Assert.Equal(SeedFiles.RenderYaml(seed), yaml);
        Assert.Equal(SeedFiles.RenderEnv(seed, yaml), await ReadFatFileAsync(image, espOffset, "edgeimage/seed.env"));
        Assert.Equal(seed.TokenText + "\n", await ReadFatFileAsync(image, espOffset, "edgeimage/node-1.token"));
        // The partition is still a clean FAT file system.
        var fat = Path.Combine(_dir, "esp-copy.img");
        await using (var disk = File.OpenRead(image))
        await using (var copy = File.Create(fat))
        {
            disk.Position = espOffset;
            var buffer = new byte[36 << 20];
            disk.ReadExactly(buffer);
            copy.Write(buffer);
        }
        await new HostTools().RunAsync("fsck.vfat", ["-n", fat]);
    }

    [Fact]
    public async Task Writing_a_second_seed_replaces_the_first_and_its_token_file()
    {
        var (image, espOffset) = await GptDiskAsync();
        var writer = new SeedWriter(new HostTools());
        await writer.WriteAsync(image, SeedWithTokenFile("node-1"), 1_700_000_000);

        await writer.WriteAsync(image, SeedWithTokenFile("node-2"), 1_700_000_000);

        var listing = await new HostTools().RunAsync("mdir", ["-b", "-i", $"{image}@@{espOffset}", "::edgeimage"], environment: new Dictionary<string, string?> { ["MTOOLS_SKIP_CHECK"] = "1" });
        Assert.Equal(["::/edgeimage/node-2.token", "::/edgeimage/seed.env", "::/edgeimage/seed.yaml"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
        Assert.Contains("hostname: \"node-2\"", await ReadFatFileAsync(image, espOffset, "edgeimage/seed.yaml"));
    }

    private static Dictionary<string, string?> Mtools => new() { ["MTOOLS_SKIP_CHECK"] = "1" };

    private static async Task<List<string>> ListAsync(string image, long offset, string folder) =>
        (await new HostTools().RunAsync("mdir", ["-b", "-i", $"{image}@@{offset}", "::" + folder], environment: Mtools))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).ToList();

    /// <summary>Host tools whose mcopy fails, as a full or failing card would, when it copies a file whose name contains <paramref name="failOn"/>.</summary>
    private HostTools FailingMcopy(string failOn)
    {
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var wrapper = Path.Combine(bin, "mcopy");
        File.WriteAllText(wrapper, $"#!/bin/sh\ncase \"$*\" in *{failOn}*) echo 'mcopy: write error: No space left on device (test double)' >&2; exit 1 ;; esac\nexec {new HostTools().Find("mcopy")} \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new HostTools([bin, .. (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':')]);
    }

    [Fact]
    public async Task A_copy_that_fails_leaves_the_previous_seed_whole_and_says_why()
    {
        var (image, espOffset) = await GptDiskAsync();
        await new SeedWriter(new HostTools()).WriteAsync(image, SeedWithTokenFile("node-1"), 1_700_000_000);

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => new SeedWriter(FailingMcopy("node-2.token")).WriteAsync(image, SeedWithTokenFile("node-2"), 1_700_000_000));

        Assert.Contains("copying node-2.token to edgeimage.new/: mcopy failed with exit code 1: mcopy: write error: No space left on device (test double)", e.Message);
        Assert.Equal(["::/edgeimage/node-1.token", "::/edgeimage/seed.env", "::/edgeimage/seed.yaml"], await ListAsync(image, espOffset, "edgeimage"));
        Assert.Contains("hostname: \"node-1\"", await ReadFatFileAsync(image, espOffset, "edgeimage/seed.yaml"));
        Assert.Equal(["::/edgeimage/"], await ListAsync(image, espOffset, ""));
    }

    [Fact]
    public async Task A_run_interrupted_between_its_renames_is_repaired_by_the_next_one()
    {
        var (image, espOffset) = await GptDiskAsync();
        await new SeedWriter(new HostTools()).WriteAsync(image, SeedWithTokenFile("node-1"), 1_700_000_000);
        var fat = $"{image}@@{espOffset}";
        // What an interrupted run leaves: the previous seed renamed away and a half-written new one.
        await new HostTools().RunAsync("mren", ["-i", fat, "::edgeimage", "::edgeimage.old"], environment: Mtools);
        await new HostTools().RunAsync("mmd", ["-i", fat, "::edgeimage.new"], environment: Mtools);

        // A failing run puts the previous seed back; a good one replaces it.
        await Assert.ThrowsAsync<EdgeImageException>(() => new SeedWriter(FailingMcopy("seed.env")).WriteAsync(image, SeedWithTokenFile("node-2"), 1_700_000_000));
        Assert.Equal(["::/edgeimage/"], await ListAsync(image, espOffset, ""));
        Assert.Contains("hostname: \"node-1\"", await ReadFatFileAsync(image, espOffset, "edgeimage/seed.yaml"));
        await new SeedWriter(new HostTools()).WriteAsync(image, SeedWithTokenFile("node-2"), 1_700_000_000);

        Assert.Equal(["::/edgeimage/"], await ListAsync(image, espOffset, ""));
        Assert.Equal(["::/edgeimage/node-2.token", "::/edgeimage/seed.env", "::/edgeimage/seed.yaml"], await ListAsync(image, espOffset, "edgeimage"));
    }

    [Fact]
    public async Task On_a_Raspberry_Pi_MBR_image_the_first_FAT_partition_takes_the_seed()
    {
        var image = Path.Combine(_dir, "mbr.img");
        MbrLayout layout;
        await using (var disk = new FileStream(image, FileMode.Create, FileAccess.ReadWrite))
        {
            layout = MbrWriter.Write(disk, new MbrDiskSpec
            {
                DiskSize = 48L << 20,
                Seed = new DiskSeed("seed-writer-mbr"),
                Partitions =
                [
                    new() { Name = "boot", Type = MbrPartitionTypes.Fat32Lba, Size = PartitionSize.FromMiB(36), Bootable = true },
                    new() { Name = "data", Type = MbrPartitionTypes.Linux, Size = PartitionSize.FromMiB(8) },
                ],
            });
        }
        var boot = layout.Partitions.Single(p => p.Name == "boot");
        await PutFatAsync(image, boot.Offset, boot.Size);

        var result = await new SeedWriter(new HostTools()).WriteAsync(image, SeedWithTokenFile("pi-1"), 1_700_000_000);

        Assert.Equal(("partition 1", boot.Offset), (result.Partition, result.Offset));
        Assert.Contains("HOSTNAME=pi-1\n", await ReadFatFileAsync(image, boot.Offset, "edgeimage/seed.env"));
    }

    [Fact]
    public async Task A_file_without_a_partition_table_is_refused_with_a_hint()
    {
        var image = Path.Combine(_dir, "blank.img");
        File.WriteAllBytes(image, new byte[1 << 20]);

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => new SeedWriter(new HostTools()).WriteAsync(image, SeedWithTokenFile("x"), 1));

        Assert.Contains("no partition table", e.Message);
        Assert.Contains("edgeimage build", e.Hint);
    }
}
