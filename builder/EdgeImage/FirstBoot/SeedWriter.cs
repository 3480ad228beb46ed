using System.Globalization;
using EdgeImage.Disk;
using EdgeImage.Tools;

namespace EdgeImage.FirstBoot;

/// <summary>Where a seed went: the FAT partition of the image and the files written into it.</summary>
public sealed record SeedWriteResult(string Partition, long Offset, IReadOnlyList<string> Files);

/// <summary>
/// `edgeimage seed`: puts a seed into an existing image's boot FAT partition (the ESP of a GPT
/// disk, the first FAT partition of a Raspberry Pi's MBR disk) without mounting it: mtools write
/// into the image file at the partition's offset. Whatever edgeimage/ held before is replaced, so
/// an earlier seed's token file never lingers.
/// </summary>
public sealed class SeedWriter(HostTools tools)
{
    public static readonly IReadOnlyList<string> RequiredTools = ["mcopy", "mmd", "mdir", "mdeltree"];

    /// <param name="epoch">Timestamp of the written FAT entries (the seed file's modification time keeps reruns identical).</param>
    public async Task<SeedWriteResult> WriteAsync(string imagePath, Seed seed, long epoch, CancellationToken ct = default)
    {
        tools.Require(RequiredTools);
        if (!File.Exists(imagePath))
        {
            throw new EdgeImageException($"image {imagePath} does not exist", "build one with `edgeimage build --profile NAME`", ExitCodes.NotFound);
        }
        var (partition, offset) = FindBootFat(imagePath);
        var yaml = SeedFiles.RenderYaml(seed);
        var files = new List<(string Name, string Content)>
        {
            (SeedFiles.YamlName, yaml),
            (SeedFiles.EnvName, SeedFiles.RenderEnv(seed, yaml)),
        };
        if (seed.TokenFile is { } tokenFile)
        {
            files.Add((tokenFile, seed.TokenText + "\n"));
        }

        var fat = $"{imagePath}@@{offset.ToString(CultureInfo.InvariantCulture)}";
        var environment = new Dictionary<string, string?>
        {
            ["SOURCE_DATE_EPOCH"] = epoch.ToString(CultureInfo.InvariantCulture),
            ["MTOOLS_SKIP_CHECK"] = "1",
        };
        var root = await tools.RunAsync("mdir", ["-b", "-i", fat, "::"], environment: environment, ct: ct);
        if (root.Split('\n').Any(l => l.Trim().TrimEnd('/').Equals("::/" + SeedFiles.Directory, StringComparison.OrdinalIgnoreCase)))
        {
            await tools.RunAsync("mdeltree", ["-i", fat, "::" + SeedFiles.Directory], environment: environment, ct: ct);
        }
        await tools.RunAsync("mmd", ["-i", fat, "::" + SeedFiles.Directory], environment: environment, ct: ct);
        var staging = System.IO.Directory.CreateTempSubdirectory("edgeimage-seed-");
        try
        {
            foreach (var (name, content) in files)
            {
                var source = Path.Combine(staging.FullName, name);
                await File.WriteAllTextAsync(source, content, ct);
                File.SetLastWriteTimeUtc(source, DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime);
                await tools.RunAsync("mcopy", ["-m", "-i", fat, source, $"::{SeedFiles.Directory}/{name}"], environment: environment, ct: ct);
            }
        }
        finally
        {
            staging.Delete(recursive: true);
        }
        return new SeedWriteResult(partition, offset, files.Select(f => $"{SeedFiles.Directory}/{f.Name}").ToList());
    }

    /// <summary>The boot FAT partition: on GPT the EFI system partition, on MBR the first FAT partition.</summary>
    public static (string Name, long Offset) FindBootFat(string imagePath)
    {
        using var disk = File.OpenRead(imagePath);
        var mbr = new byte[512];
        disk.ReadExactly(mbr);
        if (mbr[510] != 0x55 || mbr[511] != 0xAA)
        {
            throw NoFat(imagePath, "it has no partition table (no 0x55AA signature in its first sector)");
        }
        var entries = Enumerable.Range(0, 4).Select(i => mbr.AsSpan(446 + 16 * i, 16).ToArray()).ToList();
        if (entries.Any(e => e[4] == 0xEE))
        {
            disk.Position = 0;
            var gpt = GptReader.Read(disk, imagePath);
            var esp = gpt.Partitions.FirstOrDefault(p => p.Type == GptPartitionTypes.EfiSystem)
                ?? throw NoFat(imagePath, "its GPT has no EFI system partition");
            return (esp.Name, esp.Offset);
        }
        for (var i = 0; i < entries.Count; i++)
        {
            // FAT12/16/32 in their CHS and LBA variants.
            if (entries[i][4] is 0x01 or 0x04 or 0x06 or 0x0B or MbrPartitionTypes.Fat32Lba or 0x0E)
            {
                var firstLba = BitConverter.ToUInt32(entries[i], 8);
                return ($"partition {i + 1}", (long)firstLba * 512);
            }
        }
        throw NoFat(imagePath, "its MBR has no FAT partition");
    }

    private static EdgeImageException NoFat(string image, string why) => new(
        $"cannot place a seed in {image}: {why}",
        "pass an image built by `edgeimage build` (out/PROFILE/edge.img)", ExitCodes.Usage);
}
