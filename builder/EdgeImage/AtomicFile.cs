namespace EdgeImage;

/// <summary>
/// Outputs appear whole or not at all: written to a temporary name in the same directory, flushed
/// to disk, then renamed over the final name. On any failure the temporary file is removed.
/// </summary>
public static class AtomicFile
{
    public static string TemporaryName(string path) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.partial-{Environment.ProcessId}");

    public static async Task<long> WriteAsync(string path, Func<Stream, Task> write)
    {
        var temporary = await WriteUnpublishedAsync(path, write);
        try
        {
            File.Move(temporary, path, overwrite: true);
            return new FileInfo(path).Length;
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="path"/>'s content under its temporary name, flushed to disk, and leaves
    /// it there: the caller publishes it (<see cref="PublishTogether"/>) or deletes it. On failure
    /// nothing is left.
    /// </summary>
    public static async Task<string> WriteUnpublishedAsync(string path, Func<Stream, Task> write)
    {
        var temporary = TemporaryName(path);
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                await write(stream);
                stream.Flush(flushToDisk: true);
            }
            return temporary;
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Publishes files written by <see cref="WriteUnpublishedAsync"/> that belong together, the first
    /// one described by the others (an image and its manifest). The old describing files are removed
    /// before anything is renamed, so an interruption can leave the new first file without its
    /// description, never beside the description of the one it replaced.
    /// </summary>
    public static void PublishTogether(IReadOnlyList<(string Temporary, string Path)> files)
    {
        foreach (var (_, path) in files.Skip(1))
        {
            File.Delete(path);
        }
        foreach (var (temporary, path) in files)
        {
            File.Move(temporary, path, overwrite: true);
        }
    }

    /// <summary>Publishes a file that a tool wrote at <paramref name="temporary"/>.</summary>
    public static void Publish(string temporary, string path)
    {
        using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
