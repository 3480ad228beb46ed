using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using EdgeImage.Elf;
using EdgeImage.Packages;

namespace EdgeImage.K0s;

/// <summary>Which k0s binary to fetch and from where.</summary>
public sealed record K0sReleaseRequest
{
    public const string OfficialSource = "https://github.com/k0sproject/k0s/releases/download";

    /// <summary>A k0s release tag, e.g. v1.34.1+k0s.0.</summary>
    public required string Version { get; init; }

    /// <summary>The profile's Debian architecture: amd64, arm64 or armhf.</summary>
    public required string Architecture { get; init; }

    /// <summary>A base URL (http, https, file) or a local directory laid out like the release downloads: VERSION/ASSET.</summary>
    public string Source { get; init; } = OfficialSource;

    /// <summary>PEM public key file; when set, every asset must come with a valid cosign signature ASSET.sig.</summary>
    public string? CosignKey { get; init; }
}

/// <summary>One file to fetch into the cache once it is verified.</summary>
internal sealed record VerifiedAsset
{
    /// <summary>The file's name in messages and in the cache's name index.</summary>
    public required string Name { get; init; }

    public required Uri Url { get; init; }

    /// <summary>The sha256 it must have, or null to take it from <see cref="SumsUrl"/>.</summary>
    public string? Sha256 { get; init; }

    public Uri? SumsUrl { get; init; }

    public required long MaxSize { get; init; }

    /// <summary>Looks at the first bytes and returns why they are not the expected kind of file, or null.</summary>
    public required Func<byte[], string?> CheckContent { get; init; }

    /// <summary>Named cache entry that remembers "SHA256 SIZE" of the last verified copy.</summary>
    public required string CacheName { get; init; }

    /// <summary>How else the user can provide the asset when its source cannot be reached.</summary>
    public required string Alternatives { get; init; }
}

/// <summary>
/// Fetches k0s release assets (the binary, the airgap bundle) into the content cache. An asset is
/// accepted only when its SHA256 equals its line in the release's sha256sums.txt (or the sha256 the
/// profile gives), its content is the expected kind (the binary's ELF machine and class fit the
/// profile's architecture) and, when a cosign key is configured, its ASSET.sig verifies against
/// that key. Without a key the checksum only protects against corrupt or mixed-up downloads, not
/// against a compromised release source. A refused download never enters the cache.
/// </summary>
public sealed partial class K0sRelease(IMirrorFetcher fetcher)
{
    // Real k0s binaries are a few hundred MB; the bound keeps a runaway response from filling the disk.
    private const long MaxBinarySize = 2L << 30;
    private const long MaxBundleSize = 8L << 30;
    private const long MaxSumsSize = 1 << 20;
    private const int HeaderSize = 512;

    /// <summary>Returns the path of the verified binary in the cache, downloading it only if the cache lacks it.</summary>
    public Task<string> FetchAsync(K0sReleaseRequest request, BuildContext ctx)
    {
        var asset = AssetName(request);
        return FetchVerifiedAsync(new VerifiedAsset
        {
            Name = asset,
            Url = Url(request, asset),
            SumsUrl = Url(request, "sha256sums.txt"),
            MaxSize = MaxBinarySize,
            CheckContent = header => BinaryProblem(header, request.Architecture),
            CacheName = $"k0s/{request.Version}/{asset}",
            Alternatives = "give the binary with --k0s-binary PATH, point k0s.source at a mirror or a local directory laid out as "
                + "VERSION/ASSET beside VERSION/sha256sums.txt, or build without k0s (--no-k0s)",
        }, request.CosignKey, ctx);
    }

