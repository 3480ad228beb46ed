namespace EdgeImage.Disk;

/// <summary>A partition's requested size: a fixed number of bytes, or the rest of the disk.</summary>
public readonly record struct PartitionSize
{
    private PartitionSize(long? bytes) => Bytes = bytes;

    /// <summary>The requested size in bytes; null for <see cref="Rest"/>.</summary>
    public long? Bytes { get; }

    public bool IsRest => Bytes is null;

    /// <summary>Whatever is left up to the end of the disk; only the last partition may ask for it.</summary>
    public static PartitionSize Rest => new(null);

    public static PartitionSize FromBytes(long bytes) => new(bytes);

    public static PartitionSize FromMiB(long mebibytes) => new(mebibytes * ByteSize.MiB);

    public override string ToString() => Bytes is { } b ? ByteSize.Format(b) : "rest of the disk";
}

internal static class ByteSize
{
    public const long KiB = 1024;
    public const long MiB = 1024 * KiB;
    public const long GiB = 1024 * MiB;

    /// <summary>Exact, never rounded: "512 MiB" when the size divides evenly, else a smaller unit.</summary>
    public static string Format(long bytes) => bytes switch
    {
        0 => "0 bytes",
        _ when bytes % GiB == 0 => $"{bytes / GiB} GiB",
        _ when bytes % MiB == 0 => $"{bytes / MiB} MiB",
        _ when bytes % KiB == 0 => $"{bytes / KiB} KiB",
        _ => $"{bytes} bytes",
    };

    public static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;

    public static long AlignDown(long value, long alignment) => value / alignment * alignment;
}
