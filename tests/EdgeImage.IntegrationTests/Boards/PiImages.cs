using System.Diagnostics;
using System.Formats.Tar;
using System.Text.Json;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>An image of a shipped profile built once per test run by the CLI, shared by the tests of its board.</summary>
public sealed record BoardImage(string Profile, string Directory, JsonElement Manifest)
{
    public string ImagePath => Path.Combine(Directory, ImageBuild.ImageName);

    public JsonElement Partition(string name) => Manifest.GetProperty("partitions").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

    public string DiskId => Manifest.GetProperty("diskGuid").GetString()!;

    /// <summary>Copies one partition's bytes out of the image (or out of a booted copy of it).</summary>
    public string ExtractPartition(string name, string target, string? fromDisk = null)
    {
        var partition = Partition(name);
        using var disk = File.OpenRead(fromDisk ?? ImagePath);
        using var output = File.Create(target);
        disk.Position = partition.GetProperty("offset").GetInt64();
        var left = partition.GetProperty("size").GetInt64();
        var buffer = new byte[1 << 20];
        while (left > 0)
        {
            var read = disk.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            output.Write(buffer, 0, read);
            left -= read;
        }
        return target;
    }

    /// <summary>Every regular file of the root squashfs (slot A) as tar entries, read with sqfs2tar.</summary>
    public IEnumerable<(string Path, byte[] Content)> RootFiles(string work)
    {
        var squashfs = ExtractPartition("root-a", Path.Combine(work, Profile + "-root.sqfs"));
        var start = new ProcessStartInfo("sqfs2tar", [squashfs]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        _ = process.StandardError.ReadToEndAsync();
        using var reader = new TarReader(process.StandardOutput.BaseStream);
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
            {
                using var copy = new MemoryStream();
                data.CopyTo(copy);
                yield return (entry.Name, copy.ToArray());
            }
        }
        process.WaitForExit();
    }
}

/// <summary>
/// One build per profile for the whole run (builds take minutes on a loaded two-core host). The
/// output lives under the system temp directory and is left for inspection after a failure.
/// </summary>
public static class BoardImages
{
    public static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(20);

    private static readonly Dictionary<string, Lazy<Task<BoardImage>>> Builds = new(StringComparer.Ordinal);

    /// <summary>Builds one image at a time: two builds at once only slow each other down.</summary>
    private static readonly SemaphoreSlim OneBuild = new(1);

    private static readonly string Output = System.IO.Directory.CreateTempSubdirectory("edgeimage-boards-").FullName;

    public static string Work(string name) => System.IO.Directory.CreateDirectory(Path.Combine(Output, name)).FullName;

    public static Task<BoardImage> GetAsync(string profile)
    {
        lock (Builds)
        {
            if (!Builds.TryGetValue(profile, out var build))
            {
                Builds[profile] = build = new Lazy<Task<BoardImage>>(() => BuildAsync(profile));
            }
            return build.Value;
        }
    }

    private static async Task<BoardImage> BuildAsync(string profile)
    {
        await OneBuild.WaitAsync();
        try
        {
            var directory = Path.Combine(Output, profile);
            var result = await Cli.RunAsync(["build", "--profile", profile, "--out", directory, "--no-k0s"], new CliOptions { Timeout = BuildTimeout });
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"{profile} did not build:\n{result}");
            }
            using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, ImageBuild.ManifestName)));
            return new BoardImage(profile, directory, manifest.RootElement.Clone());
        }
        finally
        {
            OneBuild.Release();
        }
    }
}
