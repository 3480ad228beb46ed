using System.Security.Cryptography;

namespace EdgeImage.Packages;

/// <summary>What writing a download into the cache came to: stored, or refused with what actually arrived.</summary>
public sealed record CacheWrite(bool Stored, string Path, string ActualSha256, long ActualSize, long ExpectedSize)
{
    /// <summary>Reading stops one byte past the expected size, so the hash of an oversized download is unknown.</summary>
    public bool Oversized => ActualSize > ExpectedSize;

    /// <summary>What arrived, for error messages: its hash and size, or that it was too large.</summary>
    public string Describe() => Oversized
        ? $"more than {ExpectedSize} bytes"
        : $"sha256 {ActualSha256} ({ActualSize} bytes)";
}

/// <summary>
/// Verified files stored by their SHA256 (CACHE/sha256/ab/abcdef...), shared by builds and processes.
/// Only data whose size and hash matched enters; every entry is re-hashed when reused because a
/// cache on disk can rot or be edited, and a damaged entry is then treated as missing.
/// Writes go to a temporary file in the entry's directory, are flushed to disk and renamed into
/// place, so a crash or a concurrent build never sees half a file under a hash name.
/// </summary>
public sealed class ContentCache(string root, IBuildLog log)
{
    public string Root { get; } = root;

    public string PathFor(string sha256) => System.IO.Path.Combine(Root, "sha256", sha256[..2], sha256);

    /// <summary>Returns the entry's path when it exists and still has the expected size and hash.</summary>
    public async Task<string?> TryGetAsync(string sha256, long size, CancellationToken cancellation)
    {
        var path = PathFor(sha256);
        if (!File.Exists(path))
        {
            return null;
        }
        string actual;
        long actualSize;
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete))
        {
            // Hashing a cached file is CPU work on data in the page cache: done on this thread, in large reads.
            (actual, actualSize) = FileDigest.Sha256(file, cancellation);
        }
        if (actual == sha256 && actualSize == size)
        {
            return path;
        }
        log.Warn($"cache entry {path} is damaged (sha256 {actual}, {actualSize} bytes; expected {size} bytes); deleting it and fetching again");
        File.Delete(path);
        return null;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the cache if it has exactly <paramref name="size"/> bytes
    /// and hashes to <paramref name="sha256"/>; otherwise nothing is left behind. Reading stops one
    /// byte past the expected size so an endless or oversized response cannot fill the disk.
    /// </summary>
    public async Task<CacheWrite> StoreAsync(Stream source, string sha256, long size, Action<long>? progress, CancellationToken cancellation)
    {
        var final = PathFor(sha256);
        var directory = System.IO.Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(directory);
        var temp = PartialFile.Beside(System.IO.Path.Combine(directory, "." + sha256));
        var stored = false;
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long total = 0;
            await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var buffer = new byte[1 << 16];
                while (total <= size)
                {
                    var want = (int)Math.Min(buffer.Length, size + 1 - total);
                    var read = await source.ReadAsync(buffer.AsMemory(0, want), cancellation);
                    if (read == 0)
                    {
                        break;
                    }
                    hash.AppendData(buffer, 0, read);
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellation);
                    total += read;
                    progress?.Invoke(read);
                }
                target.Flush(flushToDisk: true);
            }
            var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (total != size || actual != sha256)
            {
                return new CacheWrite(false, final, actual, total, size);
            }
            File.Move(temp, final, overwrite: true);
            stored = true;
            return new CacheWrite(true, final, actual, total, size);
        }
        finally
        {
            if (!stored)
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Reads a named (not content-addressed) entry, e.g. the last verified InRelease of a suite.</summary>
    public byte[]? ReadNamed(string name)
    {
        var path = NamedPath(name);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    /// <summary>Replaces a named entry atomically.</summary>
    public void WriteNamed(string name, byte[] content)
    {
        var path = NamedPath(name);
        var directory = System.IO.Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temp = PartialFile.Beside(path);
        try
        {
            using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                target.Write(content);
                target.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public void DeleteNamed(string name) => File.Delete(NamedPath(name));

    private string NamedPath(string name) => System.IO.Path.Combine(Root, name);
}
