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

    [Fact]
    public async Task Two_caches_over_one_directory_store_the_same_content_at_the_same_time()
    {
        // Two builds in one process (parallel tests do this) fetch the same index into one cache:
        // while the first is still writing, the second stores the same content to completion.
        var data = Encoding.ASCII.GetBytes("Packages index");
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));
        var paused = new PausedStreamDouble(data);
        var first = new ContentCache(_root, _log).StoreAsync(paused, sha, data.Length, null, default);
        await paused.Reading.WaitAsync(TimeSpan.FromSeconds(30));

        var second = await new ContentCache(_root, _log).StoreAsync(new MemoryStream(data), sha, data.Length, null, default);
        paused.Resume();
        var firstWrite = await first.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(second.Stored);
        Assert.True(firstWrite.Stored);
        Assert.Equal(data, File.ReadAllBytes(second.Path));
        Assert.Equal([second.Path], Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    /// <summary>Test double of a download that stalls after its first read until the test resumes it.</summary>
    private sealed class PausedStreamDouble(byte[] data) : Stream
    {
        private readonly TaskCompletionSource _reading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _position;

        public Task Reading => _reading.Task;

        public void Resume() => _resume.TrySetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _reading.TrySetResult();
            await _resume.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            var count = Math.Min(buffer.Length, data.Length - _position);
            data.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
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
