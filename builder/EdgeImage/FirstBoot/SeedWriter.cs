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
///
/// All or nothing: the files go into edgeimage.new first; only once every copy succeeded is the old
/// edgeimage/ renamed to edgeimage.old, edgeimage.new to edgeimage and edgeimage.old deleted. A
/// failure before that leaves the old seed as it was (the device reads only edgeimage/); a run
/// interrupted between the two renames is repaired by the next one.
/// </summary>
public sealed class SeedWriter(HostTools tools)
{
    public static readonly IReadOnlyList<string> RequiredTools = ["mcopy", "mmd", "mdir", "mdeltree", "mren"];

    private const string NewDirectory = SeedFiles.Directory + ".new";
    private const string OldDirectory = SeedFiles.Directory + ".old";

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
        // FAT compares names without case: a clash would make mcopy ask on the terminal (and fail
        // silently without one). SeedLoader refuses such a token_file; this guards the invariant.
        if (files.GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } clash)
        {
            throw new EdgeImageException($"seed files {string.Join(" and ", clash.Select(f => f.Name))} would be one file on FAT, which ignores case",
                "rename the token file", ExitCodes.InvalidSeed);
        }

        var fat = $"{imagePath}@@{offset.ToString(CultureInfo.InvariantCulture)}";
        var environment = new Dictionary<string, string?>
        {
            ["SOURCE_DATE_EPOCH"] = epoch.ToString(CultureInfo.InvariantCulture),
            ["MTOOLS_SKIP_CHECK"] = "1",
        };
        async Task Run(string what, string tool, IEnumerable<string> arguments)
        {
            try
            {
                await tools.RunAsync(tool, arguments, environment: environment, ct: ct);
            }
            catch (EdgeImageException e)
            {
                throw new EdgeImageException($"writing the seed into {partition} of {imagePath}: {what}: {e.Message}", e.Hint, e.ExitCode, e);
            }
        }
        async Task<HashSet<string>> RootFoldersAsync()
        {
            var listing = await tools.RunAsync("mdir", ["-b", "-i", fat, "::"], environment: environment, ct: ct);
            return listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith("::/", StringComparison.Ordinal) && l.EndsWith('/'))
                .Select(l => l[3..^1])
                .ToHashSet(StringComparer.OrdinalIgnoreCase);
        }

        var folders = await RootFoldersAsync();
        // A run interrupted between its two renames left the previous seed as edgeimage.old only.
        if (!folders.Contains(SeedFiles.Directory) && folders.Contains(OldDirectory))
        {
            await Run($"restoring the previous seed from {OldDirectory}", "mren", ["-i", fat, "::" + OldDirectory, "::" + SeedFiles.Directory]);
            folders = await RootFoldersAsync();
        }
        // mren into an existing folder would move into it, so leftovers of an interrupted run go first.
        foreach (var leftover in new[] { NewDirectory, OldDirectory }.Where(folders.Contains))
        {
            await Run($"removing {leftover} left by an interrupted run", "mdeltree", ["-i", fat, "::" + leftover]);
        }

        await Run($"creating {NewDirectory}", "mmd", ["-i", fat, "::" + NewDirectory]);
        var staging = System.IO.Directory.CreateTempSubdirectory("edgeimage-seed-");
        try
        {
            foreach (var (name, content) in files)
            {
                var source = Path.Combine(staging.FullName, name);
                await File.WriteAllTextAsync(source, content, ct);
                File.SetLastWriteTimeUtc(source, DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime);
                await Run($"copying {name} to {NewDirectory}/", "mcopy", ["-m", "-i", fat, source, $"::{NewDirectory}/{name}"]);
            }
        }
        catch
        {
            // The old seed is untouched; do not leave a half-written one beside it.
            try
            {
                await tools.RunAsync("mdeltree", ["-i", fat, "::" + NewDirectory], environment: environment, ct: CancellationToken.None);
            }
            catch (EdgeImageException)
            {
                // The next run removes it; the device never reads edgeimage.new.
            }
            throw;
        }
        finally
        {
            staging.Delete(recursive: true);
        }

        var hadSeed = folders.Contains(SeedFiles.Directory);
        if (hadSeed)
        {
            await Run($"renaming the previous {SeedFiles.Directory} to {OldDirectory}", "mren", ["-i", fat, "::" + SeedFiles.Directory, "::" + OldDirectory]);
        }
        try
        {
            await Run($"renaming {NewDirectory} to {SeedFiles.Directory}", "mren", ["-i", fat, "::" + NewDirectory, "::" + SeedFiles.Directory]);
        }
        catch when (hadSeed)
        {
            try
            {
                await tools.RunAsync("mren", ["-i", fat, "::" + OldDirectory, "::" + SeedFiles.Directory], environment: environment, ct: CancellationToken.None);
            }
            catch (EdgeImageException)
            {
                // The next run restores edgeimage.old (see above).
            }
            throw;
        }
        if (hadSeed)
        {
            await Run($"the new seed is in place, but removing the previous one ({OldDirectory}, which may hold its token) failed; run `edgeimage seed` again",
                "mdeltree", ["-i", fat, "::" + OldDirectory]);
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
