using System.Diagnostics;
using Spectre.Console;

namespace EdgeImage.Cli;

/// <summary>
/// The build log on the terminal: Spectre.Console progress bars when stderr is a terminal, the
/// library's plain lines otherwise (CI, pipes, TERM=dumb). It writes to stderr so that stdout
/// carries only a command's result (YAML, tables, paths) and stays pipeable.
/// </summary>
internal sealed class ConsoleBuildLog : IBuildLog
{
    private readonly IBuildLog? _plain;
    private readonly IAnsiConsole _console;
    private readonly bool _verbose;
    private readonly Lock _gate = new();
    private ProgressSession? _session;

    public ConsoleBuildLog(bool verbose)
    {
        _verbose = verbose;
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (!IsTerminal(_console))
        {
            _plain = new PlainBuildLog(Console.Error, verbose);
        }
    }

    /// <summary>Whether stdout is a terminal a human reads, so tables and colour are welcome.</summary>
    public static bool StdoutIsTerminal => !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";

    public void Info(string message)
    {
        if (_plain is not null)
        {
            _plain.Info(message);
            return;
        }
        Write(new Text(message));
    }

    public void Warn(string message)
    {
        if (_plain is not null)
        {
            _plain.Warn(message);
            return;
        }
        Write(new Markup($"[yellow]warning:[/] {Markup.Escape(message)}"));
    }

    public void Verbose(string message)
    {
        if (_plain is not null)
        {
            _plain.Verbose(message);
            return;
        }
        if (_verbose)
        {
            Write(new Text(message, new Style(Color.Grey)));
        }
    }

    public IProgressReporter BeginProgress(string title, long total)
    {
        if (_plain is not null)
        {
            return _plain.BeginProgress(title, total);
        }
        lock (_gate)
        {
            // Spectre allows one live display at a time, so concurrent steps share one session of bars.
            _session ??= ProgressSession.Start(_console);
            _session.Active++;
            var task = _session.Context.AddTask(Markup.Escape(title), maxValue: Math.Max(total, 1));
            return new Bar(this, task);
        }
    }

    private void Write(Spectre.Console.Rendering.IRenderable line)
    {
        // While bars are live, Spectre's render hook prints lines above them.
        lock (_gate)
        {
            _console.Write(line);
            _console.WriteLine();
        }
    }

    private void End(ProgressTask task, TimeSpan took)
    {
        lock (_gate)
        {
            task.Description = $"{task.Description} [grey]{took.TotalSeconds:0.0}s[/]";
            task.Value = task.MaxValue;
            task.StopTask();
            if (--_session!.Active == 0)
            {
                _session.Stop();
                _session = null;
            }
        }
    }

    private static bool IsTerminal(IAnsiConsole console) =>
        !Console.IsErrorRedirected
        && console.Profile.Capabilities.Interactive
        && Environment.GetEnvironmentVariable("TERM") != "dumb"
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    private sealed class ProgressSession(ProgressContext context, Task running, TaskCompletionSource finish)
    {
        public ProgressContext Context { get; } = context;

        public int Active { get; set; }

        public static ProgressSession Start(IAnsiConsole console)
        {
            var ready = new TaskCompletionSource<ProgressContext>(TaskCreationOptions.RunContinuationsAsynchronously);
            var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var running = Task.Run(() => console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    ready.SetResult(context);
                    await finish.Task;
                }));
            // Surfaces a failure to start the display instead of waiting forever for its context.
            Task.WaitAny(ready.Task, running);
            return new ProgressSession(ready.Task.IsCompleted ? ready.Task.Result : throw running.Exception!.GetBaseException(), running, finish);
        }

        public void Stop()
        {
            finish.SetResult();
            running.GetAwaiter().GetResult();
        }
    }

    private sealed class Bar(ConsoleBuildLog log, ProgressTask task) : IProgressReporter
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private int _disposed;

        public void Advance(long amount) => task.Increment(amount);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                log.End(task, _clock.Elapsed);
            }
        }
    }
}
