using System.Diagnostics;
using EdgeImage.Packages;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;

namespace EdgeImage;

/// <summary>What every build starts from: a profile and where its packages come from.</summary>
public sealed record RootfsRequest
{
    public required Profile Profile { get; init; }

    /// <summary>--mirror; null falls back to EDGEIMAGE_MIRROR, the profile, then the host's apt sources.</summary>
    public string? Mirror { get; init; }

    /// <summary>Packages needed at build time but not installed into the rootfs (boot loaders, firmware).</summary>
    public IReadOnlyList<string> BuildPackages { get; init; } = [];
}

/// <summary>The composed tree plus what it was made from; the caller disposes it (which deletes its staging file).</summary>
public sealed record ComposedRootfs : IDisposable
{
    public required RootfsResult Rootfs { get; init; }

    public required MirrorSource Mirror { get; init; }

    /// <summary>The verified Release of the suite the packages came from.</summary>
    public required ReleaseFile Release { get; init; }

    public required IReadOnlyList<PackageRecord> Packages { get; init; }

    /// <summary>Verified .debs of RootfsRequest.BuildPackages.</summary>
    public required IReadOnlyList<PackageFile> BuildPackageFiles { get; init; }

    /// <summary>The context with SOURCE_DATE_EPOCH settled (the suite's Release date when the user gave none).</summary>
    public required BuildContext Context { get; init; }

    public RootfsTree Tree => Rootfs.Tree;

    public void Dispose() => Rootfs.Tree.Dispose();
}

/// <summary>
/// The first half of every build: Resolve (verified index, dependency closure, verified .debs) and
/// Compose (unpack + native configure). Reads top to bottom; each step logs when it starts and how
/// long it took.
/// </summary>
public sealed class RootfsBuild(IMirrorFetcher fetcher, MirrorDiscovery discovery)
{
    /// <summary>Set when the user did not give SOURCE_DATE_EPOCH: the build then takes the suite's Release date.</summary>
    public const long UnsetSourceDateEpoch = -1;

    public async Task<ComposedRootfs> ComposeAsync(RootfsRequest request, BuildContext context)
    {
        var profile = request.Profile;
        var log = context.Log;
        var mirror = discovery.Resolve(request.Mirror, profile.Mirror, profile.Locate("mirror"), log);
        var repository = new DebianRepository(fetcher);

        var clock = Stopwatch.StartNew();
        var suite = await repository.VerifyAsync(new DebianSuiteRequest
        {
            Mirror = mirror.Url,
            Suite = profile.Suite,
            Components = profile.Components,
            Architecture = profile.Arch,
            KeyringPath = profile.Keyring ?? ArchiveKeyring.DebianDefault,
        }, context);
        var release = suite.Release;
        if (context.SourceDateEpoch == UnsetSourceDateEpoch)
        {
            var date = release.Date ?? throw new EdgeImageException(
                $"the Release file of {profile.Suite} has no Date and SOURCE_DATE_EPOCH is not set",
                "set SOURCE_DATE_EPOCH to the time every file in the image should carry");
            context = context with { SourceDateEpoch = date.ToUnixTimeSeconds() };
            log.Verbose($"SOURCE_DATE_EPOCH={context.SourceDateEpoch} (the suite's Release date)");
        }

        var wanted = profile.Packages.Concat(profile.Kernel.Package is { } kernel ? [kernel] : []).ToList();
        var resolutions = new ResolutionCache(context.CacheDir);
        var key = ResolutionCache.KeyOf(suite, wanted, profile.IncludeRequired, request.BuildPackages);
        var resolution = resolutions.TryLoad(key, suite);
        if (resolution is not null)
        {
            log.Info($"resolve: {resolution.Selected.Count} packages for {wanted.Count} requested, as resolved before against the same verified indexes ({clock.Elapsed.TotalSeconds:0.0}s)");
        }
        else
        {
            resolution = ResolveSuite(suite, profile, wanted, request, log);
            resolutions.Store(key, resolution);
        }
        var (selected, buildOnly) = (resolution.Selected, resolution.BuildOnly);

        clock.Restart();
        var files = await repository.DownloadAsync(new PackageIndex(suite.Request, release, []), selected.Concat(buildOnly), context);
        log.Info($"fetch: {selected.Count + buildOnly.Count} packages verified ({selected.Sum(p => p.Size) >> 20} MiB, {clock.Elapsed.TotalSeconds:0.0}s)");

        clock.Restart();
        var rootfs = RootfsComposer.Compose(new RootfsInput
        {
            Profile = profile,
            Packages = selected.Select(p => new PackageFile(p, files[p])).ToList(),
        }, context);
        int overlaid;
        try
        {
            overlaid = Overlays.Overlay.Apply(rootfs.Tree, profile, context.SourceDateEpoch);
        }
        catch
        {
            rootfs.Tree.Dispose();
            throw;
        }
        log.Info($"compose: {rootfs.Tree.Count} entries, {overlaid} from overlays ({clock.Elapsed.TotalSeconds:0.0}s)");
        return new ComposedRootfs
        {
            Rootfs = rootfs,
            Mirror = mirror,
            Release = release,
            Packages = selected,
            BuildPackageFiles = buildOnly.Select(p => new PackageFile(p, files[p])).ToList(),
            Context = context,
        };
    }

