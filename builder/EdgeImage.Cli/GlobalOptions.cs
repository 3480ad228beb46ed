using System.CommandLine;

namespace EdgeImage.Cli;

internal static class GlobalOptions
{
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show details of each step (and the cause of an error).",
        Recursive = true,
    };

    public static readonly Option<string?> ProfilesDir = new("--profiles-dir")
    {
        HelpName = "dir",
        Description = "Directory of profile *.yaml files (default: $EDGEIMAGE_PROFILES, else ./profiles, else the profiles next to edgeimage).",
        Recursive = true,
    };
}
