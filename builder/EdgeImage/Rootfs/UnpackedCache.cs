using System.Globalization;
using System.Security.Cryptography;

namespace EdgeImage.Rootfs;

/// <summary>
/// Decompressed data archives of .debs, kept by the .deb's SHA256 (CACHE/unpacked/ab/abcdef....tar),
/// so a warm build reads plain tar instead of decompressing xz again. Most of Debian compresses its
/// data with xz, which decodes on one core at about 35 MB/s here: the kernel package alone (108 MB)
/// took 3.3 s with `xz -dc`, the longest single step of composing generic-x86_64.
///
/// An entry is only ever written while its .deb is unpacked, after the .deb's own hash matched the
/// signed index; it goes to a temporary file that is renamed into place once the archive has been
/// read to its end, together with a sidecar holding the entry's SHA256 and size. Every use re-hashes
/// the entry against its sidecar (SHA-NI: ~0.1 s for the kernel's), so rot or a torn write is
/// caught and the entry is dropped and rebuilt from the .deb. Like the .deb cache, the directory is
/// trusted as far as its owner is: it is no defence against someone who may write to it.
/// </summary>
public sealed class UnpackedCache(string root)
{
    private long _tempCounter;

    public string Root { get; } = Path.Combine(root, "unpacked");

    public string PathFor(string debSha256) => Path.Combine(Root, debSha256[..2], debSha256 + ".tar");

    private static string SidecarOf(string path) => path + ".sha256";

    /// <summary>The entry for this .deb when it is present and still matches its sidecar; otherwise null (and a damaged entry is deleted).</summary>
    public Stream? TryOpen(string debSha256)
    {
        var path = PathFor(debSha256);
        var sidecar = SidecarOf(path);
        if (!File.Exists(path) || !File.Exists(sidecar))
        {
            return null;
        }
        FileStream? stream = null;
        try
        {
            var expected = File.ReadAllText(sidecar).Split(' ', 2, StringSplitOptions.TrimEntries);
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
            var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (expected.Length == 2 && actual == expected[0] && stream.Length.ToString(CultureInfo.InvariantCulture) == expected[1])
            {
                stream.Position = 0;
                return stream;
            }
        }
        catch (IOException)
        {
            // Unreadable counts as damaged: the .deb is still there to rebuild the entry from.
        }
        stream?.Dispose();
        File.Delete(path);
        File.Delete(sidecar);
        return null;
    }

    /// <summary>
    /// Wraps the decompressed archive of a verified .deb so that everything read through it also
    /// goes into a new cache entry; <see cref="Filling.Commit"/> publishes the entry once the
    /// archive has been read to its end, disposing without committing leaves nothing behind.
    /// </summary>
    public Filling Fill(Stream decompressed, string debSha256)
    {
        var final = PathFor(debSha256);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        var temp = $"{final}.{Environment.ProcessId}.{Interlocked.Increment(ref _tempCounter)}.partial";
        return new Filling(decompressed, temp, final);
    }

    /// <summary>A read-through stream that copies what it reads into a temporary cache file.</summary>
    public sealed class Filling(Stream source, string temp, string final) : Stream
    {
        private readonly FileStream _copy = new(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;
        private bool _committed;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = source.Read(buffer);
            _copy.Write(buffer[..read]);
            _hash.AppendData(buffer[..read]);
            _length += read;
            return read;
        }

        /// <summary>Reads what the tar reader left (end-of-archive padding), then renames the entry into place.</summary>
        public void Commit()
        {
            CopyTo(Null);
            // No fsync: every use re-hashes the entry, so one torn by a crash is caught there.
            _copy.Flush();
            _copy.Dispose();
            File.WriteAllText(SidecarOf(temp), $"{Convert.ToHexStringLower(_hash.GetHashAndReset())} {_length.ToString(CultureInfo.InvariantCulture)}\n");
            // The sidecar first: an entry without one is ignored, so a crash between the two renames is harmless.
            File.Move(SidecarOf(temp), SidecarOf(final), overwrite: true);
            File.Move(temp, final, overwrite: true);
            _committed = true;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                source.Dispose();
                _copy.Dispose();
                _hash.Dispose();
                if (!_committed)
                {
                    File.Delete(temp);
                    File.Delete(SidecarOf(temp));
                }
            }
            base.Dispose(disposing);
        }
    }
}
