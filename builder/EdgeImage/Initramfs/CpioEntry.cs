namespace EdgeImage.Initramfs;

public enum CpioEntryKind
{
    Directory,
    File,
    Symlink,
    CharDevice,
    BlockDevice,
}

/// <summary>
/// One member of a cpio archive. Ownership and permissions are explicit, never taken from the build
/// host, and a device node is only a header, so none of this needs root.
/// </summary>
public sealed record CpioEntry
{
    private const int Rwxr_xr_x = 0b111_101_101;
    private const int Rw_r__r__ = 0b110_100_100;
    private const int Rw_______ = 0b110_000_000;
    private const int Rwxrwxrwx = 0b111_111_111;

    /// <summary>Path inside the archive; a leading "/" or "./" is dropped, so "/dev/console" is stored as "dev/console".</summary>
    public required string Path { get; init; }

    public required CpioEntryKind Kind { get; init; }

    /// <summary>Permission bits including setuid, setgid and sticky (at most 07777); the file type comes from <see cref="Kind"/>.</summary>
    public required int Permissions { get; init; }

    public long Uid { get; init; }

    public long Gid { get; init; }

    /// <summary>Seconds since the epoch; null, or anything later than SOURCE_DATE_EPOCH, is written as SOURCE_DATE_EPOCH.</summary>
    public long? ModificationTime { get; init; }

    /// <summary>For symlinks: where the link points, stored as the entry's data.</summary>
    public string? LinkTarget { get; init; }

    public int DeviceMajor { get; init; }

    public int DeviceMinor { get; init; }

    /// <summary>For files: the exact number of bytes <see cref="OpenContent"/> yields.</summary>
    public long Size { get; init; }

    /// <summary>For files: opened once, when the archive is written, and read to its end.</summary>
    public Func<Stream>? OpenContent { get; init; }

    public static CpioEntry Directory(string path, int permissions = Rwxr_xr_x) =>
        new() { Path = path, Kind = CpioEntryKind.Directory, Permissions = permissions };

    public static CpioEntry File(string path, ReadOnlyMemory<byte> content, int permissions = Rw_r__r__) => new()
    {
        Path = path,
        Kind = CpioEntryKind.File,
        Permissions = permissions,
        Size = content.Length,
        OpenContent = () => new MemoryStream(content.ToArray(), writable: false),
    };

    public static CpioEntry File(string path, long size, Func<Stream> openContent, int permissions = Rw_r__r__) => new()
    {
        Path = path,
        Kind = CpioEntryKind.File,
        Permissions = permissions,
        Size = size,
        OpenContent = openContent,
    };

    public static CpioEntry Symlink(string path, string target) =>
        new() { Path = path, Kind = CpioEntryKind.Symlink, Permissions = Rwxrwxrwx, LinkTarget = target };

    public static CpioEntry CharDevice(string path, int major, int minor, int permissions = Rw_______) => new()
    {
        Path = path,
        Kind = CpioEntryKind.CharDevice,
        Permissions = permissions,
        DeviceMajor = major,
        DeviceMinor = minor,
    };

    public static CpioEntry BlockDevice(string path, int major, int minor, int permissions = Rw_______) => new()
    {
        Path = path,
        Kind = CpioEntryKind.BlockDevice,
        Permissions = permissions,
        DeviceMajor = major,
        DeviceMinor = minor,
    };
}
