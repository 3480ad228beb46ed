using System.Collections.Concurrent;

namespace EdgeImage.Rootfs;

/// <summary>
/// Keeps file contents out of memory: regular files of the rootfs are appended to staging files
/// under the build's work directory and referenced by offset. Each .deb gets its own segment so
/// packages can be decompressed in parallel; one file per package instead of one per entry keeps
/// unpacking fast. Replaced files simply leave unused bytes behind. A package whose data archive
/// comes from the derived cache writes nothing here: its segment is that verified archive.
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

/// <summary>
/// One append-only staging file, written by one thread at a time and readable from any; or, for a
/// package read from the derived cache, that verified archive itself (<see cref="Adopt"/>), so its
/// files are referenced where they are instead of being copied.
/// </summary>
internal sealed class ContentSegment(int id, string path) : IDisposable
{
    private readonly byte[] _buffer = new byte[1 << 16];
    private readonly Lock _gate = new();
    private FileStream? _file;
    private FileStream? _adopted;

    /// <summary>The staging file, created when the first content is appended.</summary>
    private FileStream Staging => _file ??= new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite, 1 << 20);

    public FileContent Append(Stream source, long length, string origin)
    {
        lock (_gate)
        {
            var file = Staging;
            var offset = file.Position;
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
                file.Write(_buffer, 0, read);
                remaining -= read;
            }
            return new FileContent(id, offset, length);
        }
    }

    public FileContent Append(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            var file = Staging;
            var offset = file.Position;
            file.Write(bytes);
            return new FileContent(id, offset, bytes.Length);
        }
    }

    /// <summary>
    /// Makes this (still empty) segment the read-only file <paramref name="verified"/>, which it
    /// keeps open and closes on Dispose without deleting it; contents are then named by
    /// <see cref="Reference"/>. The open handle keeps reading the file that was verified even if
    /// the cache replaces or deletes that entry meanwhile.
    /// </summary>
    public void Adopt(FileStream verified)
    {
        lock (_gate)
        {
            if (_file is not null || _adopted is not null)
            {
                throw new InvalidOperationException($"content segment {id} already holds content");
            }
            _adopted = verified;
        }
    }

    /// <summary>A file's bytes at <paramref name="offset"/> of the adopted file, checked to lie inside it.</summary>
    public FileContent Reference(long offset, long length, string origin) =>
        _adopted is { } file && offset >= 0 && length >= 0 && offset + length <= file.Length
            ? new FileContent(id, offset, length)
            : throw new EdgeImageException(
                $"{origin}: file data ends after {Math.Max(0, (_adopted?.Length ?? 0) - offset)} of {length} bytes",
                "The package is truncated or corrupt; delete it from the cache and download it again.");

    public Stream OpenRead(FileContent content)
    {
        if (_adopted is { } adopted)
        {
            return new StreamWindow(adopted, content.Offset, content.Length);
        }
        lock (_gate)
        {
            _file!.Flush();
        }
        return new StreamWindow(_file, content.Offset, content.Length);
    }

    public void Dispose()
    {
        _adopted?.Dispose();
        if (_file is not null)
        {
            _file.Dispose();
            File.Delete(path);
        }
    }
}
