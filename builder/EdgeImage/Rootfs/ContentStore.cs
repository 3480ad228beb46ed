using System.Collections.Concurrent;

namespace EdgeImage.Rootfs;

/// <summary>
/// Keeps file contents out of memory: regular files of the rootfs are appended to staging files
/// under the build's work directory and referenced by offset. Each .deb gets its own segment so
/// packages can be decompressed in parallel; one file per package instead of one per entry keeps
/// unpacking fast. Replaced files simply leave unused bytes behind.
/// </summary>
internal sealed class ContentStore : IDisposable
{
    private readonly string _directory;
    private readonly ConcurrentDictionary<int, ContentSegment> _segments = new();
    private int _lastSegment = -1;

    public ContentStore(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        Generated = NewSegment();
    }

    /// <summary>The segment for files the builder writes itself.</summary>
    public ContentSegment Generated { get; }

    public ContentSegment NewSegment()
    {
        var id = Interlocked.Increment(ref _lastSegment);
        var segment = new ContentSegment(id, Path.Combine(_directory, $"content-{id:D5}.bin"));
        _segments[id] = segment;
        return segment;
    }

    public Stream OpenRead(FileContent content) => _segments[content.Segment].OpenRead(content);

    public byte[] ReadAll(FileContent content)
    {
        var bytes = new byte[content.Length];
        using var s = OpenRead(content);
        s.ReadExactly(bytes);
        return bytes;
    }

    public void Dispose()
    {
        foreach (var segment in _segments.Values)
        {
            segment.Dispose();
        }
    }
}

/// <summary>One append-only staging file; written by one thread at a time, readable from any.</summary>
internal sealed class ContentSegment(int id, string path) : IDisposable
{
    private readonly FileStream _file = new(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite, 1 << 20);
    private readonly byte[] _buffer = new byte[1 << 16];
    private readonly Lock _gate = new();

    public FileContent Append(Stream source, long length, string origin)
    {
        lock (_gate)
        {
            var offset = _file.Position;
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
                _file.Write(_buffer, 0, read);
                remaining -= read;
            }
            return new FileContent(id, offset, length);
        }
    }

    public FileContent Append(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            var offset = _file.Position;
            _file.Write(bytes);
            return new FileContent(id, offset, bytes.Length);
        }
    }

    public Stream OpenRead(FileContent content)
    {
        lock (_gate)
        {
            _file.Flush();
        }
        return new StreamWindow(_file, content.Offset, content.Length);
    }

    public void Dispose()
    {
        _file.Dispose();
        File.Delete(path);
    }
}
