using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeImage.Packages;

namespace EdgeImage.Oci;

/// <summary>A content-addressed piece of an image: digest (sha256:HEX), size and media type.</summary>
public sealed record OciDescriptor(string MediaType, string Digest, long Size)
{
    public string Hex => Digest["sha256:".Length..];
}

/// <summary>An image pulled for one platform: its manifest and every blob it names, all verified and in the cache.</summary>
public sealed record PulledImage
{
    public required ImageReference Reference { get; init; }

    public required OciPlatform Platform { get; init; }

    /// <summary>The platform's image manifest (equal to the reference's digest when that names a manifest, not an index).</summary>
    public required OciDescriptor Manifest { get; init; }

    /// <summary>Config first, then the layers in manifest order.</summary>
    public required IReadOnlyList<OciDescriptor> Blobs { get; init; }
}

/// <summary>
/// Pulls images pinned by digest into the content cache. The bytes fetched for the pinned digest
/// must hash to it; an index (OCI index or Docker manifest list) is resolved to the profile's
/// platform and the chosen manifest must hash to the digest and size the index gives; the config
/// and every layer are verified by digest and size while they stream into the cache, so a
/// tampered or truncated blob never enters it. Manifests are cached too, so --offline can rebuild.
/// </summary>
public sealed class OciPuller(RegistryClient registry)
{
    private const long MaxManifestSize = 4 << 20;

    /// <summary>
    /// How long a manifest or blob transfer may go without a byte before it counts as broken off and
    /// is fetched again (three tries in all): a registry or its storage that stalls mid-body would
    /// otherwise hold the build for ever.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public async Task<PulledImage> PullAsync(ImageReference image, OciPlatform platform, BuildContext ctx)
    {
        var cache = new ContentCache(ctx.CacheDir, ctx.Log);
        var pinned = new OciDescriptor("", image.Digest, -1);
        var top = await ManifestAsync(image, pinned, cache, ctx);
        var manifest = pinned with { MediaType = top.MediaType, Size = top.Bytes.Length };
        if (top.MediaType is RegistryClient.OciIndex or RegistryClient.DockerManifestList)
        {
            manifest = Choose(image, platform, top.Json);
            var chosen = await ManifestAsync(image, manifest, cache, ctx);
            if (chosen.MediaType is not (RegistryClient.OciManifest or RegistryClient.DockerManifest))
            {
                throw Invalid(image, $"the {platform} entry of its index is a {chosen.MediaType}, not an image manifest");
            }
            top.Json.Dispose();
            top = chosen;
        }
        using var json = top.Json;
        var blobs = Blobs(image, json.RootElement);
        foreach (var blob in blobs)
        {
            await BlobAsync(image, blob, cache, ctx);
        }
        ctx.Log.Verbose($"{image}: {platform} manifest {manifest.Digest}, {blobs.Count} blobs ({blobs.Sum(b => b.Size) >> 10} KiB) verified");
        return new PulledImage { Reference = image, Platform = platform, Manifest = manifest, Blobs = blobs };
    }

    private sealed record Fetched(byte[] Bytes, string MediaType, JsonDocument Json);

