using System.Collections.Concurrent;

namespace EdgeImage.Tests.Fixtures;

/// <summary>Keeps every message so tests can assert on what the user would have been told.</summary>
public sealed class RecordingBuildLog : IBuildLog
{
    public ConcurrentQueue<string> Infos { get; } = new();

    public ConcurrentQueue<string> Warnings { get; } = new();

    public ConcurrentQueue<string> VerboseLines { get; } = new();

    /// <summary>Title, announced total and the sum of all advances, per progress started.</summary>
    public ConcurrentQueue<(string Title, long Total, Func<long> Done)> Progress { get; } = new();

    public void Info(string message) => Infos.Enqueue(message);

    public void Warn(string message) => Warnings.Enqueue(message);

    public void Verbose(string message) => VerboseLines.Enqueue(message);

    public IProgressReporter BeginProgress(string title, long total)
    {
        var reporter = new Reporter();
        Progress.Enqueue((title, total, () => Interlocked.Read(ref reporter.Done)));
        return reporter;
    }

    private sealed class Reporter : IProgressReporter
    {
        public long Done;

        public void Advance(long amount) => Interlocked.Add(ref Done, amount);

        public void Dispose() { }
    }
}
