using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>`edgeimage rootfs` needs no root: run as uid 65534, its tar still says every file is root's.</summary>
public sealed class UnprivilegedRootfsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Edgeimage_rootfs_as_an_unprivileged_user_writes_a_tar_of_root_owned_files_with_kernel_modules_systemd_and_busybox()
    {
        var cli = UnprivilegedCli.Shared;
        var tar = Path.Combine(cli.Output, "rootfs-generic-x86_64", "rootfs.tar");
        try
        {
            var result = await HeavyWork.RunAsync(() =>
                cli.RunAsync(["rootfs", "--profile", "generic-x86_64", "--out", tar], BootCheckImage.BuildTimeout, BootCheckImage.BuildEnvironment));

            output.WriteLine(result.Stderr);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.NotEqual(0, cli.Uid);
            Assert.Equal(cli.Uid, UnprivilegedCli.OwnerOf(tar));
            var listing = TrixieDebs.Tar("--numeric-owner", "-tvf", tar).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            string Line(string name) => Assert.Single(listing, l => l.EndsWith(" " + name, StringComparison.Ordinal) || l.Contains(" " + name + " -> ", StringComparison.Ordinal));

            Assert.StartsWith("-rwxr-xr-x 0/0 ", Line("./usr/lib/systemd/systemd"));
            Assert.StartsWith("-rwxr-xr-x 0/0 ", Line("./usr/bin/busybox"));
            Assert.Contains(listing, l => l.Contains(" ./usr/lib/modules/", StringComparison.Ordinal) && l.EndsWith("/kernel/fs/squashfs/squashfs.ko.xz", StringComparison.Ordinal));
            var owners = listing.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).Distinct(StringComparer.Ordinal).ToList();
            output.WriteLine($"{listing.Length} entries; owners {string.Join(", ", owners)}");
            Assert.DoesNotContain(owners, o => o.Split('/').Contains(cli.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Contains("0/0", owners);
        }
        finally
        {
            if (Directory.Exists(Path.GetDirectoryName(tar)))
            {
                Directory.Delete(Path.GetDirectoryName(tar)!, recursive: true);
            }
        }
    }
}
