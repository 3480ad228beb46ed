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
        var temporary = TemporaryName(path);
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                await write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
            return new FileInfo(path).Length;
        }
        catch
        {
            File.Delete(temporary);
            throw;
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
