using System.Net;
using System.Security.Cryptography;
using System.Text;
using EdgeImage.Oci;
using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Oci;

/// <summary>
/// A registry over loopback HTTP that sends a blob's headers and first bytes and then goes silent
/// with the connection open, as an overloaded registry or its storage can. The pull must give up
/// on that transfer after the idle timeout and fetch the blob again, never wait for ever; a blob that
/// stalls every time fails the pull, naming the image and the blob, with nothing cached.
/// </summary>
public sealed class StalledRegistryTests : IDisposable
{
    private static readonly byte[] Config = """{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"""u8.ToArray();
    private static readonly byte[] Layer = Encoding.ASCII.GetBytes(new string('L', 100_000));

    private readonly string _cache = Directory.CreateTempSubdirectory("eig-oci-stall-").FullName;
    private readonly RecordingBuildLog _log = new();
    private readonly LoopbackHttpServerDouble _server;
    private readonly HttpClient _http = new();
    private readonly byte[] _manifest;
    private int _layerRequests;

    public StalledRegistryTests()
    {
        _manifest = Encoding.UTF8.GetBytes(
            $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{Digest(Config)}}","size":{{Config.Length}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{Digest(Layer)}}","size":{{Layer.Length}}}]}""");
        _server = LoopbackHttpServerDouble.Streaming(Serve);
    }

    /// <summary>How many requests for the layer go silent after their first bytes.</summary>
    private int StallTimes { get; set; }

    private static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    private ImageReference Image => ImageReference.Parse($"127.0.0.1:{_server.Port}/test/app@{Digest(_manifest)}");

    private Task<PulledImage> Pull() =>
        new OciPuller(new RegistryClient(_http)) { IdleTimeout = TimeSpan.FromSeconds(1) }
            .PullAsync(Image, OciPlatform.ForDebian("amd64"), new BuildContext { CacheDir = _cache, WorkDir = _cache, SourceDateEpoch = 1, VerificationTime = DateTimeOffset.UnixEpoch, Log = _log })
            .WaitAsync(TimeSpan.FromSeconds(30));

    [Fact]
    public async Task A_blob_that_stalls_once_is_fetched_again_and_verified()
    {
        StallTimes = 1;

        await Pull();

        Assert.Equal(2, _layerRequests);
        Assert.Equal(Layer, File.ReadAllBytes(new ContentCache(_cache, NullBuildLog.Instance).PathFor(Digest(Layer)["sha256:".Length..])));
        var warning = Assert.Single(_log.Warnings);
        Assert.StartsWith($"{Image}: blob {Digest(Layer)}: transfer from http://127.0.0.1:{_server.Port}/v2/test/app/ broke off (no data from 127.0.0.1:{_server.Port} (blob {Digest(Layer)}) for 1 s); retrying", warning);
    }

    [Fact]
    public async Task A_blob_that_stalls_every_time_fails_the_pull_and_is_not_cached()
    {
        StallTimes = int.MaxValue;

        var e = await Assert.ThrowsAsync<EdgeImageException>(Pull);

        Assert.Equal(3, _layerRequests);
        Assert.Contains($"blob {Digest(Layer)}: transfer from http://127.0.0.1:{_server.Port}/v2/test/app/ failed 3 times: no data from", e.Message);
        Assert.False(File.Exists(new ContentCache(_cache, NullBuildLog.Instance).PathFor(Digest(Layer)["sha256:".Length..])));
    }

    private async Task Serve(HttpListenerContext context, CancellationToken stop)
    {
        var path = context.Request.Url!.AbsolutePath;
        byte[]? body = path == $"/v2/test/app/manifests/{Digest(_manifest)}" ? _manifest
            : path == $"/v2/test/app/blobs/{Digest(Config)}" ? Config
            : path == $"/v2/test/app/blobs/{Digest(Layer)}" ? Layer
            : null;
        if (body is null)
        {
            context.Response.StatusCode = 404;
            context.Response.Close();
            return;
        }
        context.Response.ContentType = body == _manifest ? "application/vnd.oci.image.manifest.v1+json" : "application/octet-stream";
        context.Response.ContentLength64 = body.Length;
        if (body == Layer && Interlocked.Increment(ref _layerRequests) <= StallTimes)
        {
            await context.Response.OutputStream.WriteAsync(body.AsMemory(0, 16), stop);
            await context.Response.OutputStream.FlushAsync(stop);
            await Task.Delay(Timeout.Infinite, stop);
        }
        await context.Response.OutputStream.WriteAsync(body, stop);
        context.Response.Close();
    }

    public void Dispose()
    {
        _server.Dispose();
        _http.Dispose();
        Directory.Delete(_cache, recursive: true);
    }
}
