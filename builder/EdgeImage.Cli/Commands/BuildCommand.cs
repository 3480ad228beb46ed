using System.CommandLine;
using EdgeImage.K0s;
using EdgeImage.Oci;
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
        var noK0s = new Option<bool>("--no-k0s")
        {
            Description = "Build without k0s even when the profile has a k0s section (no binary, no airgap bundle, no requirement check).",
        };
        var k0sBinary = new Option<string?>("--k0s-binary")
        {
            Description = "Install this k0s binary instead of fetching the profile's release; an ELF must match the profile's architecture.",
        };
        var insecureRegistry = new Option<string[]>("--insecure-registry")
        {
            Description = "Pull k0s.images from this registry (host[:port]) over plain http. Loopback registries always are.",
        };
        var registryAuth = new Option<string?>("--registry-auth")
        {
            Description = "Registry logins for pulling k0s.images: a containers auth.json or docker config.json with inline \"auth\" or \"identitytoken\" "
                + "(write one with `skopeo login --authfile FILE REGISTRY`). Default: $REGISTRY_AUTH_FILE, else "
                + "$XDG_RUNTIME_DIR/containers/auth.json, then $DOCKER_CONFIG/config.json or ~/.docker/config.json (without one, ~/.dockercfg). Credential helpers are not run.",
            HelpName = "file",
        };
        var registryCa = new Option<string?>("--registry-ca")
        {
            Description = "Also trust this CA (a PEM file) for the TLS certificates of registries k0s.images are pulled from, e.g. a private registry's own CA. The host's trust store still applies.",
            HelpName = "file",
        };
        var command = new Command("build", """
            Build a bootable, immutable disk image for a profile: a boot partition (on UEFI boards a GPT ESP
            with systemd-boot, on the Raspberry Pi an MBR FAT with U-Boot's boot.scr; A/B entries with boot
            counting), read-only squashfs root slots A and B, and a data partition that holds /etc and /var
            changes, created and grown on first boot. Needs no root.
            """);
        BuildOptions.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(compression);
        command.Options.Add(noK0s);
        command.Options.Add(k0sBinary);
        command.Options.Add(insecureRegistry);
        command.Options.Add(registryAuth);
        command.Options.Add(registryCa);
        command.SetAction(async (parse, cancellation) =>
        {
            if (parse.GetValue(noK0s) && parse.GetValue(k0sBinary) is not null)
            {
                throw new EdgeImageException("--no-k0s and --k0s-binary contradict each other", "Give one of them.", ExitCodes.Usage);
            }
            // A named auth file and the CA file are read now, so a typo in them fails before any work starts.
            var logins = RegistryAuth.Locate(parse.GetValue(registryAuth), Environment.GetEnvironmentVariable);
            var trust = parse.GetValue(registryCa) is { } ca ? RegistryTrust.Load(ca) : null;
            var profile = BuildOptions.LoadProfile(parse);
            if (parse.GetValue(k0sBinary) is not null && profile.K0s is null)
            {
                throw new EdgeImageException($"--k0s-binary was given but profile {profile.Name} has no k0s section",
                    $"Add `k0s:` with a version to {profile.SourcePath}, or drop --k0s-binary.", ExitCodes.Usage);
            }
            var outDir = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("out", profile.Name));
            var log = new ConsoleBuildLog(parse.GetValue(GlobalOptions.Verbose));
            var manifest = await BuildOptions.WithWorkDirAsync(Path.GetDirectoryName(outDir)!, async workDir =>
            {
                using var fetcher = new MirrorFetcher();
                using var registryHttp = RegistryClient.CreateHttpClient(trust);
                var insecure = (parse.GetValue(insecureRegistry) ?? []).ToHashSet(StringComparer.Ordinal);
                var k0sSources = new K0sSources(fetcher, new OciPuller(new RegistryClient(registryHttp, insecure, logins)));
                var build = new ImageBuild(new RootfsBuild(fetcher, new MirrorDiscovery()), new HostTools(), k0sSources);
                return await build.BuildAsync(new ImageRequest
                {
                    Profile = profile,
                    Mirror = parse.GetValue(BuildOptions.Mirror),
                    OutputDirectory = outDir,
                    Compression = parse.GetValue(compression)!,
                    K0s = new K0sOptions
                    {
                        Disabled = parse.GetValue(noK0s),
                        Binary = parse.GetValue(k0sBinary),
                    },
                }, BuildOptions.Context(parse, workDir, log, cancellation));
            });
            log.Info($"image: {Path.Combine(outDir, ImageBuild.ImageName)} ({manifest.DiskSize >> 20} MiB disk, OS payload {manifest.Sizes.Payload >> 20} MiB)");
            log.Info($"boot it: edgeimage qemu {Path.Combine(outDir, ImageBuild.ImageName)}");
            return ExitCodes.Success;
        });
        return command;
    }
}
