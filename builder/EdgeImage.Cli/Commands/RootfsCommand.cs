using System.CommandLine;

namespace EdgeImage.Cli.Commands;

internal static class RootfsCommand
{
    public static Command Create() => new("rootfs", "Compose a profile's root file system into a reproducible tar.");
}
