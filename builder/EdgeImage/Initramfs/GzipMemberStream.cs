using System.Buffers.Binary;
using System.IO.Compression;
using EdgeImage.Disk;

namespace EdgeImage.Initramfs;

/// <summary>
/// A write-only gzip stream whose header carries no name, a zero mtime and a fixed OS byte.
/// GZipStream takes its OS byte from the platform zlib was built for, so the framing is written
/// here around a plain DeflateStream to keep the bytes the same on every build host.
/// </summary>
internal sealed class GzipMemberStream : Stream
{
    private const byte OsUnix = 3;

    private readonly Stream _inner;
    private readonly DeflateStream _deflate;
    private uint _crc;
    private long _length;
    private bool _finished;

    public GzipMemberStream(Stream inner, CompressionLevel level)
    {
        _inner = inner;
        ReadOnlySpan<byte> header = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, OsUnix];
        _inner.Write(header);
        _deflate = new DeflateStream(inner, level, leaveOpen: true);
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !_finished;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _crc = Crc32.Append(_crc, buffer);
        _length += buffer.Length;
        _deflate.Write(buffer);
    }

    public override void Flush() => _deflate.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_finished)
        {
            _finished = true;
            _deflate.Dispose();
            Span<byte> trailer = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, _crc);
            BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], (uint)_length);
            _inner.Write(trailer);
        }

        base.Dispose(disposing);
    }
}