    /// <summary>
    /// Parses the whole suite and resolves the request, in a method of its own so the index (every
    /// package of the suite, ~200 MB parsed) is garbage as soon as the selection is made, not kept
    /// alive by the async build.
    /// </summary>
    private static Resolution ResolveSuite(VerifiedSuite suite, Profile profile, IReadOnlyList<string> wanted, RootfsRequest request, IBuildLog log)
    {
        var clock = Stopwatch.StartNew();
        var index = DebianRepository.Read(suite);
        log.Info($"index: {index.Count} packages in {profile.Suite}/{string.Join(",", profile.Components)} for {profile.Arch} ({clock.Elapsed.TotalSeconds:0.0}s)");

        // The kernel is named under `kernel:`, not in `packages:`; the resolver would point a user at
        // the package list for a kernel the suite lacks, so check it here where we know its place.
        if (profile.Kernel.Package is { } kernelPackage && !index.Contains(kernelPackage))
        {
            throw new EdgeImageException(
                $"kernel package {kernelPackage} not found in {profile.Suite}/{string.Join(",", profile.Components)} for {profile.Arch}",
                $"Check `kernel.package` in {profile.Locate("kernel")}: name a real kernel package of the suite, such as linux-image-{profile.Arch}.",
                ExitCodes.NotFound);
        }

        clock.Restart();
        var resolver = new Resolver(index.Packages, profile.Arch, $"{profile.Suite}/{string.Join(",", profile.Components)}");
        var selected = resolver.Resolve(wanted, new ResolveOptions
        {
            IncludeRequired = profile.IncludeRequired,
            PackageListSource = profile.Locate("packages"),
        });
        var buildOnly = request.BuildPackages.Count == 0
            ? []
            : resolver.Resolve(request.BuildPackages, new ResolveOptions { PackageListSource = "the board's build packages" })
                .Where(p => request.BuildPackages.Contains(p.Name, StringComparer.Ordinal)).ToList();
        log.Info($"resolve: {selected.Count} packages for {wanted.Count} requested ({clock.Elapsed.TotalSeconds:0.0}s)");
        return new Resolution(selected, buildOnly);
    }

    /// <summary>
    /// `edgeimage rootfs`: the composed tree as a reproducible tar. Written under a temporary name
    /// next to the target and renamed when complete, so a failed or killed run never leaves a
    /// partial tar under the final name.
    /// </summary>
    public async Task<long> WriteTarAsync(RootfsRequest request, string outputPath, BuildContext context)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        Directory.CreateDirectory(directory);
        using var composed = await ComposeAsync(request, context);
        return await AtomicFile.WriteAsync(outputPath, stream =>
        {
            RootfsTar.Write(composed.Tree, stream, composed.Context.SourceDateEpoch, context.Cancellation);
            return Task.CompletedTask;
        });
    }
}
