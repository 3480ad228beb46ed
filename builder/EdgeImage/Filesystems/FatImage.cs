using EdgeImage.Tools;

namespace EdgeImage.Filesystems;

/// <summary>A file to place on a FAT file system: its path there and its bytes.</summary>
public sealed record FatFile(string Path, byte[] Content);

/// <summary>
/// Makes a FAT file system image without mounting it: mkfs.vfat creates the empty file system and
/// mtools copies files in. mtools honours SOURCE_DATE_EPOCH for every timestamp it writes; mkfs.vfat
/// (dosfstools 4.2) does not, and stamps the volume label's directory entry with the wall clock
/// unless given --invariant. The volume serial is derived from the build seed, so the image is
/// byte-identical across builds.
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
        // --invariant must come before -i: it also sets a constant serial, and the later option wins.
        await tools.RunAsync("mkfs.vfat", ["-C", ..fatType, "-n", label, "--invariant", "-i", serial.ToString("x8", System.Globalization.CultureInfo.InvariantCulture), imagePath, (sizeBytes / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture)],
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
            var index = 0;
            foreach (var file in files.OrderBy(f => f.Path, StringComparer.Ordinal))
            {
                var source = Path.Combine(staging, (index++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                await File.WriteAllBytesAsync(source, file.Content, context.Cancellation);
                File.SetLastWriteTimeUtc(source, DateTimeOffset.FromUnixTimeSeconds(context.SourceDateEpoch).UtcDateTime);
                await tools.RunAsync("mcopy", ["-m", "-i", imagePath, source, "::" + file.Path], environment: environment, ct: context.Cancellation);
            }
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
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
