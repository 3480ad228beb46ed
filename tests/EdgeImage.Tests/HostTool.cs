using System.Diagnostics;
using Xunit.Sdk;

namespace EdgeImage.Tests;

/// <summary>
/// Runs an independent host tool (sfdisk, sgdisk, cpio, ...) that a test reads our output back with.
/// A missing tool fails the test with the Debian package to install, never skips it.
/// </summary>
internal static class HostTool
{
    private static readonly string[] ExtraDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

    public sealed record Result(int ExitCode, byte[] Stdout, string Stderr)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Stdout);
    }

    public static string Locate(string tool, string debianPackage)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(ExtraDirectories))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new XunitException(
            $"This test needs the host tool '{tool}', which is not installed. Install the Debian package '{debianPackage}' (apt-get install -y {debianPackage}).");
    }

    /// <summary>Runs the tool and fails the test unless it exits 0.</summary>
    public static Result Run(string tool, string debianPackage, IEnumerable<string> args, byte[]? stdin = null, string? workDir = null)
    {
        var result = RunAllowingFailure(tool, debianPackage, args, stdin, workDir);
        if (result.ExitCode != 0)
        {
            throw new XunitException($"{tool} {string.Join(' ', args)} exited {result.ExitCode}: {result.Stderr}");
        }

        return result;
    }

    public static Result RunAllowingFailure(string tool, string debianPackage, IEnumerable<string> args, byte[]? stdin = null, string? workDir = null)
    {
        var start = new ProcessStartInfo(Locate(tool, debianPackage))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDir ?? Environment.CurrentDirectory,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["LC_ALL"] = "C";
        start.Environment["TZ"] = "UTC";
        using var process = Process.Start(start) ?? throw new XunitException($"Could not start {tool}.");
        var stdout = new MemoryStream();
        var copyOut = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var readErr = process.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null)
            {
                process.StandardInput.BaseStream.Write(stdin);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The tool stopped reading early; its exit code and stderr say why.
        }
        copyOut.GetAwaiter().GetResult();
        var stderr = readErr.GetAwaiter().GetResult();
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToArray(), stderr);
    }
}

/// <summary>A directory under the system temp folder, deleted when the test ends.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgeimage-test-" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
