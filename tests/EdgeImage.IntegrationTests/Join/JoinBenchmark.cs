using System.Globalization;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>
/// Not a test of `make test` (Category=bench is filtered out there): bench/run.sh runs it to measure
/// the time from QEMU's start to the device's join request at the fake control plane, one boot alone
/// on the machine, and reads the figure from $EDGEIMAGE_BENCH_OUT/join.txt. It still fails when the
/// device does not join, so a benchmark never reports a time for a boot that did not work.
/// </summary>
[Trait("Category", "bench")]
public sealed class JoinBenchmark
{
    [Fact]
    public async Task Time_from_QEMU_start_to_the_join_request()
    {
        var image = await JoinImage.GetAsync(JoinBoard.GenericX86_64);
        await using var fake = new FakeControlPlane();
        await fake.StartAsync();
        var work = Directory.CreateTempSubdirectory("edgeimage-join-bench-");
        try
        {
            var disk = JoinDisk.Copy(image, work.FullName, "bench.img");
            await JoinDisk.SeedAsync(disk, ValidJoinBoots.Seed("node-bench", fake.JoinToken));
            var boot = await JoinDisk.BootAsync(JoinBoard.GenericX86_64, disk, fake);

            var toRequest = Assert.IsType<TimeSpan>(boot.ToFirstRequest);
            Assert.Equal("yes", boot.Check?["joined"]);
            var output = Environment.GetEnvironmentVariable("EDGEIMAGE_BENCH_OUT");
            if (!string.IsNullOrEmpty(output))
            {
                await File.WriteAllTextAsync(Path.Combine(output, "join.txt"), string.Create(CultureInfo.InvariantCulture,
                    $"to_join_request_s={toRequest.TotalSeconds:0.0}\nboot_total_s={boot.Result.Elapsed.TotalSeconds:0.0}\n"));
                // The guest's console, for finding where the time went.
                File.Copy(disk + ".console.log", Path.Combine(output, "join-console.log"), overwrite: true);
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
