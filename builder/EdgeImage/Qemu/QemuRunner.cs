using System.Diagnostics;
using System.Text;
using EdgeImage.Tools;

namespace EdgeImage.Qemu;

/// <summary>
/// Boots an image in QEMU and watches its serial console: used by `edgeimage qemu` and by every
/// boot test. QEMU is always stopped (the whole process) and the per-run firmware vars copy always
/// removed, whatever ends the run.
/// </summary>
public sealed class QemuRunner(QemuMachineCatalog catalog, HostTools tools)
{
    /// <summary>After a panic is seen, how long to keep reading for its call trace before stopping QEMU.</summary>
    private static readonly TimeSpan PanicGrace = TimeSpan.FromSeconds(2);

    public QemuRunner() : this(QemuMachineCatalog.LoadBuiltIn(), new HostTools())
    {
    }

    public async Task<QemuRunResult> RunAsync(QemuRunRequest request, IBuildLog log, CancellationToken ct = default)
    {
        var machine = catalog.ForImage(request.ImagePath, request.Board);
        tools.Require(machine.Binary);
        CheckInputs(machine, request);
        var accelerator = QemuCommandLine.ChooseAccelerator(machine, Environment.GetEnvironmentVariable("EDGEIMAGE_QEMU_ACCEL"), QemuCommandLine.KvmUsable());

        using var prepared = Prepare(machine, request, accelerator);
        log.Info($"qemu: booting {request.ImagePath ?? request.Kernel} on {machine.Name} ({machine.Machine}, {accelerator.ToString().ToLowerInvariant()})");
        log.Verbose($"qemu: {tools.Find(machine.Binary)} {string.Join(' ', prepared.Arguments.Select(Quote))}");
        var commandLine = (IReadOnlyList<string>)[tools.Find(machine.Binary)!, .. prepared.Arguments];
        var result = request.AttachTerminal
            ? await RunAttachedAsync(commandLine, request, ct)
            : await RunWatchedAsync(commandLine, request, ct);
        log.Info($"qemu: {Describe(result)} after {result.Elapsed.TotalSeconds:0.0}s");
        return result;
    }

