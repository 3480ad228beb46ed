using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

public sealed class TransferRetryTests
{
    private static readonly Uri Url = new("http://user:secret@mirror.example/debian/pool/a.deb");

    [Fact]
    public async Task A_broken_transfer_is_run_again_and_the_last_failure_names_the_count_without_the_password()
    {
        var log = new RecordingBuildLog();
        var runs = 0;

        var e = await Assert.ThrowsAsync<EdgeImageException>(() =>
            TransferRetry.RunAsync<int>("a.deb", Url, 3, "the hint", () => { runs++; throw new IOException("connection reset"); }, log));

        Assert.Equal(3, runs);
        Assert.Equal(2, log.Warnings.Count);
        Assert.Equal("a.deb: transfer from http://user:***@mirror.example/debian/pool/a.deb failed 3 times: connection reset", e.Message);
        Assert.Equal("the hint", e.Hint);
        Assert.DoesNotContain(log.Warnings, w => w.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_full_disk_is_not_retried_and_not_blamed_on_the_network()
    {
        var runs = 0;

        var e = await Assert.ThrowsAsync<IOException>(() =>
            TransferRetry.RunAsync<int>("a.deb", Url, 3, "the hint", () => { runs++; throw new IOException("No space left on device : '/cache/x'"); }, new RecordingBuildLog()));

        Assert.Equal(1, runs);
        Assert.True(HostIoError.IsDiskFull(e));
    }

    [Fact]
    public async Task A_transfer_that_succeeds_on_its_second_run_returns_its_result()
    {
        var runs = 0;

        var result = await TransferRetry.RunAsync("a.deb", Url, 3, "the hint", () => ++runs < 2 ? throw new IOException("stalled") : Task.FromResult(42), new RecordingBuildLog());

        Assert.Equal((42, 2), (result, runs));
    }
}