    /// <summary>
    /// The release's airgap bundle (k0s-airgap-bundle-VERSION-ARCH, a tar of the images k0s runs), from
    /// the release source or from <paramref name="location"/> (URL or path), verified by
    /// <paramref name="sha256"/> or else by its line in the release's sha256sums.txt.
    /// </summary>
    public Task<string> FetchAirgapBundleAsync(K0sReleaseRequest request, string? location, string? sha256, BuildContext ctx)
    {
        var asset = AirgapBundleName(request);
        return FetchVerifiedAsync(new VerifiedAsset
        {
            Name = asset,
            Url = location is null ? Url(request, asset) : ToUri(location),
            Sha256 = sha256,
            SumsUrl = sha256 is null ? Url(request, "sha256sums.txt") : null,
            MaxSize = MaxBundleSize,
            CheckContent = header => header.Length >= 262 && header.AsSpan(257, 5).SequenceEqual("ustar"u8)
                ? null
                : "not a tar archive (an airgap bundle is a tar of image archives)",
            CacheName = $"k0s/{request.Version}/{asset}",
            Alternatives = "set k0s.airgap_bundle to a local copy or a reachable URL (with k0s.airgap_bundle_sha256), point k0s.source "
                + "at a mirror, set k0s.airgap: false, or build without k0s (--no-k0s)",
        }, request.CosignKey, ctx);
    }

