using System.Collections.Concurrent;
using EdgeImage.Packages;

namespace EdgeImage.Tests.Packages;

/// <summary>
/// Test double of a mirror in the middle of a sync: for URLs ending in <paramref name="suffix"/> it
/// serves <paramref name="wrongContent"/> the first <paramref name="wrongTimes"/> times, otherwise
/// it reads the real (local) mirror.
/// </summary>
public sealed class MidSyncMirrorDouble(IMirrorFetcher real, string suffix, int wrongTimes, byte[] wrongContent) : IMirrorFetcher
{
    private int _served;

    public ConcurrentQueue<Uri> Requests { get; } = new();

    public Task<Stream?> OpenAsync(Uri url, CancellationToken cancellation)
    {
        Requests.Enqueue(url);
        if (url.AbsolutePath.EndsWith(suffix, StringComparison.Ordinal) && Interlocked.Increment(ref _served) <= wrongTimes)
        {
            return Task.FromResult<Stream?>(new MemoryStream(wrongContent));
        }
        return real.OpenAsync(url, cancellation);
    }
}

/// <summary>Test double for offline builds: any fetch is a failure of the test.</summary>
public sealed class NoNetworkDouble : IMirrorFetcher
{
    public Task<Stream?> OpenAsync(Uri url, CancellationToken cancellation) =>
        throw new InvalidOperationException($"offline build touched the network: {url}");
}

/// <summary>Test double that passes requests to the real fetcher and records them.</summary>
public sealed class RecordingFetcherDouble(IMirrorFetcher real) : IMirrorFetcher
{
    public ConcurrentQueue<Uri> Requests { get; } = new();

    public Task<Stream?> OpenAsync(Uri url, CancellationToken cancellation)
    {
        Requests.Enqueue(url);
        return real.OpenAsync(url, cancellation);
    }
}
