using System.Formats.Tar;
using System.Text.Json;
using EdgeImage.Packages;

namespace EdgeImage.Oci;

/// <summary>
/// Writes a pulled image as an OCI image-layout archive (what `skopeo copy ... oci-archive:` and
/// `ctr images import` read): oci-layout, index.json naming the platform manifest, and
/// blobs/sha256/HEX for the manifest, config and layers. Reproducible: ustar entries in sorted
/// order, owner 0:0, fixed modes, every mtime SOURCE_DATE_EPOCH, JSON written in a fixed key order.
/// </summary>
public static class OciArchive
{
    /// <summary>Annotation containerd names an imported image by.</summary>
    public const string ContainerdName = "io.containerd.image.name";

    public const string RefName = "org.opencontainers.image.ref.name";

    public static async Task WriteAsync(PulledImage image, ContentCache cache, Stream output, long epoch, CancellationToken cancellation)
    {
        var mtime = DateTimeOffset.FromUnixTimeSeconds(epoch);
        await using var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        async Task Directory(string name) =>
            await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.Directory, name) { Mode = Mode(0b111_101_101), ModificationTime = mtime }, cancellation);
        async Task File(string name, Stream data)
        {
            var entry = new UstarTarEntry(TarEntryType.RegularFile, name) { Mode = Mode(0b110_100_100), ModificationTime = mtime, DataStream = data };
            await tar.WriteEntryAsync(entry, cancellation);
        }

        await Directory("blobs/");
        await Directory("blobs/sha256/");
        var blobs = image.Blobs.Append(image.Manifest).DistinctBy(b => b.Digest).OrderBy(b => b.Digest, StringComparer.Ordinal);
        foreach (var blob in blobs)
        {
            var path = await cache.TryGetAsync(blob.Hex, blob.Size, cancellation) ?? throw new EdgeImageException(
                $"{image.Reference}: blob {blob.Digest} left the cache {cache.Root} while the archive was written",
                "Something else prunes the cache during builds; build again.");
            await using var content = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            await File($"blobs/sha256/{blob.Hex}", content);
        }
        await File("index.json", new MemoryStream(IndexJson(image)));
        await File("oci-layout", new MemoryStream("{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray()));
    }

    public static byte[] IndexJson(PulledImage image)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", 2);
            json.WriteString("mediaType", RegistryClient.OciIndex);
            json.WriteStartArray("manifests");
            json.WriteStartObject();
            json.WriteString("mediaType", image.Manifest.MediaType);
            json.WriteString("digest", image.Manifest.Digest);
            json.WriteNumber("size", image.Manifest.Size);
            json.WriteStartObject("annotations");
            json.WriteString(ContainerdName, image.Reference.FullName);
            json.WriteString(RefName, image.Reference.FullName);
            json.WriteEndObject();
            json.WriteStartObject("platform");
            json.WriteString("architecture", image.Platform.Architecture);
            json.WriteString("os", image.Platform.Os);
            if (image.Platform.Variant is { } variant)
            {
                json.WriteString("variant", variant);
            }
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static UnixFileMode Mode(int bits) => (UnixFileMode)bits;
}
