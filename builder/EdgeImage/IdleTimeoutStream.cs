using System.Globalization;

namespace EdgeImage;

/// <summary>
/// The body of an HTTP response, read with an idle timeout: a read that gets no byte within
/// <paramref name="idleTimeout"/> fails with an IOException naming <paramref name="source"/> (the
/// timer starts again with every read). A server that stalls mid-transfer keeps the connection open
/// without sending, and HttpClient's own timeout ends with the headers, so without this a build
/// would wait for ever. A stall, and any other failure reading the body (a connection reset), is a
/// <see cref="TransferBrokenException"/>: what the retries (<see cref="Packages.TransferRetry"/>)
/// fetch again, as opposed to a local file error. Disposing the stream disposes
/// <paramref name="owner"/> (the response).
/// </summary>
public sealed class IdleTimeoutStream(Stream body, string source, TimeSpan idleTimeout, IDisposable? owner = null) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    // The synchronous path goes through the bounded asynchronous one: the body stream offers no
    // read timeout of its own.
    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(idleTimeout);
        try
        {
            return await body.ReadAsync(buffer, idle.Token);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TransferBrokenException($"no data from {source} for {idleTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s", e);
        }
        catch (IOException e) when (e is not TransferBrokenException)
        {
            throw new TransferBrokenException(e.Message, e);
        }
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            body.Dispose();
            owner?.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// The body of a download broke off or stalled: the remote end's failure, worth fetching again. A
/// local file error (a full or read-only disk under the cache) is a plain IOException instead.
/// </summary>
public sealed class TransferBrokenException(string message, Exception inner) : IOException(message, inner);