    /// <summary>
    /// Copies the firmware's vars template to a private temp file (OVMF and AAVMF write their
    /// variables, and the template under /usr/share is read-only and shared) and builds the
    /// arguments. Disposing the result deletes the copy.
    /// </summary>
    internal static PreparedRun Prepare(QemuMachine machine, QemuRunRequest request, QemuAccelerator accelerator)
    {
        if (machine.Firmware is null)
        {
            return new PreparedRun(QemuCommandLine.Build(machine, request, accelerator, null), null);
        }
        var firmware = machine.Firmware;
        var missing = new[] { firmware.Code, firmware.Vars }.Where(f => !File.Exists(f)).ToList();
        if (missing.Count > 0)
        {
            throw new EdgeImageException($"UEFI firmware for board {machine.Name} not found: {string.Join(", ", missing)}",
                $"install the Debian package: apt-get install {firmware.Package}", ExitCodes.MissingTool);
        }
        var directory = Directory.CreateTempSubdirectory("edgeimage-qemu-");
        try
        {
            var varsCopy = Path.Combine(directory.FullName, Path.GetFileName(firmware.Vars));
            File.Copy(firmware.Vars, varsCopy);
            if (!OperatingSystem.IsWindows())
            {
                // The copy keeps the template's mode, which need not include write for its new owner.
                File.SetUnixFileMode(varsCopy, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            return new PreparedRun(QemuCommandLine.Build(machine, request, accelerator, varsCopy), directory.FullName);
        }
        catch
        {
            directory.Delete(recursive: true);
            throw;
        }
    }

    internal static void CheckInputs(QemuMachine machine, QemuRunRequest request)
    {
        foreach (var (what, path) in new[] { ("image", request.ImagePath), ("kernel", request.Kernel), ("initrd", request.Initrd), ("device tree", request.Dtb) }
            .Concat(request.ExtraDisks.Select(d => ("disk", (string?)d))))
        {
            if (path is not null && !File.Exists(path))
            {
                throw new EdgeImageException($"{what} {path} does not exist", "check the path", ExitCodes.NotFound);
            }
        }
        if (machine.Disk == QemuDisk.Sd && request.ImagePath is not null)
        {
            var size = new FileInfo(request.ImagePath).Length;
            if (size == 0 || (size & (size - 1)) != 0)
            {
                var next = 1L << (int)(64 - long.LeadingZeroCount(Math.Max(size, 1) - 1));
                throw new EdgeImageException(
                    $"{request.ImagePath} is {size} bytes, but QEMU's {machine.Machine} only takes SD cards whose size is a power of two",
                    $"grow a copy of it: cp {request.ImagePath} sd.img && truncate -s {next} sd.img", ExitCodes.Usage);
            }
        }
    }

    private async Task<QemuRunResult> RunWatchedAsync(IReadOnlyList<string> commandLine, QemuRunRequest request, CancellationToken ct)
    {
        var serialDirectory = Directory.CreateTempSubdirectory("edgeimage-serial-");
        try
        {
            var serialLog = Path.Combine(serialDirectory.FullName, "serial.log");
            return await RunWatchedAsync(QemuCommandLine.SerialToFile(commandLine, serialLog), serialLog, request, ct);
        }
        finally
        {
            serialDirectory.Delete(recursive: true);
        }
    }

    private async Task<QemuRunResult> RunWatchedAsync(IReadOnlyList<string> commandLine, string serialLog, QemuRunRequest request, CancellationToken ct)
    {
        var watcher = new SerialWatcher(request.Expects);
        var errors = new Queue<string>();
        using var process = Start(commandLine, redirect: true);
        var clock = Stopwatch.StartNew();
        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
            {
                lock (errors)
                {
                    errors.Enqueue(line);
                    if (errors.Count > 30)
                    {
                        errors.Dequeue();
                    }
                }
            }
        }, CancellationToken.None);

        var decided = new TaskCompletionSource<QemuExitReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stdout = Task.Run(async () =>
        {
            var decoder = Encoding.UTF8.GetDecoder();
            var bytes = new byte[8192];
            var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
            // The serial line goes to a file that is followed here, not to QEMU's stdout: on a
            // loaded machine QEMU's stdio backend was seen to deliver nothing for minutes.
            while (!File.Exists(serialLog) && !process.HasExited)
            {
                await Task.Delay(50, CancellationToken.None);
            }
            await using var stream = new FileStream(serialLog, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            while (true)
            {
                var exited = process.HasExited;
                var read = await stream.ReadAsync(bytes, CancellationToken.None);
                if (read == 0)
                {
                    if (exited || decided.Task.IsCompleted)
                    {
                        break;
                    }
                    await Task.Delay(50, CancellationToken.None);
                    continue;
                }
                var text = new string(chars, 0, decoder.GetChars(bytes, 0, read, chars, 0));
                request.SerialEcho?.Write(text);
                request.SerialEcho?.Flush();
                var panicBefore = watcher.PanicSeen;
                watcher.Feed(text);
                if (watcher.AllExpectsMatched)
                {
                    decided.TrySetResult(QemuExitReason.Expected);
                }
                else if (watcher.PanicReportComplete)
                {
                    decided.TrySetResult(QemuExitReason.KernelPanic);
                }
                else if (watcher.PanicSeen && !panicBefore)
                {
                    _ = Task.Delay(PanicGrace, CancellationToken.None).ContinueWith(_ => decided.TrySetResult(QemuExitReason.KernelPanic), TaskScheduler.Default);
                }
            }
            decided.TrySetResult(watcher.AllExpectsMatched ? QemuExitReason.Expected
                : watcher.PanicSeen ? QemuExitReason.KernelPanic
                : QemuExitReason.QemuExited);
        }, CancellationToken.None);

        QemuExitReason reason;
        bool stoppedByRunner;
        try
        {
            // Timers may fire a little early; the limit is measured on the run's own clock.
            var limit = request.Timeout ?? Timeout.InfiniteTimeSpan;
            while (!decided.Task.IsCompleted && (limit == Timeout.InfiniteTimeSpan || clock.Elapsed < limit))
            {
                var wait = limit == Timeout.InfiniteTimeSpan ? limit : limit - clock.Elapsed + TimeSpan.FromMilliseconds(1);
                await Task.WhenAny(decided.Task, Task.Delay(wait, ct));
                ct.ThrowIfCancellationRequested();
            }
            reason = decided.Task.IsCompleted ? await decided.Task : QemuExitReason.Timeout;
            clock.Stop();
        }
        finally
        {
            stoppedByRunner = Stop(process);
            await Task.WhenAll(stdout, stderr);
        }
        int? exitCode = stoppedByRunner ? null : process.ExitCode;
        List<string> qemuErrors;
        lock (errors)
        {
            qemuErrors = [.. errors];
        }
        return new QemuRunResult
        {
            Matched = reason == QemuExitReason.Expected || (request.Expects.Count == 0 && reason == QemuExitReason.QemuExited && exitCode == 0),
            ExitReason = reason,
            LastLines = watcher.LastLines,
            QemuErrors = qemuErrors,
            Elapsed = clock.Elapsed,
            ExpectsMatched = watcher.ExpectsMatched,
            QemuExitCode = exitCode,
            CommandLine = commandLine,
        };
    }

    private static async Task<QemuRunResult> RunAttachedAsync(IReadOnlyList<string> commandLine, QemuRunRequest request, CancellationToken ct)
    {
        using var process = Start(commandLine, redirect: false);
        var clock = Stopwatch.StartNew();
        var reason = QemuExitReason.QemuExited;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (request.Timeout is { } limit)
            {
                timeout.CancelAfter(limit);
            }
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                reason = QemuExitReason.Timeout;
            }
            clock.Stop();
        }
        finally
        {
            Stop(process);
        }
        int? exitCode = reason == QemuExitReason.QemuExited ? process.ExitCode : null;
        return new QemuRunResult
        {
            Matched = exitCode == 0,
            ExitReason = reason,
            LastLines = [],
            QemuErrors = [],
            Elapsed = clock.Elapsed,
            ExpectsMatched = 0,
            QemuExitCode = exitCode,
            CommandLine = commandLine,
        };
    }

    private static Process Start(IReadOnlyList<string> commandLine, bool redirect)
    {
        // A watched QEMU gets a pipe as stdin that stays open and empty: inheriting the terminal
        // would let QEMU's stdio backend switch it to raw mode behind the user's back.
        var start = new ProcessStartInfo(commandLine[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = redirect,
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
        };
        foreach (var argument in commandLine.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            return Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new EdgeImageException($"cannot start {commandLine[0]}: {e.Message}", "check that QEMU is installed and executable", ExitCodes.MissingTool, e);
        }
    }

    /// <summary>Kills QEMU if it still runs; true when it had to.</summary>
    private static bool Stop(Process process)
    {
        var running = !process.HasExited;
        if (running)
        {
            process.Kill(entireProcessTree: true);
        }
        process.WaitForExit();
        return running;
    }

    private static string Describe(QemuRunResult result) => result.ExitReason switch
    {
        QemuExitReason.Expected => "expected text seen",
        QemuExitReason.Timeout => $"timed out ({result.ExpectsMatched} of the expected texts seen)",
        QemuExitReason.KernelPanic => "kernel panic",
        _ => $"QEMU exited with code {result.QemuExitCode}",
    };

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_=,./:+@".Contains(c)) ? argument : $"'{argument.Replace("'", "'\\''")}'";

    /// <summary>The arguments of one run and the temp directory holding its firmware vars copy.</summary>
    internal sealed class PreparedRun(IReadOnlyList<string> arguments, string? tempDirectory) : IDisposable
    {
        public IReadOnlyList<string> Arguments { get; } = arguments;

        public string? TempDirectory { get; } = tempDirectory;

        public void Dispose()
        {
            if (TempDirectory is not null && Directory.Exists(TempDirectory))
            {
                Directory.Delete(TempDirectory, recursive: true);
            }
        }
    }
}
