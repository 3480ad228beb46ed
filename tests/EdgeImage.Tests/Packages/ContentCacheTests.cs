using System.Security.Cryptography;
using System.Text;
using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

public sealed class ContentCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("eig-cas-").FullName;
    private readonly RecordingBuildLog _log = new();

    [Fact]
    public async Task Stores_verified_content_under_its_hash_and_hands_it_out_again()
    {
        var data = Encoding.ASCII.GetBytes("package data");
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));
        var cache = new ContentCache(_root, _log);

        var write = await cache.StoreAsync(new MemoryStream(data), sha, data.Length, null, default);

        Assert.True(write.Stored);
        Assert.Equal(Path.Combine(_root, "sha256", sha[..2], sha), write.Path);
        Assert.Equal(write.Path, await cache.TryGetAsync(sha, data.Length, default));
        Assert.Equal([write.Path], Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Stops_reading_an_endless_download_one_byte_past_the_expected_size_and_stores_nothing()
    {
        var cache = new ContentCache(_root, _log);
        var endless = new EndlessStreamDouble();

        var write = await cache.StoreAsync(endless, new string('0', 64), 1000, null, default);

        Assert.False(write.Stored);
        Assert.Equal("more than 1000 bytes", write.Describe());
        Assert.InRange(endless.Served, 1001, 1001 + (1 << 16));
        Assert.Empty(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Deletes_and_reports_an_entry_whose_content_no_longer_matches_its_name()
    {
        var data = Encoding.ASCII.GetBytes("package data");
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));
        var cache = new ContentCache(_root, _log);
        var path = (await cache.StoreAsync(new MemoryStream(data), sha, data.Length, null, default)).Path;
        File.WriteAllText(path, "package dat4");

        Assert.Null(await cache.TryGetAsync(sha, data.Length, default));
        Assert.False(File.Exists(path));
        Assert.Contains($"cache entry {path} is damaged", Assert.Single(_log.Warnings));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Test double of a server that never stops sending.</summary>
    private sealed class EndlessStreamDouble : Stream
    {
        public long Served { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Served; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)'x', offset, count);
            Served += count;
            return count;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
