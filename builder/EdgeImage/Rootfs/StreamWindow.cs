namespace EdgeImage.Rootfs;

/// <summary>
/// A read-only window [start, start+length) of a seekable stream, read from its own position. Over a
/// file it uses positional reads, so several windows (and a writer appending to the same file)
/// never disturb each other; over any other stream it seeks before each read.
/// </summary>
internal sealed class StreamWindow(Stream inner, long start, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        if (n <= 0)
        {
            return 0;
        }
        int read;
        if (inner is FileStream file)
        {
            read = RandomAccess.Read(file.SafeFileHandle, buffer[..n], start + _position);
        }
        else
        {
            if (inner.Position != start + _position)
            {
                inner.Seek(start + _position, SeekOrigin.Begin);
            }
            read = inner.Read(buffer[..n]);
        }
        _position += read;
        return read;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
