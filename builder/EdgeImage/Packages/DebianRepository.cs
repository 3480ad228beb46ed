using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using EdgeImage.Compression;

namespace EdgeImage.Packages;

/// <summary>A suite whose Release and Packages indexes are verified and cached, not yet parsed.</summary>
public sealed record VerifiedSuite(DebianSuiteRequest Request, ReleaseFile Release, IReadOnlyList<VerifiedIndex> Indexes);

/// <summary>One verified Packages index in the cache: its path, the Release entry it matched and where it came from.</summary>
public sealed record VerifiedIndex(string Path, ReleaseEntry Entry, string Source);

/// <summary>How hard to try when an index does not match its Release entry.</summary>
public sealed record IndexRetryPolicy
{
    /// <summary>Fetches of an index's canonical URL before falling back to by-hash and other compressions.</summary>
    public int Attempts { get; init; } = 3;

    /// <summary>Wait before the second attempt; it grows linearly with each further attempt.</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>
/// A Debian archive read without apt or dpkg: InRelease verified against a keyring, Packages indexes
/// and .debs verified by size and SHA256 against what the signature covers, everything stored in the
/// content-addressed cache. Nothing unverified is parsed or cached.
/// </summary>
public sealed class DebianRepository(IMirrorFetcher fetcher, IndexRetryPolicy? retry = null)
{
    private const long MaxReleaseBytes = 64L << 20;

    private static readonly string[] IndexNames = ["Packages.xz", "Packages.gz", "Packages"];

    private readonly IndexRetryPolicy _retry = retry ?? new IndexRetryPolicy();

    /// <summary>
    /// Verifies the suite's InRelease (or Release + Release.gpg) and returns every package of
    /// <see cref="DebianSuiteRequest.Architecture"/> and Architecture: all in the requested components.
    /// Offline, the last InRelease verified online is re-verified from the cache and nothing touches the network.
    /// </summary>
    public async Task<PackageIndex> OpenAsync(DebianSuiteRequest request, BuildContext ctx)
    {
        var clock = Stopwatch.StartNew();
        var index = Read(await VerifyAsync(request, ctx));
        ctx.Log.Info($"{request.Suite}/{request.Architecture}: {index.Count} packages ({string.Join(", ", request.Components)}) " +
                     $"in {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}s");
        return index;
    }

    /// <summary>
    /// The first half of <see cref="OpenAsync"/>: the suite's Release verified and every Packages
    /// index it names for the request fetched and verified into the cache, none of them parsed yet.
    /// </summary>
    public async Task<VerifiedSuite> VerifyAsync(DebianSuiteRequest request, BuildContext ctx)
    {
        var root = MirrorRoot(request.Mirror);
        var keyring = ArchiveKeyring.Load(request.KeyringPath);
        var cache = new ContentCache(ctx.CacheDir, ctx.Log);
        var suiteDir = $"dists/{request.Suite}";

        var signed = ctx.Offline
            ? ReadCachedRelease(cache, request, ctx.CacheDir)
            : await FetchReleaseAsync(root, suiteDir, request, ctx);
        var release = Verify(signed, keyring, request, ctx);
        CheckOffers(release, request, signed.Source);

        var indexes = new List<VerifiedIndex>();
        foreach (var component in request.Components)
        {
            var indexDir = $"{component}/binary-{request.Architecture}";
            var (entry, path) = await FetchIndexAsync(root, suiteDir, release, indexDir, cache, ctx);
            if (entry.Path != $"{indexDir}/Packages" && release.Files.GetValueOrDefault($"{indexDir}/Packages") is { } plain)
            {
                path = await ExpandAsync(path, entry, plain, cache, $"{Show(root)}{suiteDir}/{entry.Path}", ctx.Cancellation);
                entry = plain;
            }
            indexes.Add(new VerifiedIndex(path, entry, $"{Show(root)}{suiteDir}/{entry.Path}"));
        }

        if (!ctx.Offline)
        {
            // Stored only now that every index it lists for this build has been verified too, so an
            // offline build never finds a Release whose indexes are missing from the cache.
            StoreRelease(cache, request, signed);
        }
        return new VerifiedSuite(request with { Mirror = MirrorDiscovery.Normalize(request.Mirror) }, release, indexes);
    }

