using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeImage.IntegrationTests.Image;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Airgap;

/// <summary>
/// `edgeimage build` of generic-x86_64 with k0s from a local release directory laid out like the
/// GitHub release (binary, airgap bundle, sha256sums.txt, cosign signatures made by openssl) and
/// one multi-arch image from the test's registry; the image's root is read back with unsquashfs
/// and the bundled image with skopeo. The "k0s binary" is the host's /usr/bin/true, an x86-64 ELF
/// standing in for the real one, which this machine cannot download.
/// </summary>
[Trait("Category", "airgap")]
public sealed class K0sImageTests(SeededRegistry seeded, ITestOutputHelper output) : IClassFixture<SeededRegistry>, IDisposable
{
    private const string Version = "v1.34.1+k0s.0";

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("eig-k0s-image-");

    [Fact]
    public async Task Image_carries_the_verified_k0s_binary_bundle_and_pulled_image_where_k0s_finds_them()
    {
        var releases = PublishRelease(sign: true);
        var amd64 = seeded.MultiImages.Single(i => i.Architecture == "amd64");
        var reference = $"{seeded.Registry.Host}/test/multi:1@{seeded.MultiIndex}";
        var profile = Profile("edge-k0s", $"""
            k0s:
              source: {releases}
              cosign_key: {Path.Combine(_work.FullName, "cosign.key.pub")}
              images: ["{reference}"]
              worker:
                labels: {"{"}zone: lab{"}"}
            """);
        var outDir = Path.Combine(_work.FullName, "out");

        var result = await HeavyWork.RunAsync(() => Cli.RunAsync(["build", "--profile", profile, "--out", outDir], new CliOptions
        {
            Environment = Environment(),
            Timeout = BootCheckImage.BuildTimeout,
        }));
        output.WriteLine(result.ToString());

        Assert.Equal(0, result.ExitCode);
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "manifest.json")));
        var k0s = manifest.RootElement.GetProperty("k0s");
        Assert.Equal(Version, k0s.GetProperty("version").GetString());
        Assert.Equal("/usr/local/bin/k0s", k0s.GetProperty("path").GetString());
        Assert.Equal(Sha256(File.ReadAllBytes("/usr/bin/true")), k0s.GetProperty("sha256").GetString());
        Assert.True(k0s.GetProperty("airgap").GetBoolean());
        var image = Assert.Single(k0s.GetProperty("images").EnumerateArray().ToList());
        Assert.Equal(reference, image.GetProperty("reference").GetString());
        Assert.Equal(amd64.ManifestDigest, image.GetProperty("manifestDigest").GetString());

        var root = Path.Combine(_work.FullName, "root");
        var rootA = manifest.RootElement.GetProperty("partitions").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "root-a");
        TrixieDebs.Run("unsquashfs", "-q", "-no-xattrs", "-o", rootA.GetProperty("offset").GetInt64().ToString(CultureInfo.InvariantCulture),
            "-d", root, Path.Combine(outDir, "edge.img"), "/usr/local/bin/k0s", "/usr/lib/edgeimage/k0s", "/usr/lib/tmpfiles.d", "/etc/k0s");
        Assert.Equal(File.ReadAllBytes("/usr/bin/true"), File.ReadAllBytes(Path.Combine(root, "usr/local/bin/k0s")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(releases, Version, $"k0s-airgap-bundle-{Version}-amd64")),
            File.ReadAllBytes(Path.Combine(root, "usr/lib/edgeimage/k0s/images", $"k0s-airgap-bundle-{Version}.tar")));
        var archive = Path.Combine(root, "usr", image.GetProperty("file").GetString()!["/usr/".Length..]);
        Assert.Equal(image.GetProperty("sha256").GetString(), Sha256(File.ReadAllBytes(archive)));
        using var inspect = JsonDocument.Parse(TrixieDebs.Run("skopeo", "inspect", $"oci-archive:{archive}"));
        Assert.Equal(amd64.ManifestDigest, inspect.RootElement.GetProperty("Digest").GetString());
        var tmpfiles = File.ReadAllText(Path.Combine(root, "usr/lib/tmpfiles.d/edgeimage-k0s-images.conf"));
        Assert.Contains($"L+ /var/lib/k0s/images/{Path.GetFileName(archive)} - - - - /usr/lib/edgeimage/k0s/images/{Path.GetFileName(archive)}\n", tmpfiles);
        Assert.Contains("config_path = \"/etc/k0s/containerd.d/certs.d\"", File.ReadAllText(Path.Combine(root, "etc/k0s/containerd.d/edgeimage-airgap.toml")));
        Assert.True(File.Exists(Path.Combine(root, "etc/k0s/containerd.d/certs.d/_default/hosts.toml")));
    }

    [Fact]
    public async Task Unreachable_release_source_fails_before_the_compose_naming_the_url_and_the_ways_around_it()
    {
        var profile = Profile("edge-offline", "k0s:\n  source: http://127.0.0.1:9/k0s\n");

        var result = await Cli.RunAsync(["build", "--profile", profile, "--out", Path.Combine(_work.FullName, "out")], new CliOptions
        {
            Environment = Environment(),
            Timeout = TimeSpan.FromMinutes(2),
        });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"cannot fetch http://127.0.0.1:9/k0s/{Version}/sha256sums.txt", result.Stderr);
        Assert.Contains("--k0s-binary PATH", result.Stderr);
        Assert.Contains("--no-k0s", result.Stderr);
        Assert.DoesNotContain("compose:", result.Stdout + result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_work.FullName, "out")) && Directory.EnumerateFileSystemEntries(Path.Combine(_work.FullName, "out")).Any());
    }

    public void Dispose() => _work.Delete(recursive: true);

    private string Profile(string name, string body)
    {
        var path = Path.Combine(_work.FullName, name + ".yaml");
        File.WriteAllText(path, $"name: {name}\nextends: {Path.Combine(Cli.RepositoryRoot, "profiles", "generic-x86_64")}\n{body}");
        return path;
    }

    /// <summary>VERSION/ASSET files, their sha256sums.txt and, signed like `cosign sign-blob`, ASSET.sig made by openssl.</summary>
    private string PublishRelease(bool sign)
    {
        var releases = Path.Combine(_work.FullName, "releases");
        var dir = Path.Combine(releases, Version);
        Directory.CreateDirectory(dir);
        var binary = Path.Combine(dir, $"k0s-{Version}-amd64");
        File.Copy("/usr/bin/true", binary);
        var bundle = Path.Combine(dir, $"k0s-airgap-bundle-{Version}-amd64");
        TrixieDebs.Run("tar", "-cf", bundle, "-C", "/usr/share/common-licenses", "Apache-2.0");
        File.WriteAllText(Path.Combine(dir, "sha256sums.txt"),
            string.Join("", new[] { binary, bundle }.Select(f => $"{Sha256(File.ReadAllBytes(f))}  {Path.GetFileName(f)}\n")));
        if (sign)
        {
            var key = Path.Combine(_work.FullName, "cosign.key");
            TrixieDebs.Run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key);
            TrixieDebs.Run("openssl", "ec", "-in", key, "-pubout", "-out", key + ".pub");
            foreach (var asset in new[] { binary, bundle })
            {
                File.WriteAllText(asset + ".sig", TrixieDebs.Run("bash", "-c", $"openssl dgst -sha256 -sign '{key}' '{asset}' | base64 -w0"));
            }
        }
        return releases;
    }

    private static Dictionary<string, string?> Environment() => new()
    {
        ["EDGEIMAGE_CACHE"] = Path.Combine(Path.GetTempPath(), "edgeimage-integration-cache"),
        ["SOURCE_DATE_EPOCH"] = BootCheckImage.SourceDateEpoch.ToString(CultureInfo.InvariantCulture),
    };

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
