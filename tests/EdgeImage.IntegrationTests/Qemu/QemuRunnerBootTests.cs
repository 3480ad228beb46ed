using System.Runtime.Versioning;
using EdgeImage.Qemu;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Qemu;

/// <summary>
/// Real QEMU boots of a real Debian kernel with a busybox initramfs on the generic-efi-x86_64
/// board (q35 + OVMF), proving what the runner decides: expected text seen, timeout, kernel panic,
/// guest power-off. Every run is bounded by the runner's timeout and by a hard cancellation.
/// </summary>
[Trait("Category", "qemu")]
[SupportedOSPlatform("linux")]
public sealed class QemuRunnerBootTests(DebianTestKernel kernel, ITestOutputHelper output) : IClassFixture<DebianTestKernel>, IDisposable
{
    private const string Board = "generic-efi-x86_64";
    private const string Marker = "EDGEIMAGE-INIT-REACHED";

    // no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can fail and panic
    // before init runs; it is the usual switch for virtual machines.
    private const string CommandLine = "console=ttyS0 no_timer_check";

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-qemu-test-");

    [Fact(Timeout = 180_000)]
    public async Task A_direct_kernel_boot_is_matched_when_init_prints_the_marker()
    {
        var initrd = await TestInitramfs.CreateAsync(_work.FullName, $"/bin/busybox echo {Marker}\n/bin/busybox sleep 600\n");

        var result = await RunAsync(new QemuRunRequest
        {
            Expects = ["Linux version", Marker],
            Timeout = TimeSpan.FromSeconds(90),
            Kernel = kernel.Vmlinuz,
            Initrd = initrd,
            Append = CommandLine,
        });

        Assert.Equal(QemuExitReason.Expected, result.ExitReason);
        Assert.True(result.Matched);
        Assert.Equal(2, result.ExpectsMatched);
        Assert.Contains(result.LastLines, l => l.Contains(Marker, StringComparison.Ordinal));
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(90));
        var varsCopy = result.CommandLine.Single(a => a.StartsWith("if=pflash,format=raw,unit=1,file=", StringComparison.Ordinal)).Split("file=")[1];
        Assert.False(File.Exists(varsCopy), "the per-run OVMF vars copy is deleted after the run");
        Assert.Contains("restrict=on", string.Join(' ', result.CommandLine));
    }

    [Fact(Timeout = 120_000)]
    public async Task An_expect_that_never_comes_ends_in_a_timeout()
    {
        var initrd = await TestInitramfs.CreateAsync(_work.FullName, "/bin/busybox sleep 600\n");

        var result = await RunAsync(new QemuRunRequest
        {
            Expect = "THIS TEXT NEVER APPEARS",
            Timeout = TimeSpan.FromSeconds(10),
            Kernel = kernel.Vmlinuz,
            Initrd = initrd,
            Append = CommandLine,
        });

        Assert.Equal(QemuExitReason.Timeout, result.ExitReason);
        Assert.False(result.Matched);
        Assert.Null(result.QemuExitCode);
        Assert.InRange(result.Elapsed, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20));
        Assert.Empty(QemuProcessesUsing(initrd));
    }

    [Fact(Timeout = 60_000)]
    public async Task Cancelling_a_run_kills_QEMU()
    {
        var initrd = await TestInitramfs.CreateAsync(_work.FullName, "/bin/busybox sleep 600\n");
        using var cancel = new CancellationTokenSource();
        var run = new QemuRunner().RunAsync(
            new QemuRunRequest { Board = Board, Expect = Marker, Timeout = TimeSpan.FromSeconds(60), Kernel = kernel.Vmlinuz, Initrd = initrd, Append = CommandLine },
            NullBuildLog.Instance, cancel.Token);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.NotEmpty(QemuProcessesUsing(initrd));

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Empty(QemuProcessesUsing(initrd));
    }

    [Fact(Timeout = 180_000)]
    public async Task An_init_that_exits_is_reported_as_a_kernel_panic()
    {
        var initrd = await TestInitramfs.CreateAsync(_work.FullName, "/bin/busybox echo init giving up\nexit 1\n");

        var result = await RunAsync(new QemuRunRequest
        {
            Expect = Marker,
            Timeout = TimeSpan.FromSeconds(90),
            Kernel = kernel.Vmlinuz,
            Initrd = initrd,
            Append = CommandLine,
        });

        Assert.Equal(QemuExitReason.KernelPanic, result.ExitReason);
        Assert.False(result.Matched);
        Assert.Contains(result.LastLines, l => l.Contains("Attempted to kill init", StringComparison.Ordinal));
    }

    [Fact(Timeout = 180_000)]
    public async Task Without_an_expect_the_run_lasts_until_the_guest_powers_off()
    {
        var initrd = await TestInitramfs.CreateAsync(_work.FullName, "/bin/busybox echo powering off\n/bin/busybox poweroff -f\n");

        var result = await RunAsync(new QemuRunRequest
        {
            Timeout = TimeSpan.FromSeconds(90),
            Kernel = kernel.Vmlinuz,
            Initrd = initrd,
            Append = CommandLine,
        });

        Assert.Equal(QemuExitReason.QemuExited, result.ExitReason);
        Assert.Equal(0, result.QemuExitCode);
        Assert.True(result.Matched);
        Assert.Contains(result.LastLines, l => l.Contains("powering off", StringComparison.Ordinal));
    }

    private async Task<QemuRunResult> RunAsync(QemuRunRequest request)
    {
        using var hardStop = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var result = await new QemuRunner().RunAsync(request with { Board = Board, NoReboot = true }, new PlainBuildLog(new TestOutputWriter(output)), hardStop.Token);
        output.WriteLine($"kernel package: {kernel.Package}");
        output.WriteLine($"result: {result.ExitReason} after {result.Elapsed.TotalSeconds:0.0}s; last lines:");
        foreach (var line in result.LastLines.TakeLast(8))
        {
            output.WriteLine("  | " + line);
        }
        return result;
    }

    /// <summary>Running processes whose command line mentions a path: a QEMU left behind would show up here.</summary>
    private static List<int> QemuProcessesUsing(string path) =>
        Directory.GetDirectories("/proc")
            .Select(d => (Pid: int.TryParse(Path.GetFileName(d), out var pid) ? pid : -1, Dir: d))
            .Where(p => p.Pid > 0)
            .Where(p =>
            {
                try
                {
                    return File.ReadAllText(Path.Combine(p.Dir, "cmdline")).Split('\0').Contains(path);
                }
                catch (IOException)
                {
                    return false;
                }
            })
            .Select(p => p.Pid)
            .ToList();

    public void Dispose() => _work.Delete(recursive: true);

    private sealed class TestOutputWriter(ITestOutputHelper output) : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void WriteLine(string? value) => output.WriteLine(value ?? "");
    }
}