    /// <summary>Every package of the verified suite for its architecture (and "all"), in index order.</summary>
    public static PackageIndex Read(VerifiedSuite suite)
    {
        var packages = new List<PackageRecord>();
        for (var i = 0; i < suite.Indexes.Count; i++)
        {
            var index = suite.Indexes[i];
            ParseIndex(index.Path, index.Entry, index.Source, suite.Request.Architecture, packages, i);
        }
        return new PackageIndex(suite.Request, suite.Release, packages);
    }

    /// <summary>
    /// Only the paragraphs at the given positions of the suite's uncompressed indexes, read without
    /// parsing the rest (an index of trixie/main is ~100 MB). Null when an index is compressed or a
    /// position does not start a paragraph there; the caller then reads the whole suite.
    /// </summary>
    public static PackageIndex? ReadAt(VerifiedSuite suite, IReadOnlyList<IndexPosition> positions)
    {
        var packages = new PackageRecord[positions.Count];
        foreach (var group in positions.Select((p, order) => (p, order)).GroupBy(x => x.p.Index))
        {
            if (group.Key < 0 || group.Key >= suite.Indexes.Count || !suite.Indexes[group.Key].Entry.Path.EndsWith("/Packages", StringComparison.Ordinal))
            {
                return null;
            }
            var index = suite.Indexes[group.Key];
            var wanted = group.OrderBy(x => x.p.Line).ToList();
            var texts = IndexLines.ParagraphsAt(index.Path, [.. wanted.Select(x => x.p.Line)]);
            for (var k = 0; k < wanted.Count; k++)
            {
                if (texts[k] is not { } text)
                {
                    return null;
                }
                var paragraph = ControlParagraph.ParseAll(new StringReader(text)).FirstOrDefault();
                if (paragraph is null || paragraph["Package"] is null)
                {
                    return null;
                }
                packages[wanted[k].order] = PackageRecord.FromParagraph(new ControlParagraph(paragraph.Fields, wanted[k].p.Line), index.Source)
                    with { Position = wanted[k].p };
            }
        }
        return new PackageIndex(suite.Request, suite.Release, packages);
    }

