using System.CommandLine;
using EdgeImage.FirstBoot;
using EdgeImage.Tools;

namespace EdgeImage.Cli.Commands;

internal static class SeedCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("IMAGE") { Description = "Disk image to personalize (out/PROFILE/edge.img or a copy of it); changed in place." };
        var seed = new Option<string>("--seed")
        {
            Description = "Seed YAML: hostname, token or token_file, labels, network, ntp, ssh_authorized_keys (README.md, \"Device seed\").",
            Required = true,
        };
        var command = new Command("seed", """
            Validate a device seed and write it into an image's boot FAT partition as edgeimage/seed.yaml
            (plus seed.env, the flat rendering the device reads, and the token file if the seed names one).
            The image is changed in place, without mounting; anything the partition's edgeimage/ folder
            held before is replaced. On first boot the device joins its k0s control plane with the token
            and then removes the token from the seed.
            """)
        {
            image, seed,
        };
        command.SetAction(async (parse, ct) =>
        {
            var seedPath = parse.GetValue(seed)!;
            var loaded = SeedLoader.Load(seedPath);
            var epoch = new DateTimeOffset(File.GetLastWriteTimeUtc(seedPath)).ToUnixTimeSeconds();
            var imagePath = parse.GetValue(image)!;
            var result = await new SeedWriter(new HostTools()).WriteAsync(imagePath, loaded, epoch, ct);
            var token = loaded.TokenFile is null ? "inline token" : $"token from {loaded.TokenFile}";
            Console.WriteLine($"seed for {loaded.Hostname} ({token}, {loaded.Labels.Count} labels, {loaded.Network.Mode.ToString().ToLowerInvariant()} network) written to {imagePath}, {result.Partition}: {string.Join(", ", result.Files)}");
            return ExitCodes.Success;
        });
        return command;
    }
}
