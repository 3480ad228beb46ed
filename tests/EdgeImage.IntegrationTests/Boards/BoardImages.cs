using System.Diagnostics;
using System.Formats.Tar;
using System.Text.Json;
using EdgeImage.IntegrationTests.Image;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>An image of a board's test profile built once per test run by the CLI, shared by the tests of its board.</summary>
public sealed record BoardImage(string Profile, string Directory, JsonElement Manifest)
{
    public TimeSpan BuildTime { get; init; }

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
/// One build per board for the whole run, of the test profile that adds the boot-check overlay to a
/// shipped profile (profiles/&lt;profile&gt;-boot-check.yaml), so the layout and ELF tests read the
/// same image the boot tests boot. The output lives under the system temp directory and is deleted
/// when the test run ends (several GiB of disk copies per run); set EDGEIMAGE_KEEP_TEST_OUTPUT=1 to
/// keep it for inspection until the next run starts.
/// </summary>
public static class BoardImages
{
    /// <summary>A warm-cache build takes about a minute on a loaded two-core host; a cold cache downloads some 300 MiB per architecture.</summary>
    public static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(20);

    public const string TestProfileSuffix = "-boot-check";

    private static readonly Dictionary<string, Lazy<Task<BoardImage>>> Builds = new(StringComparer.Ordinal);

    private static readonly string Output = CreateOutput();

    private const string OutputPrefix = "edgeimage-boards-";

    private static string CreateOutput()
    {
        RemoveStaleOutputs();
        var output = System.IO.Directory.CreateTempSubdirectory($"{OutputPrefix}{Environment.ProcessId}-").FullName;
        if (Environment.GetEnvironmentVariable("EDGEIMAGE_KEEP_TEST_OUTPUT") is not ("1" or "true"))
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                try
                {
                    System.IO.Directory.Delete(output, recursive: true);
                }
                catch (IOException)
                {
                    // A QEMU the run could not stop may still hold a disk open; the next run removes it.
                }
            };
        }
        return output;
    }

    /// <summary>
    /// Removes what earlier runs left: the test host may be stopped before its exit handler has
    /// deleted several GiB of disk copies (seen after filtered runs), and those piled up to tens of
    /// GiB. A directory is stale when the process named in it no longer runs.
    /// </summary>
    private static void RemoveStaleOutputs()
    {
        foreach (var directory in System.IO.Directory.EnumerateDirectories(Path.GetTempPath(), OutputPrefix + "*"))
        {
            var rest = Path.GetFileName(directory)[OutputPrefix.Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(rest[..dash], System.Globalization.CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId && !System.IO.Directory.Exists($"/proc/{pid}"))
            {
                try
                {
                    System.IO.Directory.Delete(directory, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Another run may be removing it at the same time.
                }
            }
        }
    }

    public static string Work(string name) => System.IO.Directory.CreateDirectory(Path.Combine(Output, name)).FullName;

    /// <summary>The image of <paramref name="profile"/> (a shipped profile's name) with the boot-check overlay.</summary>
    public static Task<BoardImage> GetAsync(string profile)
    {
        lock (Builds)
        {
            if (!Builds.TryGetValue(profile, out var build))
            {
                // Builds and boots share the suite's two heavy-work slots (Image/HeavyWork.cs).
                Builds[profile] = build = new Lazy<Task<BoardImage>>(() => HeavyWork.RunAsync(() => BuildAsync(profile)));
            }
            return build.Value;
        }
    }

    private static async Task<BoardImage> BuildAsync(string profile)
    {
        var directory = Path.Combine(Output, profile);
        var testProfile = Path.Combine(Cli.RepositoryRoot, "tests", "EdgeImage.IntegrationTests", "profiles", profile + TestProfileSuffix + ".yaml");
        var clock = Stopwatch.StartNew();
        var result = await Cli.RunAsync(["build", "--profile", testProfile, "--out", directory, "--no-k0s"],
            new CliOptions { Timeout = BuildTimeout, Environment = BootCheckImage.BuildEnvironment });
        clock.Stop();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{profile}{TestProfileSuffix} did not build:\n{result}");
        }
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, ImageBuild.ManifestName)));
        return new BoardImage(profile, directory, manifest.RootElement.Clone()) { BuildTime = clock.Elapsed };
    }
}
