using System.Text.RegularExpressions;
using EdgeImage.IntegrationTests.Packages;
using EdgeImage.Packages;
using EdgeImage.Profiles;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests;

/// <summary>
/// The shipped profiles' root file systems from the real mirror, one per architecture: the
/// pipeline's package selection equals apt's for the same list, and the tar holds a kernel module
/// tree, systemd and busybox, owned by root.
/// </summary>
public sealed partial class RealRootfsTests(ITestOutputHelper output)
{
    private static readonly string Cache = Path.Combine(Path.GetTempPath(), "edgeimage-integration-cache");

    [Theory]
    [InlineData("generic-x86_64", "amd64")]
    [InlineData("generic-aarch64", "arm64")]
    [InlineData("rpi-armv7", "armhf")]
    public async Task Profile_rootfs_matches_apt_and_holds_kernel_modules_systemd_and_busybox(string name, string arch)
    {
        var profile = new ProfileCatalog(Path.Combine(Cli.RepositoryRoot, "profiles"), "test").Load(name);
        Assert.Equal(arch, profile.Arch);
        var work = Directory.CreateTempSubdirectory("edgeimage-real-rootfs-").FullName;
        try
        {
            var context = new BuildContext
            {
                CacheDir = Cache,
                WorkDir = work,
                SourceDateEpoch = RootfsBuild.UnsetSourceDateEpoch,
                VerificationTime = DateTimeOffset.UtcNow,
            };
            using var fetcher = new MirrorFetcher();
            var build = new RootfsBuild(fetcher, new MirrorDiscovery());
            using var composed = await build.ComposeAsync(new RootfsRequest { Profile = profile }, context);

            var apt = AptSimulation.ForSuite(arch);
            var resolver = new Resolver(apt.ReadIndex(), arch);
            string[] wanted = [.. profile.Packages, profile.Kernel.Package!, .. profile.IncludeRequired ? resolver.RequiredPackages() : []];
            var expected = apt.SimulateInstall(wanted).Select(p => $"{p.Name}={p.Version}").Order(StringComparer.Ordinal).ToList();
            var actual = composed.Packages.Select(p => $"{p.Name}={p.Version}").Order(StringComparer.Ordinal).ToList();
            output.WriteLine($"{name}: {actual.Count} packages, apt {expected.Count}");
            Assert.Equal(expected, actual);

            var tar = Path.Combine(work, "rootfs.tar");
            await using (var stream = File.Create(tar))
            {
                Rootfs.RootfsTar.Write(composed.Tree, stream, composed.Context.SourceDateEpoch);
            }
            var listing = TrixieDebs.Run("tar", "--numeric-owner", "-tvf", tar).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(listing, l => ModulesTree().IsMatch(l));
            Assert.Contains(listing, l => l.EndsWith(" ./usr/lib/systemd/systemd", StringComparison.Ordinal) && l.Contains(" 0/0 ", StringComparison.Ordinal));
            Assert.Contains(listing, l => l.EndsWith(" ./usr/bin/busybox", StringComparison.Ordinal) && l.Contains(" 0/0 ", StringComparison.Ordinal));
            // Everything belongs to root; a few files belong to a system group (shadow, utmp), none to the builder.
            Assert.All(listing, l => Assert.Matches(@"^\S+ 0/\d+ ", l));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [GeneratedRegex(@" ./usr/lib/modules/[^/]+/kernel/fs/squashfs/squashfs\.ko(\.xz)?$")]
    private static partial Regex ModulesTree();
}
