using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EdgeImage.IntegrationTests.Airgap;

/// <summary>What one platform's image in a test layout is made of.</summary>
public sealed record TestPlatformImage(string Architecture, string? Variant, string ManifestDigest, string ConfigDigest, string LayerDigest);

/// <summary>
/// Writes tiny OCI image layouts for the registry tests: one gzip layer holding a text file per
/// platform, its config and manifest, and for several platforms an image index over them. Written
/// here, independently of the builder's OCI code, so the pull is checked against bytes it did not make.
/// </summary>
public sealed class TestImageLayout
{
    private readonly string _directory;
    private readonly List<(string RefName, string MediaType, string Digest, long Size)> _refs = [];

    public TestImageLayout(string directory)
    {
        _directory = directory;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(directory, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
    }

    public string Directory => _directory;

    /// <summary>Adds one image per platform under an index named <paramref name="refName"/>; returns the index digest and the images.</summary>
    public (string IndexDigest, IReadOnlyList<TestPlatformImage> Images) AddIndex(string refName, params (string Architecture, string? Variant)[] platforms)
    {
        var images = platforms.Select(p => Image($"{refName} for {p.Architecture}{p.Variant}", p.Architecture, p.Variant)).ToList();
        var manifests = images.Select(i => new Dictionary<string, object>
        {
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["digest"] = i.Image.ManifestDigest,
            ["size"] = i.Size,
            ["platform"] = i.Image.Variant is null
                ? new Dictionary<string, string> { ["architecture"] = i.Image.Architecture, ["os"] = "linux" }
                : new Dictionary<string, string> { ["architecture"] = i.Image.Architecture, ["os"] = "linux", ["variant"] = i.Image.Variant },
        }).ToList();
        var index = Json(new Dictionary<string, object>
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = manifests,
        });
        var digest = Blob(index);
        _refs.Add((refName, "application/vnd.oci.image.index.v1+json", digest, index.Length));
        WriteIndex();
        return (digest, images.Select(i => i.Image).ToList());
    }

    /// <summary>Adds a single-platform image named <paramref name="refName"/> (no index).</summary>
    public TestPlatformImage AddImage(string refName, string architecture)
    {
        var (image, size) = Image(refName, architecture, null);
        _refs.Add((refName, "application/vnd.oci.image.manifest.v1+json", image.ManifestDigest, size));
        WriteIndex();
        return image;
    }

    private (TestPlatformImage Image, long Size) Image(string text, string architecture, string? variant)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
        {
            writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "hello.txt")
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text + "\n")),
                ModificationTime = DateTimeOffset.UnixEpoch,
            });
        }
        var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true))
        {
            compressor.Write(tar.ToArray());
        }
        var layer = gzip.ToArray();
        var layerDigest = Blob(layer);
        var config = new Dictionary<string, object>
        {
            ["architecture"] = architecture,
            ["os"] = "linux",
            ["rootfs"] = new Dictionary<string, object> { ["type"] = "layers", ["diff_ids"] = new[] { Digest(tar.ToArray()) } },
            ["config"] = new Dictionary<string, object> { ["Cmd"] = new[] { "/bin/cat", "/hello.txt" } },
        };
        if (variant is not null)
        {
            config["variant"] = variant;
        }
        var configBytes = Json(config);
        var configDigest = Blob(configBytes);
        var manifest = Json(new Dictionary<string, object>
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new Dictionary<string, object> { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = configDigest, ["size"] = configBytes.Length },
            ["layers"] = new[] { new Dictionary<string, object> { ["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip", ["digest"] = layerDigest, ["size"] = layer.Length } },
        });
        return (new TestPlatformImage(architecture, variant, Blob(manifest), configDigest, layerDigest), manifest.Length);
    }

    private void WriteIndex() => File.WriteAllBytes(Path.Combine(_directory, "index.json"), Json(new Dictionary<string, object>
    {
        ["schemaVersion"] = 2,
        ["manifests"] = _refs.Select(r => new Dictionary<string, object>
        {
            ["mediaType"] = r.MediaType,
            ["digest"] = r.Digest,
            ["size"] = r.Size,
            ["annotations"] = new Dictionary<string, string> { ["org.opencontainers.image.ref.name"] = r.RefName },
        }).ToList(),
    }));

    private string Blob(byte[] content)
    {
        var digest = Digest(content);
        File.WriteAllBytes(Path.Combine(_directory, "blobs", "sha256", digest[7..]), content);
        return digest;
    }

    private static string Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private static byte[] Json(object value) => JsonSerializer.SerializeToUtf8Bytes(value);
}
