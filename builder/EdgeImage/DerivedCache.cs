using System.Globalization;
using System.Security.Cryptography;

namespace EdgeImage;

/// <summary>
/// Files the builder derives from verified inputs and keeps between builds because deriving them
/// again is slow: CACHE/NAME/ab/abcdef....EXT, keyed by a SHA256 of everything the file depends
/// on. Uses: "unpacked" holds each .deb's decompressed data archive, keyed by the .deb's SHA256
/// (most of Debian's data is xz, which decodes at ~35 MB/s on one core here; the kernel package
/// alone took 3.3 s with `xz -dc`); "modinfo" holds each kernel module's dependencies, keyed by
/// the module's SHA256; "depmod" holds the module indexes depmod wrote for a kernel's exact set of
/// modules; "initramfs" holds zstd-compressed initramfs images, keyed by the uncompressed cpio and
/// the compressor's version and level (managed zstd took ~0.3 CPU-seconds of every build for it).
///
/// An entry is only written from inputs that passed verification, to a temporary file renamed into
/// place when complete, with a sidecar holding the entry's SHA256 and size. Every use re-hashes the
/// entry against its sidecar (SHA-NI: ~0.1 s for the kernel's 112 MB), so rot or a write torn by a
/// crash is caught and the entry is dropped and derived again. Like the download cache, the
/// directory is trusted as far as its owner is: it is no defence against someone who may write to it.
/// </summary>
public sealed class DerivedCache(string cacheDir, string name, string extension = ".tar")
{
    public string Root { get; } = Path.Combine(cacheDir, name);

    public string PathFor(string key) => Path.Combine(Root, key[..2], key + extension);

    private static string SidecarOf(string path) => path + ".sha256";

    /// <summary>The entry when it is present and still matches its sidecar; otherwise null (and a damaged entry is deleted).</summary>
    public FileStream? TryOpen(string key)
    {
        var path = PathFor(key);
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
            var (actual, length) = FileDigest.Sha256(stream.SafeFileHandle);
            if (expected.Length == 2 && actual == expected[0] && length.ToString(CultureInfo.InvariantCulture) == expected[1])
            {
                stream.Position = 0;
                return stream;
            }
        }
        catch (IOException)
        {
            // Unreadable counts as damaged: the inputs are still there to derive the entry from.
        }
        stream?.Dispose();
        File.Delete(path);
        File.Delete(sidecar);
        return null;
    }

    /// <summary>
    /// Wraps a stream being derived (e.g. a verified .deb's decompressed archive) so that everything
    /// read through it also goes into a new entry; <see cref="Filling.Commit"/> publishes the entry
    /// once the source has been read to its end, disposing without committing leaves nothing behind.
    /// </summary>
    public Filling Fill(Stream source, string key)
    {
        var final = PathFor(key);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        var temp = PartialFile.Beside(final);
        return new Filling(source, temp, final);
    }

    /// <summary>Stores a whole entry at once.</summary>
    public void Store(string key, byte[] content)
    {
        using var filling = Fill(new MemoryStream(content, writable: false), key);
        filling.Commit();
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