    /// <summary>Reads a manifest or index by digest from the cache, or from the registry and verifies it.</summary>
    private async Task<Fetched> ManifestAsync(ImageReference image, OciDescriptor wanted, ContentCache cache, BuildContext ctx)
    {
        byte[] bytes;
        string? headerType = null;
        var cachedPath = await CachedAsync(cache, wanted, ctx);
        if (cachedPath is not null)
        {
            bytes = await File.ReadAllBytesAsync(cachedPath, ctx.Cancellation);
        }
        else
        {
            if (ctx.Offline)
            {
                throw new EdgeImageException($"{image}: manifest {wanted.Digest} is not in the cache {ctx.CacheDir} and the build is offline",
                    "Build once online to pull the image, or drop --offline.", ExitCodes.NotFound);
            }
            (headerType, bytes) = await TransferAsync(image, $"manifest {wanted.Digest}", () => registry.GetManifestAsync(image, wanted.Digest, ctx.Cancellation),
                async (response, body) => (response.Content.Headers.ContentType?.MediaType,
                    await ReadBoundedAsync(body, wanted.Size >= 0 ? wanted.Size : MaxManifestSize, image, wanted.Digest, ctx.Cancellation)), ctx);
            var actual = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (actual != wanted.Digest || (wanted.Size >= 0 && bytes.Length != wanted.Size))
            {
                throw Refused(image, $"the registry sent a manifest with digest {actual} ({bytes.Length} bytes) for {wanted.Digest}"
                    + (wanted.Size >= 0 ? $" ({wanted.Size} bytes)" : ""));
            }
            await cache.StoreAsync(new MemoryStream(bytes), wanted.Hex, bytes.Length, null, ctx.Cancellation);
        }
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw Invalid(image, $"manifest {wanted.Digest} is not JSON ({e.Message})");
        }
        var mediaType = json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("mediaType", out var field)
            ? field.GetString()
            : null;
        mediaType ??= wanted.MediaType is { Length: > 0 } described ? described : headerType;
        // An OCI manifest may omit mediaType; its shape says what it is.
        mediaType ??= json.RootElement.TryGetProperty("manifests", out _) ? RegistryClient.OciIndex
            : json.RootElement.TryGetProperty("layers", out _) ? RegistryClient.OciManifest : null;
        if (mediaType is not (RegistryClient.OciIndex or RegistryClient.OciManifest or RegistryClient.DockerManifestList or RegistryClient.DockerManifest))
        {
            json.Dispose();
            throw Invalid(image, $"manifest {wanted.Digest} has media type {mediaType ?? "(none)"}, which is neither an OCI image/index nor a Docker schema 2 manifest/list");
        }
        return new Fetched(bytes, mediaType, json);
    }

    private static OciDescriptor Choose(ImageReference image, OciPlatform platform, JsonDocument index)
    {
        var offered = new List<string>();
        foreach (var entry in Array(index.RootElement, "manifests", image))
        {
            var p = entry.TryGetProperty("platform", out var pl) ? pl : default;
            string? Field(string name) => p.ValueKind == JsonValueKind.Object && p.TryGetProperty(name, out var v) ? v.GetString() : null;
            var (os, arch, variant) = (Field("os"), Field("architecture"), Field("variant"));
            offered.Add($"{os}/{arch}{(variant is null ? "" : "/" + variant)}");
            if (platform.Accepts(os, arch, variant))
            {
                return Descriptor(entry, image);
            }
        }
        throw new EdgeImageException($"{image}: has no image for {platform}; its index offers {(offered.Count == 0 ? "nothing" : string.Join(", ", offered))}",
            "Pick an image built for the profile's architecture, or a digest of a multi-arch index that includes it.", ExitCodes.NotFound);
    }

    private static List<OciDescriptor> Blobs(ImageReference image, JsonElement manifest)
    {
        if (!manifest.TryGetProperty("config", out var config))
        {
            throw Invalid(image, "its manifest has no config");
        }
        return [Descriptor(config, image), .. Array(manifest, "layers", image).Select(layer => Descriptor(layer, image))];
    }

    private static IEnumerable<JsonElement> Array(JsonElement parent, string name, ImageReference image) =>
        parent.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().ToList()
            : throw Invalid(image, $"its manifest has no '{name}' list");

    private static OciDescriptor Descriptor(JsonElement element, ImageReference image)
    {
        var digest = element.TryGetProperty("digest", out var d) ? d.GetString() ?? "" : "";
        var size = element.TryGetProperty("size", out var s) && s.TryGetInt64(out var n) ? n : -1;
        var mediaType = element.TryGetProperty("mediaType", out var m) ? m.GetString() : null;
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71
            || digest.AsSpan(7).IndexOfAnyExcept("0123456789abcdef") >= 0 || size < 0)
        {
            throw Invalid(image, $"a descriptor has digest '{digest}' and size {size}; only sha256 digests with a size are accepted");
        }
        return new OciDescriptor(mediaType ?? "", digest, size);
    }

    private async Task BlobAsync(ImageReference image, OciDescriptor blob, ContentCache cache, BuildContext ctx)
    {
        if (await CachedAsync(cache, blob, ctx) is not null)
        {
            return;
        }
        if (ctx.Offline)
        {
            throw new EdgeImageException($"{image}: blob {blob.Digest} is not in the cache {ctx.CacheDir} and the build is offline",
                "Build once online to pull the image, or drop --offline.", ExitCodes.NotFound);
        }
        var write = await TransferAsync(image, $"blob {blob.Digest}", () => registry.GetBlobAsync(image, blob.Digest, ctx.Cancellation),
            (_, body) => cache.StoreAsync(body, blob.Hex, blob.Size, null, ctx.Cancellation), ctx);
        if (!write.Stored)
        {
            throw Refused(image, $"blob {blob.Digest} ({blob.Size} bytes) arrived as {write.Describe()}");
        }
    }

    /// <summary>
    /// One GET of the registry, its body read through the idle timeout by <paramref name="read"/>,
    /// and the whole again when the body breaks off or stalls (<see cref="TransferRetry"/>).
    /// </summary>
    private Task<T> TransferAsync<T>(ImageReference image, string what, Func<Task<HttpResponseMessage>> get,
        Func<HttpResponseMessage, Stream, Task<T>> read, BuildContext ctx)
    {
        return TransferRetry.RunAsync($"{image}: {what}", registry.BaseUrl(image), TransferRetry.DefaultAttempts,
            "Check the network and the registry; a registry that keeps stalling may be overloaded, try again later.", async () =>
            {
                using var response = await get();
                await using var body = new IdleTimeoutStream(await response.Content.ReadAsStreamAsync(ctx.Cancellation),
                    $"{image.Registry} ({what})", IdleTimeout);
                return await read(response, body);
            }, ctx.Log);
    }

    private static async Task<string?> CachedAsync(ContentCache cache, OciDescriptor wanted, BuildContext ctx)
    {
        if (wanted.Size >= 0)
        {
            return await cache.TryGetAsync(wanted.Hex, wanted.Size, ctx.Cancellation);
        }
        // A pinned digest comes without a size; the cached file's own length is checked against the hash instead.
        var path = cache.PathFor(wanted.Hex);
        return File.Exists(path) ? await cache.TryGetAsync(wanted.Hex, new FileInfo(path).Length, ctx.Cancellation) : null;
    }

    private static async Task<byte[]> ReadBoundedAsync(Stream body, long limit, ImageReference image, string digest, CancellationToken cancellation)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellation)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit)
            {
                throw Refused(image, $"manifest {digest} is larger than {limit} bytes");
            }
        }
        return buffer.ToArray();
    }

    private static EdgeImageException Refused(ImageReference image, string problem) =>
        new($"{image}: {problem}; refused, and it was not cached",
            "The registry serves altered or damaged content; check the registry, or the digest in the profile.", ExitCodes.VerificationFailed);

    private static EdgeImageException Invalid(ImageReference image, string problem) =>
        new($"{image}: {problem}", "Check the image reference in k0s.images; only OCI and Docker schema 2 images can be bundled.", ExitCodes.VerificationFailed);
}
