namespace EdgeImage;

/// <summary>
/// Where the library reports what it is doing. The CLI renders it (Spectre.Console in a terminal,
/// plain lines otherwise); tests collect it.
/// </summary>
public interface IBuildLog
{
    void Info(string message);

    void Warn(string message);

    /// <summary>Details shown only with --verbose.</summary>
    void Verbose(string message);

    /// <summary>Starts a long step with a known amount of work (bytes, files, packages).</summary>
    IProgressReporter BeginProgress(string title, long total);
}

public interface IProgressReporter : IDisposable
{
    void Advance(long amount);
}

/// <summary>Plain-line log for CI, pipes and tests: one line per message, no terminal control codes.</summary>
public sealed class PlainBuildLog(TextWriter writer, bool verbose = false) : IBuildLog
{
    private readonly Lock _gate = new();

    public void Info(string message) => Write(message);

    public void Warn(string message) => Write("warning: " + message);

    public void Verbose(string message)
    {
        if (verbose)
        {
            Write(message);
        }
    }

    public IProgressReporter BeginProgress(string title, long total)
    {
        Write(title + " ...");
        return new LineProgress(this, title, total);
    }

    private void Write(string line)
    {
        lock (_gate)
        {
            writer.WriteLine(line);
        }
    }

    private sealed class LineProgress(PlainBuildLog log, string title, long total) : IProgressReporter
    {
        private long _done;
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        public void Advance(long amount) => Interlocked.Add(ref _done, amount);

        public void Dispose() =>
            log.Write($"{title}: done ({Interlocked.Read(ref _done)}/{total}) in {_clock.Elapsed.TotalSeconds:0.0}s");
    }
}

/// <summary>A log that drops everything; for library callers that do not want output.</summary>
public sealed class NullBuildLog : IBuildLog
{
    public static readonly NullBuildLog Instance = new();

    public void Info(string message) { }

    public void Warn(string message) { }

    public void Verbose(string message) { }

    public IProgressReporter BeginProgress(string title, long total) => new Nothing();

    private sealed class Nothing : IProgressReporter
    {
        public void Advance(long amount) { }

        public void Dispose() { }
    }
}
