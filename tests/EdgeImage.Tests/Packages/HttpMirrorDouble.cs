using System.Collections.Concurrent;
using System.Net;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

/// <summary>
/// Test double of a Debian mirror (or any download site) over loopback HTTP, serving a
/// <see cref="LocalDebianRepo"/> or a directory under /debian/, that can misbehave as real mirrors
/// do: stall mid-file, refuse a path, ask for a login.
/// </summary>
public sealed class HttpMirrorDouble : IDisposable
{
    private readonly Func<string, string> _pathOf;
    private readonly LoopbackHttpServerDouble _server;
    private int _seen;
    private int _stalled;

    public HttpMirrorDouble(LocalDebianRepo repo)
        : this(repo.PathOf)
    {
    }

    /// <summary>Serves the files below <paramref name="directory"/>.</summary>
    public HttpMirrorDouble(string directory)
        : this(relative => Path.Combine(directory, relative))
    {
    }

    private HttpMirrorDouble(Func<string, string> pathOf)
    {
        _pathOf = pathOf;
        _server = LoopbackHttpServerDouble.Streaming(Serve, "/debian/");
    }

    /// <summary>http://127.0.0.1:PORT/debian/</summary>
    public string Url => _server.Url;

    /// <summary>Requests whose path ends so send the headers and a few bytes, then go silent, <see cref="StallTimes"/> times.</summary>
    public string StallSuffix { get; set; } = "/nothing";

    public int StallTimes { get; set; }

    /// <summary>How many responses stalled so far.</summary>
    public int Stalled => Volatile.Read(ref _stalled);

    /// <summary>Requests whose path ends so are answered with this status and no body.</summary>
    public ConcurrentDictionary<string, int> Refuse { get; } = new();

    /// <summary>When set, every request without exactly this Authorization header gets 401.</summary>
    public string? RequiredAuthorization { get; set; }

    /// <summary>The Authorization header of each request, "" when there was none.</summary>
    public ConcurrentQueue<string> Authorizations { get; } = new();

    public void Dispose() => _server.Dispose();

    private async Task Serve(HttpListenerContext context, CancellationToken stop)
    {
        var path = context.Request.Url!.AbsolutePath;
        var authorization = context.Request.Headers["Authorization"] ?? "";
        Authorizations.Enqueue(authorization);
        var file = _pathOf(Uri.UnescapeDataString(path["/debian/".Length..]));
        var refused = Refuse.FirstOrDefault(r => path.EndsWith(r.Key, StringComparison.Ordinal)).Value;
        var status = RequiredAuthorization is not null && authorization != RequiredAuthorization ? 401
            : refused != 0 ? refused
            : File.Exists(file) ? 200
            : 404;
        if (status != 200)
        {
            context.Response.StatusCode = status;
            context.Response.Close();
            return;
        }
        var bytes = await File.ReadAllBytesAsync(file, stop);
        context.Response.ContentLength64 = bytes.Length;
        if (path.EndsWith(StallSuffix, StringComparison.Ordinal) && Interlocked.Increment(ref _seen) <= StallTimes)
        {
            Interlocked.Increment(ref _stalled);
            await context.Response.OutputStream.WriteAsync(bytes.AsMemory(0, Math.Min(16, bytes.Length - 1)), stop);
            await context.Response.OutputStream.FlushAsync(stop);
            await Task.Delay(Timeout.Infinite, stop);
        }
        await context.Response.OutputStream.WriteAsync(bytes, stop);
        context.Response.Close();
    }
}
