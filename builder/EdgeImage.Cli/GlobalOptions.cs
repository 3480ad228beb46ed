using System.CommandLine;

namespace EdgeImage.Cli;

internal static class GlobalOptions
{
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show details of each step (and the cause of an error).",
        Recursive = true,
    };
}
