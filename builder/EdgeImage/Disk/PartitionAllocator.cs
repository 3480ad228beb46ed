namespace EdgeImage.Disk;

/// <summary>
/// Places partitions one after another on alignment boundaries between a table's first usable byte
/// and its last. Shared by the GPT and MBR writers so both report misfits the same way.
/// </summary>
internal static class PartitionAllocator
{
    public readonly record struct Request(string Name, PartitionSize Size);

    public readonly record struct Placement(long Offset, long Size);

    /// <param name="usableStart">First byte a partition may use.</param>
    /// <param name="usableEnd">One past the last byte a partition may use.</param>
    /// <param name="tailReserved">Bytes the table keeps at the end of the disk (GPT's backup).</param>
    public static IReadOnlyList<Placement> Allocate(
        string table,
        long diskSize,
        IReadOnlyList<Request> requests,
        long usableStart,
        long usableEnd,
        long alignment,
        long tailReserved)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            if (string.IsNullOrEmpty(r.Name))
            {
                throw new EdgeImageException(
                    $"{table} partition {i + 1} has no name.",
                    "Give every partition a unique name; GUIDs and the build manifest are keyed by it.",
                    ExitCodes.InvalidProfile);
            }

            if (!names.Add(r.Name))
            {
                throw new EdgeImageException(
                    $"{table} partition name '{r.Name}' is used twice.",
                    "Give every partition a unique name.",
                    ExitCodes.InvalidProfile);
            }

            if (r.Size.IsRest && i != requests.Count - 1)
            {
                throw new EdgeImageException(
                    $"{table} partition '{r.Name}' asks for the rest of the disk but is not the last partition.",
                    "Only the last partition may take the rest of the disk; give this one a fixed size.",
                    ExitCodes.InvalidProfile);
            }

            if (r.Size.Bytes is { } b && (b <= 0 || b % GptWriter.SectorSize != 0))
            {
                throw new EdgeImageException(
                    $"{table} partition '{r.Name}' has size {ByteSize.Format(b)}, which is not a positive multiple of {GptWriter.SectorSize} bytes.",
                    "Give partition sizes in whole MiB.",
                    ExitCodes.InvalidProfile);
            }
        }

        var placements = new List<Placement>(requests.Count);
        var next = usableStart;
        foreach (var r in requests)
        {
            var offset = ByteSize.AlignUp(next, alignment);
            var size = r.Size.Bytes ?? ByteSize.AlignDown(usableEnd, alignment) - offset;
            if (size <= 0 || offset + size > usableEnd)
            {
                var minimum = MinimumDiskSize(requests, usableStart, alignment, tailReserved);
                var available = Math.Max(0, usableEnd - offset);
                var what = r.Size.IsRest
                    ? $"takes the rest of the disk, but at offset {ByteSize.Format(offset)} less than {ByteSize.Format(alignment)} is left"
                    : $"needs {ByteSize.Format(size)} at offset {ByteSize.Format(offset)}, but only {ByteSize.Format(available)} is usable from there";
                var reserve = tailReserved > 0 ? $", less {ByteSize.Format(tailReserved)} the table keeps at its end" : string.Empty;
                throw new EdgeImageException(
                    $"{table} partition '{r.Name}' does not fit: it {what} on the {ByteSize.Format(diskSize)} disk{reserve}.",
                    $"Make the disk at least {ByteSize.Format(minimum)}, or shrink the partitions before '{r.Name}'.",
                    ExitCodes.InvalidProfile);
            }

            placements.Add(new Placement(offset, size));
            next = offset + size;
        }

        return placements;
    }

    private static long MinimumDiskSize(IReadOnlyList<Request> requests, long usableStart, long alignment, long tailReserved)
    {
        var end = usableStart;
        foreach (var r in requests)
        {
            end = ByteSize.AlignUp(end, alignment) + (r.Size.Bytes ?? alignment);
        }

        return ByteSize.AlignUp(end + tailReserved, alignment);
    }
}
