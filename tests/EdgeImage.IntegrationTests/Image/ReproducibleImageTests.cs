using System.Diagnostics;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>
/// Same profile, same packages, same SOURCE_DATE_EPOCH: the same image, bit for bit, whoever
/// builds it. The second build runs as the test process's own user with its own cache and output
/// directory, so neither the builder's uid nor its paths may reach the image. A third build from
/// the second's now warm cache shows the derived caches change nothing either.
/// </summary>
[Collection(ImageLayoutCollection.Name)]
public sealed class ReproducibleImageTests(BootCheckImageFixture fixture, ITestOutputHelper output) : IDisposable
{
    private static readonly string ProfileInRepository = Path.Combine(Cli.RepositoryRoot, "tests", "EdgeImage.IntegrationTests", "profiles", "generic-x86_64-boot-check.yaml");

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-rebuild-");

    [Fact]
    public async Task A_second_build_by_another_user_elsewhere_is_byte_identical()
    {
        var first = fixture.Image;
        var outDir = Path.Combine(_work.FullName, "out");
        var environment = new Dictionary<string, string?>(BootCheckImage.BuildEnvironment)
        {
            ["EDGEIMAGE_CACHE"] = Path.Combine(Path.GetTempPath(), "edgeimage-integration-cache"),
        };

        var clock = Stopwatch.StartNew();
        var result = await HeavyWork.RunAsync(() => Cli.RunAsync(["build", "--profile", ProfileInRepository, "--out", outDir, "--no-k0s"],
            new CliOptions { Environment = environment, Timeout = BootCheckImage.BuildTimeout }));
        clock.Stop();
        Assert.True(result.ExitCode == 0, result.ToString());
        var second = BuiltImage.Read(outDir, result, clock.Elapsed, builderUid: -1);
        output.WriteLine($"first build (uid {first.BuilderUid}) {first.Elapsed.TotalSeconds:0}s, second build {second.Elapsed.TotalSeconds:0}s");

        Assert.Equal(System.Text.Encoding.UTF8.GetString(first.ManifestBytes), System.Text.Encoding.UTF8.GetString(second.ManifestBytes));
        var size = new FileInfo(first.ImagePath).Length;
        Assert.Equal(size, new FileInfo(second.ImagePath).Length);
        var firstDigest = ImageLayoutTests.Sha256Of(first.ImagePath, 0, size);
        Assert.Equal(firstDigest, ImageLayoutTests.Sha256Of(second.ImagePath, 0, size));
        output.WriteLine($"edge.img sha256 {firstDigest} ({size} bytes) both times");

        // Once more from the now warm cache: the resolution, the unpacked archives and the depmod
        // indexes come from the derived caches this time, and must change nothing.
        var warmDir = Path.Combine(_work.FullName, "warm");
        clock.Restart();
        var warm = await HeavyWork.RunAsync(() => Cli.RunAsync(["build", "--profile", ProfileInRepository, "--out", warmDir, "--no-k0s"],
            new CliOptions { Environment = environment, Timeout = BootCheckImage.BuildTimeout }));
        output.WriteLine($"warm rebuild {clock.Elapsed.TotalSeconds:0}s: {warm.Stderr.Split('\n').LastOrDefault(l => l.Contains("stages:", StringComparison.Ordinal))}");
        Assert.True(warm.ExitCode == 0, warm.ToString());
        Assert.Contains("as resolved before against the same verified indexes", warm.Stderr, StringComparison.Ordinal);
        Assert.Equal(firstDigest, ImageLayoutTests.Sha256Of(Path.Combine(warmDir, "edge.img"), 0, size));
    }

    public void Dispose() => _work.Delete(recursive: true);
}
