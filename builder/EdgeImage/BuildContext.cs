namespace EdgeImage;

/// <summary>
/// Everything a stage may depend on besides its own input: computed paths, the clamp time for
/// reproducible output, the log and cancellation. Stages never read the wall clock or globals.
/// </summary>
public sealed record BuildContext
{
    /// <summary>Content-addressed download cache (indexes and .debs), shared between builds.</summary>
    public required string CacheDir { get; init; }

    /// <summary>Scratch space for this build; deleted when the build ends.</summary>
    public required string WorkDir { get; init; }

    /// <summary>Seconds since the epoch that every timestamp in an output is clamped to.</summary>
    public required long SourceDateEpoch { get; init; }

    /// <summary>
    /// The time signatures and Valid-Until are checked against: SOURCE_DATE_EPOCH when the user
    /// set it (so an old snapshot can be rebuilt), otherwise the current time read once by the CLI.
    /// </summary>
    public required DateTimeOffset VerificationTime { get; init; }

    public IBuildLog Log { get; init; } = NullBuildLog.Instance;

    /// <summary>Build from the cache alone; anything missing is an error that names it.</summary>
    public bool Offline { get; init; }

    public int MaxParallelDownloads { get; init; } = 4;

    public CancellationToken Cancellation { get; init; }
}
