namespace EdgeImage.Disk;

public sealed record GptPartitionSpec
{
    /// <summary>Partition label (at most 36 UTF-16 code units); also keys its derived unique GUID.</summary>
    public required string Name { get; init; }

    public required Guid Type { get; init; }

    public required PartitionSize Size { get; init; }

    public GptAttributes Attributes { get; init; }
}

public sealed record GptDiskSpec
{
    /// <summary>Whole image size in bytes, a multiple of 512.</summary>
    public required long DiskSize { get; init; }

    public required DiskSeed Seed { get; init; }

    /// <summary>In on-disk order; partition numbers follow it from 1.</summary>
    public required IReadOnlyList<GptPartitionSpec> Partitions { get; init; }
}

/// <summary>Where a partition landed, for copying its contents in and for the build manifest.</summary>
public sealed record GptPartitionLayout
{
    /// <summary>1-based, as Linux numbers it (sda1, p1).</summary>
    public required int Number { get; init; }

    public required string Name { get; init; }

    public required Guid Type { get; init; }

    public required Guid UniqueGuid { get; init; }

    public required GptAttributes Attributes { get; init; }

    public required long FirstLba { get; init; }

    /// <summary>Inclusive, as GPT stores it.</summary>
    public required long LastLba { get; init; }

    public long Offset => FirstLba * GptWriter.SectorSize;

    public long Size => (LastLba - FirstLba + 1) * GptWriter.SectorSize;
}

public sealed record GptLayout
{
    public required long DiskSize { get; init; }

    public required Guid DiskGuid { get; init; }

    public required long FirstUsableLba { get; init; }

    public required long LastUsableLba { get; init; }

    /// <summary>LBA of the backup header; the last LBA of the disk when the table was written.</summary>
    public required long BackupHeaderLba { get; init; }

    public required IReadOnlyList<GptPartitionLayout> Partitions { get; init; }

    public GptPartitionLayout this[string name] =>
        Partitions.FirstOrDefault(p => p.Name == name)
        ?? throw new KeyNotFoundException($"The GPT has no partition named '{name}'.");
}
