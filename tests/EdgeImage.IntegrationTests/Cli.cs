using System.Diagnostics;

namespace EdgeImage.IntegrationTests;

/// <summary>What one run of the CLI produced.</summary>
public sealed record CliResult(IReadOnlyList<string> Arguments, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The whole run, for assertion messages: a failing test shows what the CLI said.</summary>
    public override string ToString() =>
        $"edgeimage {string.Join(' ', Arguments)} -> exit {ExitCode}\n--- stdout ---\n{Stdout}--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the built CLI (builder/EdgeImage.Cli/bin/CONFIG/net10.0/edgeimage.dll) as a user would,
/// with `dotnet`, redirected output and a clean profile environment. It uses the configuration the
/// tests themselves were built in, falling back to whichever build exists.
/// </summary>
public static class Cli
{
    private static readonly Lazy<string> LazyDll = new(FindDll);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string Dll => LazyDll.Value;

    /// <summary>Runs edgeimage with <paramref name="arguments"/> from the repository root.</summary>
    public static Task<CliResult> RunAsync(params string[] arguments) => RunAsync(arguments, new CliOptions());

    /// <param name="options">Working directory, environment and time limit of the run.</param>
    public static async Task<CliResult> RunAsync(IReadOnlyList<string> arguments, CliOptions options)
    {
        var launcher = options.Launcher;
        var start = new ProcessStartInfo(launcher.Count > 0 ? launcher[0] : "dotnet")
        {
            WorkingDirectory = options.WorkingDirectory ?? RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var word in launcher.Skip(1))
        {
            start.ArgumentList.Add(word);
        }
        start.ArgumentList.Add(options.Dll ?? Dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // Settings of the machine running the tests must not leak into what the CLI does.
        if (!options.InheritEnvironment)
        {
            start.Environment.Clear();
        }
        start.Environment.Remove("EDGEIMAGE_PROFILES");
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in options.Environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(options.Timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException(
                $"edgeimage {string.Join(' ', arguments)} ran longer than {options.Timeout}\n--- stdout ---\n{await stdout}--- stderr ---\n{await stderr}");
        }
        return new CliResult(arguments.ToList(), process.ExitCode, await stdout, await stderr);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeImage.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no EdgeImage.sln above {AppContext.BaseDirectory}");
    }

    private static string FindDll()
    {
        var builds = Path.Combine(RepositoryRoot, "builder", "EdgeImage.Cli", "bin");
        // The tests live in tests/EdgeImage.IntegrationTests/bin/CONFIG/net10.0/.
        var ownConfiguration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name;
        var own = Path.Combine(builds, ownConfiguration ?? "", "net10.0", "edgeimage.dll");
        if (File.Exists(own))
        {
            return own;
        }
        var any = Directory.Exists(builds)
            ? Directory.EnumerateFiles(builds, "edgeimage.dll", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "net10.0")
                .OrderByDescending(File.GetLastWriteTimeUtc)
                .FirstOrDefault()
            : null;
        return any ?? throw new InvalidOperationException(
            $"the CLI is not built: no {own}; run `dotnet build EdgeImage.sln -c {ownConfiguration}` first");
    }
}

public sealed record CliOptions
{
    /// <summary>Defaults to the repository root.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Variables to set; a null value removes the variable.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The command line that starts the .NET host in place of plain `dotnet`, e.g. setpriv with
    /// another uid followed by the dotnet executable; the dll and the arguments follow it.
    /// </summary>
    public IReadOnlyList<string> Launcher { get; init; } = [];

    /// <summary>Another copy of edgeimage.dll (one other users can read); null for the repository's build.</summary>
    public string? Dll { get; init; }

    /// <summary>False starts the CLI with only the variables in <see cref="Environment"/>.</summary>
    public bool InheritEnvironment { get; init; } = true;
}
