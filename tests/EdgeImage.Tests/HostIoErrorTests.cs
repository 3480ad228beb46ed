namespace EdgeImage.Tests;

public class HostIoErrorTests
{
    [Fact]
    public void A_full_disk_is_told_as_such_with_where_to_free_space()
    {
        // /dev/full answers every write with ENOSPC: the exception is the one a full output disk gives.
        var full = Assert.ThrowsAny<IOException>(() =>
        {
            using var stream = new FileStream("/dev/full", FileMode.Open, FileAccess.Write);
            stream.Write(new byte[4096]);
            stream.Flush();
        });

        Assert.True(HostIoError.Handles(full));
        Assert.Contains("free space", HostIoError.Hint(full), StringComparison.Ordinal);
        Assert.Contains("--cache-dir", HostIoError.Hint(full), StringComparison.Ordinal);
    }

    [Fact]
    public void A_refused_path_asks_for_another_output_or_its_permissions()
    {
        var refused = new UnauthorizedAccessException("Access to the path '/out/edge.img' is denied.");

        Assert.True(HostIoError.Handles(refused));
        Assert.Contains("--out", HostIoError.Hint(refused), StringComparison.Ordinal);
    }

    [Fact]
    public void Other_failures_are_not_taken_for_host_file_errors()
    {
        Assert.False(HostIoError.Handles(new InvalidOperationException("a bug")));
        Assert.Equal("rerun with -v to see where it happened", HostIoError.Hint(new IOException("pipe closed")));
    }
}