    /// <summary>
    /// Fetches the packages' .debs into the cache (at most ctx.MaxParallelDownloads at once), each
    /// verified against the index's Size and SHA256 before it is stored. Returns the cache path of each.
    /// </summary>
    public async Task<IReadOnlyDictionary<PackageRecord, string>> DownloadAsync(PackageIndex index, IEnumerable<PackageRecord> packages, BuildContext ctx)
    {
        var root = MirrorRoot(index.Mirror);
        var cache = new ContentCache(ctx.CacheDir, ctx.Log);
        var wanted = packages.Distinct().ToList();
        var paths = new ConcurrentDictionary<PackageRecord, string>();
        using (var progress = ctx.Log.BeginProgress($"downloading {wanted.Count} packages", wanted.Sum(p => p.Size)))
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, ctx.MaxParallelDownloads), CancellationToken = ctx.Cancellation };
            await Parallel.ForEachAsync(wanted, options, async (package, cancellation) =>
            {
                paths[package] = await FetchDebAsync(root, package, cache, progress, ctx, cancellation);
            });
        }
        return wanted.ToDictionary(p => p, p => paths[p]);
    }

    private async Task<string> FetchDebAsync(Uri root, PackageRecord package, ContentCache cache, IProgressReporter progress, BuildContext ctx, CancellationToken cancellation)
    {
        if (await cache.TryGetAsync(package.Sha256, package.Size, cancellation) is { } cached)
        {
            progress.Advance(package.Size);
            return cached;
        }
        if (ctx.Offline)
        {
            throw Missing($"{package} ({package.Filename}, sha256 {package.Sha256})", cache.Root);
        }
        var url = Resolve(root, package.Filename, package.ToString());
        var write = await RetryingTransferAsync(package.ToString(), url, "Check the network or pick another mirror with --mirror.", async () =>
        {
            await using var stream = await fetcher.OpenAsync(url, cancellation) ?? throw new EdgeImageException(
                $"{package}: {Show(url)} does not exist on the mirror",
                "The mirror removed the file since its index was published; run the build again to read the current index, or pick another mirror with --mirror.",
                ExitCodes.NotFound);
            return await cache.StoreAsync(stream, package.Sha256, package.Size, progress.Advance, cancellation);
        }, ctx);
        if (!write.Stored)
        {
            throw new EdgeImageException(
                $"{package}: {Show(url)} has {write.Describe()} but the signed index says " +
                $"sha256 {package.Sha256} ({package.Size} bytes); the file was not stored",
                "The .deb was altered on the mirror or on the way; try again, or pick another mirror with --mirror.",
                ExitCodes.VerificationFailed);
        }
        return write.Path;
    }

    private Task<T> RetryingTransferAsync<T>(string what, Uri url, string hint, Func<Task<T>> transfer, BuildContext ctx) =>
        TransferRetry.RunAsync(what, url, _retry.Attempts, hint, transfer, ctx.Log);

    /// <summary>The Release as it came from the mirror or the cache, before verification.</summary>
    private sealed record SignedRelease(string Source, byte[]? InRelease, byte[]? Release, byte[]? ReleaseSignature);

    private async Task<SignedRelease> FetchReleaseAsync(Uri root, string suiteDir, DebianSuiteRequest request, BuildContext ctx)
    {
        var inReleaseUrl = Resolve(root, $"{suiteDir}/InRelease", suiteDir);
        if (await FetchSmallAsync(inReleaseUrl, ctx) is { } inRelease)
        {
            return new SignedRelease(Show(inReleaseUrl), inRelease, null, null);
        }
        var releaseUrl = Resolve(root, $"{suiteDir}/Release", suiteDir);
        var release = await FetchSmallAsync(releaseUrl, ctx) ?? throw new EdgeImageException(
            $"suite '{request.Suite}' not found: the mirror has neither {Show(inReleaseUrl)} nor {Show(releaseUrl)}",
            "Check the suite name (the profile's 'suite:', e.g. trixie) and that the mirror URL points at the directory that holds dists/ and pool/.",
            ExitCodes.NotFound);
        var signature = await FetchSmallAsync(Resolve(root, $"{suiteDir}/Release.gpg", suiteDir), ctx) ?? throw new EdgeImageException(
            $"{Show(releaseUrl)} is not signed: there is no InRelease and no Release.gpg",
            "EdgeImage only builds from signed archives; pick a mirror that serves InRelease or Release.gpg.",
            ExitCodes.VerificationFailed);
        return new SignedRelease(Show(releaseUrl), null, release, signature);
    }

    /// <summary>A Release file, fetched again when the transfer breaks off or stalls, as .debs are.</summary>
    private Task<byte[]?> FetchSmallAsync(Uri url, BuildContext ctx) =>
        RetryingTransferAsync(url.Segments[^1], url, "Check the network and the mirror URL, or build from the cache with --offline.",
            () => ReadSmallAsync(url, ctx.Cancellation), ctx);

    private async Task<byte[]?> ReadSmallAsync(Uri url, CancellationToken cancellation)
    {
        await using var stream = await fetcher.OpenAsync(url, cancellation);
        if (stream is null)
        {
            return null;
        }
        var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellation)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxReleaseBytes)
            {
                throw new EdgeImageException($"{Show(url)} is larger than {MaxReleaseBytes >> 20} MiB; that is not a Release file",
                    "Check the mirror URL or pick another mirror with --mirror.", ExitCodes.VerificationFailed);
            }
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// The last verified Release is kept per mirror, suite and architecture: builds for different
    /// architectures refresh it at different times, and each must find the Release that its own
    /// cached indexes belong to.
    /// </summary>
    private static string ReleaseCacheKey(DebianSuiteRequest request)
    {
        var mirror = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(MirrorDiscovery.Normalize(request.Mirror))))[..16];
        return $"releases/{mirror}/{request.Suite.Replace('/', '_')}/{request.Architecture}";
    }

    private static SignedRelease ReadCachedRelease(ContentCache cache, DebianSuiteRequest request, string cacheDir)
    {
        var key = ReleaseCacheKey(request);
        if (cache.ReadNamed($"{key}/InRelease") is { } inRelease)
        {
            return new SignedRelease(Path.Combine(cacheDir, key, "InRelease"), inRelease, null, null);
        }
        if (cache.ReadNamed($"{key}/Release") is { } release && cache.ReadNamed($"{key}/Release.gpg") is { } signature)
        {
            return new SignedRelease(Path.Combine(cacheDir, key, "Release"), null, release, signature);
        }
        throw Missing($"the verified InRelease of suite '{request.Suite}' ({request.Architecture}) from {Show(MirrorDiscovery.Normalize(request.Mirror))}", cacheDir);
    }

    private static void StoreRelease(ContentCache cache, DebianSuiteRequest request, SignedRelease signed)
    {
        var key = ReleaseCacheKey(request);
        if (signed.InRelease is not null)
        {
            cache.WriteNamed($"{key}/InRelease", signed.InRelease);
            cache.DeleteNamed($"{key}/Release");
            cache.DeleteNamed($"{key}/Release.gpg");
        }
        else
        {
            cache.WriteNamed($"{key}/Release", signed.Release!);
            cache.WriteNamed($"{key}/Release.gpg", signed.ReleaseSignature!);
            cache.DeleteNamed($"{key}/InRelease");
        }
    }

    private static ReleaseFile Verify(SignedRelease signed, ArchiveKeyring keyring, DebianSuiteRequest request, BuildContext ctx)
    {
        string text;
        IReadOnlyList<VerifiedSignature> signers;
        if (signed.InRelease is not null)
        {
            var message = ClearSignedMessage.Parse(signed.InRelease, signed.Source);
            signers = keyring.Verify(message.SignedBytes, message.ArmoredSignature, ctx.VerificationTime, signed.Source);
            text = message.Text;
        }
        else
        {
            signers = keyring.Verify(signed.Release!, signed.ReleaseSignature!, ctx.VerificationTime, signed.Source);
            text = Encoding.UTF8.GetString(signed.Release!);
        }
        foreach (var signer in signers)
        {
            ctx.Log.Verbose($"{signed.Source}: good signature by {signer.UserId} ({signer.KeyFingerprint}), made {signer.Created:u}");
        }

        var release = ReleaseFile.Parse(text, signed.Source);
        if (!release.Names(request.Suite))
        {
            // A correctly signed Release of another suite would silently swap the package set.
            throw new EdgeImageException(
                $"{signed.Source} is the Release of suite '{release.Suite}' (codename '{release.Codename}'), not of '{request.Suite}'",
                "The mirror serves the wrong suite under this name; pick another mirror with --mirror.",
                ExitCodes.VerificationFailed);
        }
        if (release.ValidUntil is { } validUntil && validUntil < ctx.VerificationTime)
        {
            throw new EdgeImageException(
                $"{signed.Source} expired at {validUntil.UtcDateTime:u} (Valid-Until), before the verification time {ctx.VerificationTime.UtcDateTime:u}",
                "The mirror has stopped updating: pick an up-to-date mirror with --mirror. To rebuild from an old snapshot on purpose, " +
                "set SOURCE_DATE_EPOCH to a time before it expired.",
                ExitCodes.VerificationFailed);
        }
        return release;
    }

    private static void CheckOffers(ReleaseFile release, DebianSuiteRequest request, string source)
    {
        if (release.Architectures.Count > 0 && !release.Architectures.Contains(request.Architecture))
        {
            throw new EdgeImageException(
                $"suite '{request.Suite}' has no architecture '{request.Architecture}' ({source} lists {string.Join(", ", release.Architectures)})",
                "Set the profile's 'arch:' to one the suite supports.", ExitCodes.NotFound);
        }
        foreach (var component in request.Components)
        {
            if (release.Components.Count > 0 && !release.Components.Contains(component))
            {
                throw new EdgeImageException(
                    $"suite '{request.Suite}' has no component '{component}' ({source} lists {string.Join(", ", release.Components)})",
                    "Fix the profile's 'components:'.", ExitCodes.NotFound);
            }
        }
    }

    /// <summary>
    /// Gets one Packages index into the cache. A mirror being synced serves a new index next to the
    /// old Release for a while, so a mismatch is retried, then fetched by hash (immutable during a
    /// sync), then in another compression, before it is reported.
    /// </summary>
    private async Task<(ReleaseEntry Entry, string Path)> FetchIndexAsync(
        Uri root, string suiteDir, ReleaseFile release, string indexDir, ContentCache cache, BuildContext ctx)
    {
        var candidates = IndexNames
            .Select(name => release.Files.GetValueOrDefault($"{indexDir}/{name}"))
            .OfType<ReleaseEntry>()
            .ToList();
        if (candidates.Count == 0)
        {
            throw new EdgeImageException(
                $"{Show(root)}{suiteDir}/Release lists no {indexDir}/Packages index",
                "Check the profile's 'components:' and 'arch:' against the suite.", ExitCodes.NotFound);
        }
        // The uncompressed index is cached too (see ExpandAsync) and is the cheapest to read again.
        foreach (var candidate in candidates.OrderBy(c => c.Path == $"{indexDir}/Packages" ? 0 : 1))
        {
            if (await cache.TryGetAsync(candidate.Sha256, candidate.Size, ctx.Cancellation) is { } cached)
            {
                return (candidate, cached);
            }
        }
        if (ctx.Offline)
        {
            var first = candidates[0];
            throw Missing($"{suiteDir}/{first.Path} (sha256 {first.Sha256})", cache.Root);
        }

        var failures = new List<IndexFailure>();
        for (var c = 0; c < candidates.Count; c++)
        {
            var candidate = candidates[c];
            var name = $"{suiteDir}/{candidate.Path}";
            var afterwards = c + 1 < candidates.Count ? $"trying {candidates[c + 1].Path.Split('/')[^1]}" : "giving up";
            var byHash = release.AcquireByHash
                ? Resolve(root, $"{suiteDir}/{indexDir}/by-hash/SHA256/{candidate.Sha256}", suiteDir)
                : null;
            var canonical = Resolve(root, name, suiteDir);
            var attempts = Math.Max(1, _retry.Attempts);
            for (var attempt = 1; attempt <= attempts; attempt++)
            {
                var (path, failure) = await TryFetchIndexAsync(canonical, candidate, cache, ctx.Cancellation);
                if (path is not null)
                {
                    return (candidate, path);
                }
                failures.Add(failure!);
                // A missing file stays missing; only a mismatch can be a sync in progress.
                var retry = attempt < attempts && !failure!.NotFound;
                var next = retry ? $"retrying ({attempt + 1} of {attempts}), the mirror may be mid-sync"
                    : byHash is not null ? "trying its by-hash URL" : afterwards;
                ctx.Log.Warn($"{name}: {failure!.Text} (from {Show(canonical)}); {next}");
                if (!retry)
                {
                    break;
                }
                if (_retry.Backoff > TimeSpan.Zero)
                {
                    await Task.Delay(_retry.Backoff * attempt, ctx.Cancellation);
                }
            }
            if (byHash is not null)
            {
                var (path, failure) = await TryFetchIndexAsync(byHash, candidate, cache, ctx.Cancellation);
                if (path is not null)
                {
                    return (candidate, path);
                }
                failures.Add(failure!);
                ctx.Log.Warn($"{name}: {failure!.Text} (from {Show(byHash)}); {afterwards}");
            }
        }
        var reported = failures.FirstOrDefault(f => !f.NotFound) ?? failures[0];
        throw new EdgeImageException(
            $"{suiteDir}/{reported.Entry.Path}: {reported.Text} (tried {string.Join(", ", candidates.Select(c => c.Path.Split('/')[^1]))}" +
            $"{(release.AcquireByHash ? ", each also by hash" : "")})",
            "The mirror is mid-sync; retry later or pick another mirror with --mirror.",
            ExitCodes.VerificationFailed);
    }

    private sealed record IndexFailure(ReleaseEntry Entry, string Text, bool NotFound);

    private async Task<(string? Path, IndexFailure? Failure)> TryFetchIndexAsync(Uri url, ReleaseEntry entry, ContentCache cache, CancellationToken cancellation)
    {
        try
        {
            await using var stream = await fetcher.OpenAsync(url, cancellation);
            if (stream is null)
            {
                return (null, new IndexFailure(entry, "not found on the mirror", NotFound: true));
            }
            var write = await cache.StoreAsync(stream, entry.Sha256, entry.Size, null, cancellation);
            return write.Stored
                ? (write.Path, null)
                : (null, new IndexFailure(entry,
                    $"expected sha256 {entry.Sha256} ({entry.Size} bytes) but got {write.Describe()}",
                    NotFound: false));
        }
        catch (IOException e)
        {
            return (null, new IndexFailure(entry, $"transfer failed: {e.Message}", NotFound: false));
        }
    }

    /// <summary>
    /// Decompresses a verified index into the cache under the uncompressed index's own signed hash:
    /// a second check of the data, and later builds skip the decompression, which costs more than parsing.
    /// </summary>
    private static async Task<string> ExpandAsync(string compressedPath, ReleaseEntry compressed, ReleaseEntry plain, ContentCache cache, string source, CancellationToken cancellation)
    {
        await using var file = new FileStream(compressedPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using var text = Decompress(file, compressed, source);
        CacheWrite write;
        try
        {
            write = await cache.StoreAsync(text, plain.Sha256, plain.Size, null, cancellation);
        }
        catch (Exception e) when (e is InvalidDataException or SharpCompress.Common.SharpCompressException)
        {
            throw Undecompressable(source, e);
        }
        return write.Stored ? write.Path : throw new EdgeImageException(
            $"{source} decompresses to {write.Describe()} but the Release lists {plain.Path} as " +
            $"sha256 {plain.Sha256} ({plain.Size} bytes)",
            "The archive's signed Release contradicts itself; pick another mirror with --mirror.",
            ExitCodes.VerificationFailed);
    }

    private static Stream Decompress(Stream file, ReleaseEntry entry, string source) =>
        entry.Path.EndsWith(".xz", StringComparison.Ordinal) ? Xz.Decompress(file)
        : entry.Path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress)
        : file;

    private static EdgeImageException Undecompressable(string source, Exception e) => new(
        $"{source}: cannot decompress: {e.Message}",
        "The index matched its signed hash but is not valid; the archive itself is broken. Pick another mirror with --mirror.",
        ExitCodes.VerificationFailed, e);

    private static void ParseIndex(string path, ReleaseEntry entry, string source, string architecture, List<PackageRecord> packages, int indexNumber)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var text = Decompress(file, entry, source);
        using var reader = new StreamReader(text, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
        try
        {
            foreach (var paragraph in ControlParagraph.ParseAll(reader))
            {
                var arch = paragraph["Architecture"];
                if (arch == architecture || arch == "all")
                {
                    packages.Add(PackageRecord.FromParagraph(paragraph, source) with { Position = new IndexPosition(indexNumber, paragraph.Line) });
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or SharpCompress.Common.SharpCompressException)
        {
            throw Undecompressable(source, e);
        }
    }

    private static Uri MirrorRoot(string mirror)
    {
        var normalized = MirrorDiscovery.Normalize(mirror);
        if (Path.IsPathRooted(normalized))
        {
            return new Uri(Path.GetFullPath(normalized) + "/");
        }
        if (Uri.TryCreate(normalized + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file")
        {
            return uri;
        }
        throw new EdgeImageException($"mirror '{Show(mirror)}' is not an http(s):// or file:// URL or an absolute directory",
            "Pass --mirror http://<host>/debian (the directory that holds dists/ and pool/).", ExitCodes.Usage);
    }

    /// <summary>Joins a path from a signed index to the mirror root, refusing paths that would leave it.</summary>
    private static Uri Resolve(Uri root, string relative, string what)
    {
        if (relative.StartsWith('/') || relative.Contains("://", StringComparison.Ordinal) || relative.Split('/').Contains(".."))
        {
            throw new EdgeImageException($"{what}: path '{relative}' points outside the mirror",
                "The index is malformed; pick another mirror with --mirror.", ExitCodes.VerificationFailed);
        }
        return new Uri(root, relative);
    }

    /// <summary>A mirror URL as the user may see it: without the password it may carry.</summary>
    private static string Show(Uri url) => UrlCredentials.Redact(url);

    private static string Show(string url) => UrlCredentials.Redact(url);

    private static EdgeImageException Missing(string what, string cacheDir) => new(
        $"offline: {what} is not in the cache {cacheDir}",
        "Run the same build once without --offline to fill the cache.",
        ExitCodes.NotFound);
}
