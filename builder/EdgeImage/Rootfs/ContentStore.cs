namespace EdgeImage.Rootfs;

/// <summary>
/// Keeps file contents out of memory: every regular file of the rootfs is appended to one staging
/// file under the build's work directory and referenced by offset. One file instead of one per
/// entry keeps unpacking fast; replaced files simply leave unused bytes behind.
/// </summary>
internal sealed class ContentStore : IDisposable
{
    private readonly string _path;
    private readonly FileStream _writer;
    private FileStream? _reader;
    private readonly byte[] _buffer = new byte[1 << 16];

    public ContentStore(string directory)
    {
        Directory.CreateDirectory(directory);
        _path = System.IO.Path.Combine(directory, "rootfs-content.bin");
        _writer = new FileStream(_path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1 << 20);
    }

    public FileContent Append(Stream source, long length, string origin)
    {
        var offset = _writer.Position;
        var remaining = length;
        while (remaining > 0)
        {
            var read = source.Read(_buffer, 0, (int)Math.Min(_buffer.Length, remaining));
            if (read == 0)
            {
                throw new EdgeImageException(
                    $"{origin}: file data ends after {length - remaining} of {length} bytes",
                    "The package is truncated or corrupt; delete it from the cache and download it again.");
            }
            _writer.Write(_buffer, 0, read);
            remaining -= read;
        }
        return new FileContent(offset, length);
    }

    public FileContent Append(ReadOnlySpan<byte> bytes)
    {
        var offset = _writer.Position;
        _writer.Write(bytes);
        return new FileContent(offset, bytes.Length);
    }

    public Stream OpenRead(FileContent content)
    {
        _writer.Flush();
        _reader ??= new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        return new ContentSlice(_reader, content.Offset, content.Length);
    }

    public byte[] ReadAll(FileContent content)
    {
        var bytes = new byte[content.Length];
        using var s = OpenRead(content);
        s.ReadExactly(bytes);
        return bytes;
    }

    public void Dispose()
    {
        _reader?.Dispose();
        _writer.Dispose();
        File.Delete(_path);
    }

    /// <summary>Read-only window onto the shared reader; positional reads so slices do not disturb each other.</summary>
    private sealed class ContentSlice(FileStream file, long offset, long length) : Stream
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

        public override int Read(byte[] buffer, int offset1, int count) => Read(buffer.AsSpan(offset1, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            if (n <= 0)
            {
                return 0;
            }
            var read = RandomAccess.Read(file.SafeFileHandle, buffer[..n], offset + _position);
            _position += read;
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset1, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset1, int count) => throw new NotSupportedException();
    }
}
