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
}

/// <summary>
/// Fetches a k0s release binary into the content cache. The binary is accepted only when its SHA256
/// equals its line in the release's sha256sums.txt and its ELF machine and class fit the profile's
/// architecture; a refused download never enters the cache.
/// Not checked here: the cosign signature of sha256sums.txt. Until that is verified, the checksum
/// only protects against corrupt or mixed-up downloads, not against a compromised release source.
/// </summary>
public sealed partial class K0sRelease(IMirrorFetcher fetcher)
{
    // Real k0s binaries are a few hundred MB; the bound keeps a runaway response from filling the disk.
    private const long MaxBinarySize = 2L << 30;
    private const long MaxSumsSize = 1 << 20;

    /// <summary>Returns the path of the verified binary in the cache, downloading it only if the cache lacks it.</summary>
    public async Task<string> FetchAsync(K0sReleaseRequest request, BuildContext ctx)
    {
        var asset = AssetName(request);
        var cache = new ContentCache(ctx.CacheDir, ctx.Log);
        var named = $"k0s/{request.Version}/{asset}";
        var cancellation = ctx.Cancellation;

        if (ctx.Offline)
        {
            var remembered = Remembered(cache.ReadNamed(named));
            var cached = remembered is { } r ? await cache.TryGetAsync(r.Sha256, r.Size, cancellation) : null;
            return cached ?? throw new EdgeImageException(
                $"{asset}: not in the cache {ctx.CacheDir} and the build is offline",
                "Build once online to fetch k0s, or drop --offline.", ExitCodes.NotFound);
        }

        var sumsUrl = Url(request, "sha256sums.txt");
        var expected = ExpectedSha256(await ReadSmallAsync(sumsUrl, cancellation), asset, sumsUrl);

        if (Remembered(cache.ReadNamed(named)) is { } known && known.Sha256 == expected
            && await cache.TryGetAsync(known.Sha256, known.Size, cancellation) is { } hit)
        {
            ctx.Log.Verbose($"{asset}: verified from the cache");
            return hit;
        }

        var assetUrl = Url(request, asset);
        Directory.CreateDirectory(ctx.WorkDir);
        var temp = Path.Combine(ctx.WorkDir, $".{asset}.{Environment.ProcessId}.download");
        try
        {
            ctx.Log.Info($"fetching {assetUrl}");
            var (actual, size, header) = await DownloadAsync(assetUrl, temp, asset, cancellation);
            if (actual != expected)
            {
                throw Refused($"{asset} from {assetUrl}: sha256 {actual} does not match {expected} listed in {sumsUrl}",
                    "The download is corrupt or the release source serves other files than it lists; fetch again or check the source.");
            }
            var elf = ElfFile.TryRead(header);
            if (elf is null)
            {
                throw Refused($"{asset} from {assetUrl}: not an ELF binary (expected a k0s executable for {request.Architecture})",
                    "The source serves something else under the asset's name; check the k0s source URL or directory.");
            }
            if (elf.DebianArchitecture != request.Architecture)
            {
                var actualArch = elf.DebianArchitecture ?? $"ELF machine {elf.Machine}, {(elf.Is64Bit ? 64 : 32)}-bit";
                throw Refused($"{asset} from {assetUrl}: binary is for {actualArch}, expected {request.Architecture}",
                    "The source has the wrong binary under this name; check the k0s source and the profile's architecture.");
            }

            CacheWrite write;
            await using (var stream = File.OpenRead(temp))
            {
                write = await cache.StoreAsync(stream, actual, size, null, cancellation);
            }
            if (!write.Stored)
            {
                throw Refused($"{asset}: changed on disk in {temp} before it entered the cache ({write.Describe()}, expected sha256 {actual})",
                    "Something else writes to the build's work directory; run one build per work directory.");
            }
            cache.WriteNamed(named, Encoding.ASCII.GetBytes($"{actual} {size}\n"));
            return write.Path;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>k0s names its assets after Go's architectures, which differ from Debian's for 32-bit ARM.</summary>
    public static string AssetName(K0sReleaseRequest request)
    {
        if (!VersionPattern().IsMatch(request.Version))
        {
            throw new EdgeImageException($"k0s version '{request.Version}' is not a k0s release tag",
                "Write it like v1.34.1+k0s.0.", ExitCodes.InvalidProfile);
        }
        var goArch = request.Architecture switch
        {
            "amd64" => "amd64",
            "arm64" => "arm64",
            "armhf" => "arm",
            _ => throw new EdgeImageException($"k0s has no binary for architecture '{request.Architecture}'",
                "Use a profile with architecture amd64, arm64 or armhf.", ExitCodes.InvalidProfile),
        };
        return $"k0s-{request.Version}-{goArch}";
    }

    private static Uri Url(K0sReleaseRequest request, string file)
    {
        if (Uri.TryCreate(request.Source, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file")
        {
            return new Uri($"{request.Source.TrimEnd('/')}/{request.Version}/{file}");
        }
        return new Uri(Path.Combine(Path.GetFullPath(request.Source), request.Version, file));
    }

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

    private async Task<string> ReadSmallAsync(Uri url, CancellationToken cancellation)
    {
        await using var stream = await OpenAsync(url, cancellation);
        var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellation)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxSumsSize)
            {
                throw Refused($"{url}: larger than {MaxSumsSize} bytes, which no sha256sums.txt is",
                    "Check the k0s source URL or directory.");
            }
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private async Task<(string Sha256, long Size, byte[] Header)> DownloadAsync(Uri url, string temp, string asset, CancellationToken cancellation)
    {
        await using var source = await OpenAsync(url, cancellation);
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
                if (total > MaxBinarySize)
                {
                    throw Refused($"{asset} from {url}: larger than {MaxBinarySize} bytes, far more than a k0s binary",
                        "Check the k0s source URL or directory.");
                }
                if (header.Length < 64)
                {
                    header.Write(buffer, 0, (int)Math.Min(read, 64 - header.Length));
                }
                hash.AppendData(buffer, 0, read);
                await target.WriteAsync(buffer.AsMemory(0, read), cancellation);
            }
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total, header.ToArray());
    }

    private async Task<Stream> OpenAsync(Uri url, CancellationToken cancellation) =>
        await fetcher.OpenAsync(url, cancellation) ?? throw new EdgeImageException($"{url}: not found",
            "Check the k0s version (is it released?) and the k0s source URL or directory.", ExitCodes.NotFound);

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
