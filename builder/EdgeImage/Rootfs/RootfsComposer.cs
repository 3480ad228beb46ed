using System.Diagnostics;
using EdgeImage.Profiles;

namespace EdgeImage.Rootfs;

public sealed record RootfsInput
{
    public required Profile Profile { get; init; }

    /// <summary>Verified .debs in the order they are unpacked (the resolver's order).</summary>
    public required IReadOnlyList<PackageFile> Packages { get; init; }

    public string Hostname { get; init; } = "localhost";
}

/// <summary>The composed tree; the caller owns it and disposes it (which deletes its staging file).</summary>
public sealed record RootfsResult
{
    public required RootfsTree Tree { get; init; }

    public required IReadOnlyList<InstalledPackage> Packages { get; init; }

    public required ConfigureResult Configuration { get; init; }

    /// <summary>Size of all .deb input and the time unpacking it took, for throughput reporting.</summary>
    public required long DebBytes { get; init; }

    public required TimeSpan UnpackTime { get; init; }
}

/// <summary>The Compose stage: unpack every .deb into a fresh tree, then configure it natively.</summary>
public static class RootfsComposer
{
    public static RootfsResult Compose(RootfsInput input, BuildContext context)
    {
        var tree = new RootfsTree(Path.Combine(context.WorkDir, "rootfs"), context.SourceDateEpoch);
        try
        {
            var clock = Stopwatch.StartNew();
            var unpacker = new DebUnpacker(tree, new DerivedCache(context.CacheDir, "unpacked"));
            using (var progress = context.Log.BeginProgress($"Unpacking {input.Packages.Count} packages", input.Packages.Count))
            {
                // Parallelism only speeds up decompression; packages reach the tree in list order.
                unpacker.UnpackAll(input.Packages, Environment.ProcessorCount, progress, context.Cancellation);
            }
            var unpackTime = clock.Elapsed;
            var installed = unpacker.Installed();
            var configuration = RootfsConfigurator.Configure(tree, installed, context.SourceDateEpoch, context.Log, input.Hostname);
            context.Log.Info($"Configured rootfs for {input.Profile.Name}: {configuration.Users} users, {configuration.EnabledUnits.Count} units enabled, " +
                             $"{configuration.Alternatives.Count} alternatives, {tree.Count} entries");
            var filter = new PathFilter(input.Profile.Exclude, input.Profile.ExcludeKeep);
            if (!filter.IsEmpty)
            {
                var pruned = filter.Apply(tree, context.SourceDateEpoch);
                context.Log.Info($"exclude: removed {pruned.Entries} entries ({pruned.Bytes >> 20} MiB) matching {input.Profile.Locate("exclude")}");
            }
            return new RootfsResult
            {
                Tree = tree,
                Packages = installed,
                Configuration = configuration,
                DebBytes = unpacker.BytesRead,
                UnpackTime = unpackTime,
            };
        }
        catch
        {
            tree.Dispose();
            throw;
        }
    }
}
