using System.CommandLine;

namespace EdgeImage.Cli.Commands;

internal static class ProfilesCommand
{
    public static Command Create() => new("profiles", "List profiles and show the effective profile after `extends:`.");
}
