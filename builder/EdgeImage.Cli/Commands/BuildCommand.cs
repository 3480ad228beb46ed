using System.CommandLine;
using EdgeImage.Packages;
using EdgeImage.Tools;

namespace EdgeImage.Cli.Commands;

internal static class BuildCommand
{
    public static Command Create()
    {
        var output = new Option<string?>("--out", "-o")
        {
            Description = "Output directory (default: out/PROFILE). edge.img and manifest.json appear there only when complete.",
        };
        var compression = new Option<string>("--compression")
        {
            Description = "Squashfs compression of the root slots: zstd, xz, gzip, lz4 or lzo.",
            DefaultValueFactory = _ => "zstd",
        };
        var command = new Command("build", """
            Build a bootable, immutable disk image for a profile: GPT with an ESP (systemd-boot, A/B entries
            with boot counting), read-only squashfs root slots A and B, and a data partition that holds /etc
            and /var changes, created and grown on first boot. Needs no root.
            """);
        BuildOptions.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(compression);
        command.SetAction(async (parse, cancellation) =>
        {
            var profile = BuildOptions.LoadProfile(parse);
            var outDir = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("out", profile.Name));
            var log = new ConsoleBuildLog(parse.GetValue(GlobalOptions.Verbose));
            var manifest = await BuildOptions.WithWorkDirAsync(Path.GetDirectoryName(outDir)!, async workDir =>
            {
                using var fetcher = new MirrorFetcher();
                var build = new ImageBuild(new RootfsBuild(fetcher, new MirrorDiscovery()), new HostTools());
                return await build.BuildAsync(new ImageRequest
                {
                    Profile = profile,
                    Mirror = parse.GetValue(BuildOptions.Mirror),
                    OutputDirectory = outDir,
                    Compression = parse.GetValue(compression)!,
                }, BuildOptions.Context(parse, workDir, log, cancellation));
            });
            log.Info($"image: {Path.Combine(outDir, ImageBuild.ImageName)} ({manifest.DiskSize >> 20} MiB disk, OS payload {manifest.Sizes.Payload >> 20} MiB)");
            log.Info($"boot it: edgeimage qemu {Path.Combine(outDir, ImageBuild.ImageName)}");
            return ExitCodes.Success;
        });
        return command;
    }
}