    private async Task<string> FetchVerifiedAsync(VerifiedAsset asset, string? cosignKey, BuildContext ctx)
    {
        var cache = new ContentCache(ctx.CacheDir, ctx.Log);
        var cancellation = ctx.Cancellation;
        var signer = cosignKey is null ? null : CosignSignature.FromFile(cosignKey);
        var signatureName = asset.CacheName + ".sig";

        if (ctx.Offline)
        {
            var remembered = Remembered(cache.ReadNamed(asset.CacheName));
            var cached = remembered is { } r && (asset.Sha256 is null || asset.Sha256 == r.Sha256)
                ? await cache.TryGetAsync(r.Sha256, r.Size, cancellation)
                : null;
            if (cached is null)
            {
                throw new EdgeImageException($"{asset.Name}: not in the cache {ctx.CacheDir} and the build is offline",
                    "Build once online to fetch k0s, or drop --offline.", ExitCodes.NotFound);
            }
            if (signer is not null)
            {
                var signature = cache.ReadNamed(signatureName) ?? throw new EdgeImageException(
                    $"{asset.Name}: its cosign signature is not in the cache {ctx.CacheDir} and the build is offline",
                    "Build once online with k0s.cosign_key set, or drop --offline.", ExitCodes.NotFound);
                CheckSignature(signer, remembered!.Value.Sha256, signature, asset, new Uri(asset.Url + ".sig"));
            }
            return cached;
        }

        var expected = asset.Sha256
            ?? ExpectedSha256(await ReadSmallAsync(asset.SumsUrl!, asset.Alternatives, ctx.Log, cancellation), asset.Name, asset.SumsUrl!);

        // The signature covers the sha256 the file must have, so it is checked before anything is downloaded or reused.
        byte[]? verifiedSignature = null;
        if (signer is not null)
        {
            var signatureUrl = new Uri(asset.Url + ".sig");
            verifiedSignature = Encoding.ASCII.GetBytes(await ReadSmallAsync(signatureUrl, asset.Alternatives, ctx.Log, cancellation));
            CheckSignature(signer, expected, verifiedSignature, asset, signatureUrl);
        }

        if (Remembered(cache.ReadNamed(asset.CacheName)) is { } known && known.Sha256 == expected
            && await cache.TryGetAsync(known.Sha256, known.Size, cancellation) is { } hit)
        {
            ctx.Log.Verbose($"{asset.Name}: verified from the cache");
            Remember(cache, asset, signatureName, verifiedSignature, known.Sha256, known.Size);
            return hit;
        }

        Directory.CreateDirectory(ctx.WorkDir);
        var temp = Path.Combine(ctx.WorkDir, $".{asset.Name}.{Environment.ProcessId}.download");
        try
        {
            ctx.Log.Info($"fetching {UrlCredentials.Redact(asset.Url)}");
            var (actual, size, header) = await RetryingTransferAsync(asset.Name, asset.Url, asset.Alternatives,
                () => DownloadAsync(asset, temp, cancellation), ctx.Log);
            if (actual != expected)
            {
                var listed = asset.Sha256 is null ? $"listed in {asset.SumsUrl}" : "given in the profile (k0s.airgap_bundle_sha256)";
                throw Refused($"{asset.Name} from {asset.Url}: sha256 {actual} does not match {expected} {listed}",
                    "The download is corrupt or the release source serves other files than it lists; fetch again or check the source.");
            }
            if (asset.CheckContent(header) is { } problem)
            {
                throw Refused($"{asset.Name} from {asset.Url}: {problem}",
                    "The source has the wrong file under this name; check the k0s source and the profile's architecture.");
            }

            CacheWrite write;
            await using (var stream = File.OpenRead(temp))
            {
                write = await cache.StoreAsync(stream, actual, size, null, cancellation);
            }
            if (!write.Stored)
            {
                throw Refused($"{asset.Name}: changed on disk in {temp} before it entered the cache ({write.Describe()}, expected sha256 {actual})",
                    "Something else writes to the build's work directory; run one build per work directory.");
            }
            Remember(cache, asset, signatureName, verifiedSignature, actual, size);
            return write.Path;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static void Remember(ContentCache cache, VerifiedAsset asset, string signatureName, byte[]? signature, string sha256, long size)
    {
        cache.WriteNamed(asset.CacheName, Encoding.ASCII.GetBytes($"{sha256} {size}\n"));
        if (signature is not null)
        {
            cache.WriteNamed(signatureName, signature);
        }
    }

    private static void CheckSignature(CosignSignature signer, string sha256, byte[] signature, VerifiedAsset asset, Uri signatureUrl)
    {
        if (!signer.Verifies(Convert.FromHexString(sha256), signature))
        {
            throw Refused($"{asset.Name}: cosign signature {signatureUrl} does not verify with the key {signer.Origin} (for sha256 {sha256})",
                "The asset or its signature was altered, or the key belongs to another publisher; check k0s.cosign_key and the source.");
        }
    }

    private static string? BinaryProblem(byte[] header, string architecture)
    {
        var elf = ElfFile.TryRead(header);
        if (elf is null)
        {
            return $"not an ELF binary (expected a k0s executable for {architecture})";
        }
        if (elf.DebianArchitecture != architecture)
        {
            var actualArch = elf.DebianArchitecture ?? $"ELF machine {elf.Machine}, {(elf.Is64Bit ? 64 : 32)}-bit";
            return $"binary is for {actualArch}, expected {architecture}";
        }
        return null;
    }

    public static string AssetName(K0sReleaseRequest request) => $"k0s-{request.Version}-{GoArchitecture(request)}";

    public static string AirgapBundleName(K0sReleaseRequest request) => $"k0s-airgap-bundle-{request.Version}-{GoArchitecture(request)}";

    /// <summary>k0s names its assets after Go's architectures, which differ from Debian's for 32-bit ARM.</summary>
    private static string GoArchitecture(K0sReleaseRequest request)
    {
        if (!VersionPattern().IsMatch(request.Version))
        {
            throw new EdgeImageException($"k0s version '{request.Version}' is not a k0s release tag",
                "Write it like v1.34.1+k0s.0.", ExitCodes.InvalidProfile);
        }
        return request.Architecture switch
        {
            "amd64" => "amd64",
            "arm64" => "arm64",
            "armhf" => "arm",
            _ => throw new EdgeImageException($"k0s has no binary for architecture '{request.Architecture}'",
                "Use a profile with architecture amd64, arm64 or armhf.", ExitCodes.InvalidProfile),
        };
    }

    private static Uri Url(K0sReleaseRequest request, string file)
    {
        if (Uri.TryCreate(request.Source, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file")
        {
            return new Uri($"{request.Source.TrimEnd('/')}/{request.Version}/{file}");
        }
        return new Uri(Path.Combine(Path.GetFullPath(request.Source), request.Version, file));
    }

    private static Uri ToUri(string location) =>
        Uri.TryCreate(location, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file"
            ? uri
            : new Uri(Path.GetFullPath(location));

    private static string ExpectedSha256(string sums, string asset, Uri sumsUrl)
    {
        foreach (var line in sums.Split('\n'))
        {
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            // sha256sum marks binary-mode entries with a leading '*'.
            if (fields.Length == 2 && fields[1].TrimStart('*') == asset && Sha256Pattern().IsMatch(fields[0]))
            {
                return fields[0].ToLowerInvariant();
            }
        }
        throw Refused($"{asset}: {sumsUrl} has no sha256 line for it, so it cannot be verified",
            "Check the k0s version and architecture, or that the source's sha256sums.txt belongs to this release.");
    }

    private Task<string> ReadSmallAsync(Uri url, string alternatives, IBuildLog log, CancellationToken cancellation) =>
        RetryingTransferAsync(Path.GetFileName(url.AbsolutePath), url, alternatives, () => ReadSmallOnceAsync(url, alternatives, cancellation), log);

    private async Task<string> ReadSmallOnceAsync(Uri url, string alternatives, CancellationToken cancellation)
    {
        await using var stream = await OpenAsync(url, alternatives, cancellation);
        var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellation)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxSumsSize)
            {
                throw Refused($"{UrlCredentials.Redact(url)}: larger than {MaxSumsSize} bytes, which no sha256sums.txt or signature is",
                    "Check the k0s source URL or directory.");
            }
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A transfer run again from the start when it breaks off or stalls, three times in all (<see cref="TransferRetry"/>).</summary>
    private static Task<T> RetryingTransferAsync<T>(string what, Uri url, string alternatives, Func<Task<T>> transfer, IBuildLog log) =>
        TransferRetry.RunAsync(what, url, TransferRetry.DefaultAttempts, $"Check the network; if this machine cannot reach {url.Host}: {alternatives}.", transfer, log);

    private async Task<(string Sha256, long Size, byte[] Header)> DownloadAsync(VerifiedAsset asset, string temp, CancellationToken cancellation)
    {
        var url = asset.Url;
        await using var source = await OpenAsync(url, asset.Alternatives, cancellation);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var header = new MemoryStream();
        long total = 0;
        await using (var target = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellation)) > 0)
            {
                total += read;
                if (total > asset.MaxSize)
                {
                    throw Refused($"{asset.Name} from {UrlCredentials.Redact(url)}: larger than {asset.MaxSize} bytes, far more than a k0s release asset",
                        "Check the k0s source URL or directory.");
                }
                if (header.Length < HeaderSize)
                {
                    header.Write(buffer, 0, (int)Math.Min(read, HeaderSize - header.Length));
                }
                hash.AppendData(buffer, 0, read);
                await target.WriteAsync(buffer.AsMemory(0, read), cancellation);
            }
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total, header.ToArray());
    }

    private async Task<Stream> OpenAsync(Uri url, string alternatives, CancellationToken cancellation)
    {
        Stream? stream;
        try
        {
            stream = await fetcher.OpenAsync(url, cancellation);
        }
        catch (EdgeImageException e)
        {
            // The transport speaks of "the mirror"; for k0s the user needs to know the other ways in.
            throw new EdgeImageException($"cannot fetch {UrlCredentials.Redact(url)}: {UrlCredentials.Redact(e.InnerException?.Message ?? e.Message)}",
                $"If this machine cannot reach {url.Host}: {alternatives}.", e.ExitCode, e);
        }
        return stream ?? throw new EdgeImageException($"{UrlCredentials.Redact(url)}: not found",
            url.AbsolutePath.EndsWith(".sig", StringComparison.Ordinal)
                ? "k0s.cosign_key is set, so every asset needs its cosign signature ASSET.sig beside it; publish it or drop the key."
                : "Check the k0s version (is it released?) and the k0s source URL or directory.", ExitCodes.NotFound);
    }

    private static (string Sha256, long Size)? Remembered(byte[]? entry)
    {
        var fields = entry is null ? [] : Encoding.ASCII.GetString(entry).Split(' ', '\n');
        return fields.Length >= 2 && Sha256Pattern().IsMatch(fields[0]) && long.TryParse(fields[1], out var size)
            ? (fields[0], size)
            : null;
    }

    private static EdgeImageException Refused(string message, string hint) =>
        new(message, hint, ExitCodes.VerificationFailed);

    [GeneratedRegex(@"^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?\+k0s\.\d+$")]
    private static partial Regex VersionPattern();

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Pattern();
}
