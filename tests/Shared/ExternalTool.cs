using System.Diagnostics;

namespace EdgeImage.Testing;

/// <summary>Runs a host tool (dpkg-deb, tar, sfdisk, ...) for a test and returns what it printed.</summary>
internal static class ExternalTool
{
    /// <summary>Fails with the tool's stderr unless it exits 0.</summary>
    public static string Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}");
        }
        return stdout;
    }
}
