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
            TransferRetry.RunAsync<int>("a.deb", Url, 3, "the hint", () => { runs++; throw new TransferBrokenException("connection reset", new IOException("connection reset")); }, log));

        Assert.Equal(3, runs);
        Assert.Equal(2, log.Warnings.Count);
        Assert.Equal("a.deb: transfer from http://user:***@mirror.example/debian/pool/a.deb failed 3 times: connection reset", e.Message);
        Assert.Equal("the hint", e.Hint);
        Assert.DoesNotContain(log.Warnings, w => w.Contains("secret", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("No space left on device : '/cache/x'")]
    [InlineData("Read-only file system : '/cache/x'")]
    public async Task A_local_file_error_is_not_retried_and_not_blamed_on_the_network(string message)
    {
        var runs = 0;

        var e = await Assert.ThrowsAsync<IOException>(() =>
            TransferRetry.RunAsync<int>("a.deb", Url, 3, "the hint", () => { runs++; throw new IOException(message); }, new RecordingBuildLog()));

        Assert.Equal(1, runs);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public async Task A_body_that_fails_mid_read_is_a_broken_transfer_and_one_that_stalls_says_so()
    {
        await using var reset = new IdleTimeoutStream(new FailingStream(), "mirror.example", TimeSpan.FromSeconds(5));
        var broken = await Assert.ThrowsAsync<TransferBrokenException>(async () => _ = await reset.ReadAsync(new byte[16]));
        Assert.Equal("connection reset by peer", broken.Message);

        var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In);
        await using var silent = new IdleTimeoutStream(pipe, "mirror.example", TimeSpan.FromMilliseconds(200));
        var stalled = await Assert.ThrowsAsync<TransferBrokenException>(async () => _ = await silent.ReadAsync(new byte[16]));
        Assert.Equal("no data from mirror.example for 0.2 s", stalled.Message);
    }

    private sealed class FailingStream : MemoryStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<int>(new IOException("connection reset by peer"));
    }

    [Fact]
    public async Task A_transfer_that_succeeds_on_its_second_run_returns_its_result()
    {
        var runs = 0;

        var result = await TransferRetry.RunAsync("a.deb", Url, 3, "the hint", () => ++runs < 2 ? throw new TransferBrokenException("stalled", new IOException("stalled")) : Task.FromResult(42), new RecordingBuildLog());

        Assert.Equal((42, 2), (result, runs));
    }
}
