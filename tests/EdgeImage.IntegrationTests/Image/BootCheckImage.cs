using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>An image the CLI built, with its manifest and how the build went.</summary>
public sealed record BuiltImage
{
    public required string Directory { get; init; }

    public required ImageManifest Manifest { get; init; }

    /// <summary>The manifest as written, byte for byte.</summary>
    public required byte[] ManifestBytes { get; init; }

    public required CliResult Build { get; init; }

    public required TimeSpan Elapsed { get; init; }

    /// <summary>The uid the build ran as.</summary>
    public required int BuilderUid { get; init; }

    public string ImagePath => Path.Combine(Directory, EdgeImage.ImageBuild.ImageName);

    public EdgeImage.Boot.DiskPartition Partition(string name) => Manifest.Partitions.Single(p => p.Name == name);

    private static readonly JsonSerializerOptions ManifestJson = new(JsonSerializerDefaults.Web);

    public static BuiltImage Read(string directory, CliResult build, TimeSpan elapsed, int builderUid)
    {
        var bytes = File.ReadAllBytes(Path.Combine(directory, EdgeImage.ImageBuild.ManifestName));
        return new BuiltImage
        {
            Directory = directory,
            Manifest = JsonSerializer.Deserialize<ImageManifest>(bytes, ManifestJson)!,
            ManifestBytes = bytes,
            Build = build,
            Elapsed = elapsed,
            BuilderUid = builderUid,
        };
    }
}

/// <summary>
/// The one image of generic-x86_64 the image tests share: the test profile
/// (profiles/generic-x86_64-boot-check.yaml) that adds the boot-check overlay, built once per test
/// run by the CLI as an unprivileged user. Tests that change a disk boot copies of it.
/// </summary>
public static class BootCheckImage
{
    /// <summary>A build of the whole image on a loaded two-core machine with a cold cache stays well inside this.</summary>
    public static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    private static readonly Lazy<Task<BuiltImage>> Shared = new(() => HeavyWork.RunAsync(BuildUnprivilegedAsync));

    /// <summary>
    /// SOURCE_DATE_EPOCH of every build in this run, so two builds can be compared byte for byte.
    /// It is also the time InRelease signatures are checked against, so it cannot be a constant of
    /// the repository (a newer InRelease would be "signed in the future"); the start of the run is.
    /// </summary>
    public static long SourceDateEpoch { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static Task<BuiltImage> GetAsync() => Shared.Value;

    public static IReadOnlyDictionary<string, string?> BuildEnvironment => new Dictionary<string, string?>
    {
        ["SOURCE_DATE_EPOCH"] = SourceDateEpoch.ToString(CultureInfo.InvariantCulture),
    };

    private static async Task<BuiltImage> BuildUnprivilegedAsync()
    {
        var cli = UnprivilegedCli.Shared;
        // A parent of its own: the build's scratch directory sits beside --out, and the layout tests
        // check it is gone while the join images build concurrently beside theirs.
        var output = Path.Combine(cli.Output, "boot-check", "generic-x86_64-boot-check");
        var clock = Stopwatch.StartNew();
        var result = await cli.RunAsync(["build", "--profile", cli.BootCheckProfile, "--out", output, "--no-k0s"], BuildTimeout, BuildEnvironment);
        clock.Stop();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"the shared image did not build as uid {cli.Uid}:\n{result}");
        }
        return BuiltImage.Read(output, result, clock.Elapsed, cli.Uid);
    }
}

/// <summary>Waits for the shared image before a collection's tests start, so their time limits cover only their own work.</summary>
public sealed class BootCheckImageFixture : IAsyncLifetime
{
    public BuiltImage Image { get; private set; } = null!;

    public async Task InitializeAsync() => Image = await BootCheckImage.GetAsync();

    public Task DisposeAsync() => Task.CompletedTask;
}
