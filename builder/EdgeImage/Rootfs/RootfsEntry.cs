namespace EdgeImage.Rootfs;

public enum RootfsEntryKind
{
    Directory,
    File,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
}

/// <summary>
/// One node of the composed root file system. Ownership and mode are what the package (or the
/// configure step) says, never those of the process that builds the image.
/// </summary>
public sealed record RootfsEntry
{
    /// <summary>Normalized absolute path: "/" or "/usr/bin/bash" (no trailing slash, no "." or "..").</summary>
    public required string Path { get; init; }

    public required RootfsEntryKind Kind { get; init; }

    /// <summary>Permission bits including setuid, setgid and sticky (0..07777).</summary>
    public required int Mode { get; init; }

    public int Uid { get; init; }

    public int Gid { get; init; }

    /// <summary>Seconds since the epoch; clamped to SOURCE_DATE_EPOCH when written.</summary>
    public long MTime { get; init; }

    /// <summary>Target of a symlink exactly as shipped (relative or absolute).</summary>
    public string? LinkTarget { get; init; }

    /// <summary>Where a regular file's bytes live in the tree's content store.</summary>
    public FileContent? Content { get; init; }

    /// <summary>Files that are hard links of each other share a group number (and their content).</summary>
    public int? HardLinkGroup { get; init; }

    public int DevMajor { get; init; }

    public int DevMinor { get; init; }

    /// <summary>The package that shipped the entry; null for entries the builder generated.</summary>
    public string? Package { get; init; }

    public long Size => Content?.Length ?? 0;
}

/// <summary>Where a regular file's bytes are: a slice of one of the tree's staging files.</summary>
public sealed record FileContent(int Segment, long Offset, long Length);
