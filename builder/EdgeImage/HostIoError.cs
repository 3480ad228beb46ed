namespace EdgeImage;

/// <summary>
/// Turns a file operation the host refused (a full disk, a path without permission) into what the
/// user can do about it. The exception's own message already names the file; the build's atomic
/// writers have removed their partial files by the time it reaches the front end.
/// </summary>
public static class HostIoError
{
    /// <summary>errno ENOSPC and EDQUOT, which .NET on Linux carries as the IOException's HResult.</summary>
    private const int NoSpace = 28;
    private const int QuotaExceeded = 122;

    public static bool Handles(Exception e) => e is IOException or UnauthorizedAccessException;

    /// <summary>The file system or the user's quota is full: a local failure, never worth a network retry.</summary>
    public static bool IsDiskFull(Exception e) =>
        e is IOException io && (io.HResult is NoSpace or QuotaExceeded || io.Message.Contains("No space left on device", StringComparison.Ordinal));

    public static string Hint(Exception e) => e switch
    {
        IOException when IsDiskFull(e) =>
            "free space on the file system named above (the output directory, the cache: --cache-dir or $EDGEIMAGE_CACHE, or $TMPDIR) and rerun; nothing was left under the final output name",
        UnauthorizedAccessException =>
            "this user may not write or read that path: choose another --out or --cache-dir, or fix its permissions",
        _ => "rerun with -v to see where it happened",
    };
}
