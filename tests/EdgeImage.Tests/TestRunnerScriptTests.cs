using System.Diagnostics;
using EdgeImage.Tests.Profiles;

namespace EdgeImage.Tests;

/// <summary>
/// tests/run-tests.sh, the test command of the README and of CI, run in a scratch checkout of two
/// test projects with a stand-in `dotnet` first on PATH: the stand-in writes what the real one would
/// (or not) and records its process ID, so a test can see whether anything was left running.
/// </summary>
public sealed class TestRunnerScriptTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        // A stand-in left behind by a failing assertion must not outlive the test.
        foreach (var pidFile in Directory.EnumerateFiles(_dir.Path, "*.pid", SearchOption.AllDirectories))
        {
            if (int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                try { Process.GetProcessById(pid).Kill(entireProcessTree: true); } catch (ArgumentException) { } catch (InvalidOperationException) { }
            }
        }
        _dir.Dispose();
    }

    [Fact]
    public void A_missing_test_assembly_fails_the_run_before_any_project_starts()
    {
        var root = Scratch(builtProjects: ["Alpha.Tests"], allProjects: ["Alpha.Tests", "Beta.Tests"]);

        var (exitCode, output) = Run(root);

        Assert.Equal(2, exitCode);
        Assert.Contains("Beta.Tests.dll is missing", output);
        // Alpha sorts first: before the fix its run had already started in the background, and kept
        // running after the script exited. Its stand-in writes its PID at once; give it time to.
        var pidFile = Path.Combine(root, "Alpha.Tests.pid");
        for (var waited = 0; waited < 20 && !File.Exists(pidFile); waited++)
        {
            Thread.Sleep(100);
        }
        Assert.False(File.Exists(pidFile), "the runner started Alpha.Tests although Beta.Tests was missing");
    }

    [Fact]
    public void The_results_of_every_project_are_summed_into_one_line()
    {
        var root = Scratch(builtProjects: ["Alpha.Tests", "Beta.Tests"], allProjects: ["Alpha.Tests", "Beta.Tests"]);

        var (exitCode, output) = Run(root);

        Assert.Equal(1, exitCode);
        // The stand-in reports 2 passed for Alpha and 1 passed, 1 failed for Beta.
        Assert.EndsWith("3 passed, 1 failed", output.TrimEnd());
    }

    private string Scratch(string[] builtProjects, string[] allProjects)
    {
        var root = _dir.File("checkout");
        Directory.CreateDirectory(Path.Combine(root, "tests"));
        File.Copy(Path.Combine(Checkout.Root, "tests", "run-tests.sh"), Path.Combine(root, "tests", "run-tests.sh"));
        foreach (var name in allProjects)
        {
            var project = Path.Combine(root, "tests", name);
            Directory.CreateDirectory(project);
            File.WriteAllText(Path.Combine(project, name + ".csproj"), "<Project><ItemGroup><PackageReference Include=\"Microsoft.NET.Test.Sdk\" /></ItemGroup></Project>\n");
            if (builtProjects.Contains(name))
            {
                var bin = Path.Combine(project, "bin", "Release", "net10.0");
                Directory.CreateDirectory(bin);
                File.WriteAllText(Path.Combine(bin, name + ".dll"), "stand-in assembly\n");
            }
        }

        // The stand-in `dotnet test DLL ... --results-directory DIR`: records its PID, then writes a
        // results file with one or two outcomes, as vstest's trx logger would.
        var bin2 = _dir.File("bin");
        Directory.CreateDirectory(bin2);
        var standIn = Path.Combine(bin2, "dotnet");
        File.WriteAllText(standIn, $$"""
            #!/bin/sh
            # Stand-in for `dotnet test` (TestRunnerScriptTests); not the real dotnet.
            dll=$2
            name=$(basename "$dll" .dll)
            echo $$ > "{{root}}/$name.pid"
            while [ $# -gt 0 ]; do
              case "$1" in --results-directory) dir=$2; shift ;; esac
              shift
            done
            case "$name" in
              Alpha.Tests) printf '<TestRun><UnitTestResult testName="a" outcome="Passed" /><UnitTestResult testName="b" outcome="Passed" /></TestRun>\n' > "$dir/stand-in.trx" ;;
              *) printf '<TestRun><UnitTestResult testName="c" outcome="Passed" /><UnitTestResult testName="d" outcome="Failed" /></TestRun>\n' > "$dir/stand-in.trx"; exit 1 ;;
            esac
            """);
        File.SetUnixFileMode(standIn, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return root;
    }

    private (int ExitCode, string Output) Run(string root)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(root, "tests", "run-tests.sh"), "Release"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root,
        };
        start.Environment["PATH"] = _dir.File("bin") + ":" + Environment.GetEnvironmentVariable("PATH");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "run-tests.sh did not finish within 60 s");
        return (process.ExitCode, stderr.Result + stdout.Result);
    }
}
