using System.CommandLine;
using EdgeImage.Packages;

namespace EdgeImage.Cli.Commands;

internal static class RootfsCommand
{
    public static Command Create()
    {
        var output = new Option<string?>("--out", "-o")
        {
            Description = "Where to write the tar (default: out/PROFILE/rootfs.tar).",
        };
        var command = new Command("rootfs", """
            Compose a profile's root file system from verified Debian packages into a reproducible tar
            (sorted by path, numeric owners, mtimes clamped to SOURCE_DATE_EPOCH). Needs no root.
            """);
        BuildOptions.AddTo(command);
        command.Options.Add(output);
        command.SetAction(async (parse, cancellation) =>
        {
            var profile = BuildOptions.LoadProfile(parse);
            var target = parse.GetValue(output) ?? Path.Combine("out", profile.Name, "rootfs.tar");
            var log = new ConsoleBuildLog(parse.GetValue(GlobalOptions.Verbose));
            var size = await BuildOptions.WithWorkDirAsync(Path.GetDirectoryName(Path.GetFullPath(target))!, async workDir =>
            {
                using var fetcher = new MirrorFetcher();
                var build = new RootfsBuild(fetcher, new MirrorDiscovery());
                var context = BuildOptions.Context(parse, workDir, log, cancellation);
                return await build.WriteTarAsync(new RootfsRequest { Profile = profile, Mirror = parse.GetValue(BuildOptions.Mirror) }, target, context);
            });
            log.Info($"wrote {target} ({size >> 20} MiB)");
            return ExitCodes.Success;
        });
        return command;
    }
}
