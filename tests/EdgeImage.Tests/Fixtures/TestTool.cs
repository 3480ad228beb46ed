using System.Diagnostics;

namespace EdgeImage.Tests.Fixtures;

/// <summary>Runs a host tool (gpg, dpkg-deb, xz) that builds test inputs independently of the code under test.</summary>
public static class TestTool
{
    public static string Run(string tool, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, bool allowFailure = false)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}): {stderr.Result}");
        }
        return stdout;
    }
}
