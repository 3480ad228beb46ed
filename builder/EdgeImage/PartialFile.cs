namespace EdgeImage;

/// <summary>
/// Names for files written beside their final name and renamed into place when complete. A name is
/// unique across processes (the pid) and across everything in this process: several caches over one
/// directory (parallel builds of one process, as a test run makes them) must never pick the same
/// temporary name, or one writer's CreateNew fails and its rename takes the other's file.
/// </summary>
public static class PartialFile
{
    // The one process-wide counter: per-instance counters all start at 1.
    private static long s_sequence;

    /// <summary><paramref name="finalPath"/> plus ".PID.N.partial".</summary>
    public static string Beside(string finalPath) =>
        $"{finalPath}.{Environment.ProcessId}.{Interlocked.Increment(ref s_sequence)}.partial";
}
