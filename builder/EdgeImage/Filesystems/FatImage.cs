using EdgeImage.Tools;

namespace EdgeImage.Filesystems;

/// <summary>A file to place on a FAT file system: its path there and its bytes.</summary>
public sealed record FatFile(string Path, byte[] Content);

/// <summary>
/// Makes a FAT file system image without mounting it: mkfs.vfat creates the empty file system and
/// mtools copies files in. Both honour SOURCE_DATE_EPOCH for every timestamp they write, and the
/// volume serial is derived from the build seed, so the image is byte-identical across builds
/// (FatImageTests builds one twice, seconds apart, and compares the bytes).
/// </summary>
public static class FatImage
{
    public static readonly IReadOnlyList<string> RequiredTools = ["mkfs.vfat", "mmd", "mcopy"];

    public static async Task WriteAsync(string imagePath, long sizeBytes, string label, uint serial,
        IReadOnlyList<FatFile> files, HostTools tools, BuildContext context)
    {
        if (sizeBytes % 1024 != 0)
        {
            throw new ArgumentException("FAT size must be a multiple of 1 KiB", nameof(sizeBytes));
        }
        var needed = files.Sum(f => f.Content.LongLength + 4096);
        if (needed > sizeBytes * 9 / 10)
        {
            throw new EdgeImageException(
                $"the {label} partition ({sizeBytes >> 20} MiB) cannot hold its {files.Count} files ({needed >> 20} MiB with overhead)",
                "raise `partitions.boot` in the profile");
        }
        File.Delete(imagePath);
        var environment = new Dictionary<string, string?>
        {
            ["SOURCE_DATE_EPOCH"] = context.SourceDateEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MTOOLS_SKIP_CHECK"] = "1",
        };
        // FAT32 needs at least 32 MiB of clusters; smaller boot partitions are FAT16.
        string[] fatType = sizeBytes >= 64L << 20 ? ["-F", "32"] : [];
        // --invariant pins what mkfs.vfat would otherwise take from the clock (the volume label's
        // directory entry times); -i after it still sets the seeded serial.
        await tools.RunAsync("mkfs.vfat", ["-C", "--invariant", ..fatType, "-n", label, "-i", serial.ToString("x8", System.Globalization.CultureInfo.InvariantCulture), imagePath, (sizeBytes / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture)],
            environment: environment, ct: context.Cancellation);

        var staging = Path.Combine(context.WorkDir, "fat-" + label);
        Directory.CreateDirectory(staging);
        try
        {
            var directories = files.SelectMany(f => Ancestors(f.Path)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            if (directories.Count > 0)
            {
                await tools.RunAsync("mmd", ["-i", imagePath, .. directories.Select(d => "::" + d)], environment: environment, ct: context.Cancellation);
            }
            // One mcopy per directory, its files in sorted order: mtools allocates clusters and
            // directory entries in argument order, so the image is the same as copying them one by
            // one, with a process start per directory instead of per file. Each file is staged
            // under its own name in a folder of its own (mcopy names the copy after the source).
            var index = 0;
            foreach (var group in files.OrderBy(f => f.Path, StringComparer.Ordinal).GroupBy(f => Parent(f.Path), StringComparer.Ordinal))
            {
                var sources = new List<string>();
                foreach (var file in group)
                {
                    var folder = Path.Combine(staging, (index++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    Directory.CreateDirectory(folder);
                    var source = Path.Combine(folder, Path.GetFileName(file.Path));
                    await File.WriteAllBytesAsync(source, file.Content, context.Cancellation);
                    File.SetLastWriteTimeUtc(source, DateTimeOffset.FromUnixTimeSeconds(context.SourceDateEpoch).UtcDateTime);
                    sources.Add(source);
                }
                await tools.RunAsync("mcopy", ["-m", "-i", imagePath, .. sources, "::" + group.Key + "/"], environment: environment, ct: context.Cancellation);
            }
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private static string Parent(string path)
    {
        var trimmed = "/" + path.Trim('/');
        return trimmed[..trimmed.LastIndexOf('/')];
    }

    private static IEnumerable<string> Ancestors(string path)
    {
        var parts = path.Trim('/').Split('/');
        for (var i = 1; i < parts.Length; i++)
        {
            yield return "/" + string.Join('/', parts[..i]);
        }
    }
}
