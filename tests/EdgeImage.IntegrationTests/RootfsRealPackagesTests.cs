using System.Diagnostics;
using System.Security.Cryptography;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests;

public class RootfsRealPackagesTests(ITestOutputHelper output)
{
    private const long Epoch = 1_750_000_000;

    [Fact]
    public void Composes_a_merged_usr_systemd_rootfs_from_real_trixie_packages_reproducibly_in_any_unpack_order()
    {
        var debs = TrixieDebs.Download("rootfs-systemd", "base-files", "base-passwd", "bash", "mawk", "debianutils", "systemd");
        var work = Directory.CreateTempSubdirectory("edgeimage-rootfs-it-");
        try
        {
            var forward = ComposeTar(debs, Path.Combine(work.FullName, "a"), out var result);
            var backward = ComposeTar(debs.Reverse().ToArray(), Path.Combine(work.FullName, "b"), out _);
            Assert.Equal(Hash(forward), Hash(backward));

            var listing = TrixieDebs.Tar("--numeric-owner", "-tvf", forward).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            string Line(string name) => Assert.Single(listing, l => l.EndsWith(" " + name, StringComparison.Ordinal) || l.Contains(" " + name + " -> ", StringComparison.Ordinal));

            Assert.StartsWith("-rwxr-xr-x 0/0", Line("./usr/lib/systemd/systemd"));
            Assert.StartsWith("lrwxrwxrwx 0/0", Line("./bin"));
            Assert.EndsWith("./bin -> usr/bin", Line("./bin"));
            Assert.DoesNotContain(listing, l => l.Contains(" ./bin/", StringComparison.Ordinal) || l.Contains(" ./lib/", StringComparison.Ordinal));
            Assert.Contains(listing, l => l.EndsWith(" ./usr/bin/bash", StringComparison.Ordinal));
            Assert.EndsWith("./usr/bin/awk -> /etc/alternatives/awk", Line("./usr/bin/awk"));
            Assert.EndsWith("./etc/alternatives/awk -> /usr/bin/mawk", Line("./etc/alternatives/awk"));
            Assert.StartsWith("-r--r--r-- 0/0", Line("./etc/machine-id"));
            Assert.Contains(listing, l => l.EndsWith("./etc/systemd/system/getty.target.wants/getty@tty1.service -> /usr/lib/systemd/system/getty@.service", StringComparison.Ordinal));

            var passwd = TrixieDebs.Tar("-xOf", forward, "./etc/passwd");
            Assert.StartsWith("root:x:0:0:root:/root:/bin/bash\n", passwd);
            Assert.Matches(@"\nsystemd-network:x:998:998:", passwd);
            var group = TrixieDebs.Tar("-xOf", forward, "./etc/group");
            Assert.Contains("\nsystemd-journal:x:999:\n", group);
            var status = TrixieDebs.Tar("-xOf", forward, "./var/lib/dpkg/status");
            Assert.Equal(debs.Count, status.Split("\nStatus: install ok installed\n").Length - 1);
            Assert.Contains("Package: systemd\nStatus: install ok installed\n", status);

            CrossCheckWithDpkgAndSystemctl(forward, Path.Combine(work.FullName, "extracted"));

            var mb = result.DebBytes / 1e6;
            output.WriteLine($"{debs.Count} packages, {mb:0.0} MB of .deb unpacked in {result.UnpackTime.TotalSeconds:0.00} s = {mb / result.UnpackTime.TotalSeconds:0.0} MB/s; " +
                             $"{result.Configuration.EnabledUnits.Count} units enabled: {string.Join(' ', result.Configuration.EnabledUnits)}; " +
                             $"alternatives: {string.Join(", ", result.Configuration.Alternatives)}; tar {new FileInfo(forward).Length / 1e6:0.0} MB; peak RSS of the test host {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:0} MB");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string ComposeTar(IReadOnlyList<PackageFile> debs, string workDir, out RootfsResult result)
    {
        var context = new BuildContext
        {
            CacheDir = workDir,
            WorkDir = workDir,
            SourceDateEpoch = Epoch,
            VerificationTime = DateTimeOffset.FromUnixTimeSeconds(Epoch),
        };
        var profile = new Profile { Name = "it", Arch = "amd64", Board = "generic-efi", SourcePath = "it.yaml" };
        result = RootfsComposer.Compose(new RootfsInput { Profile = profile, Packages = debs }, context);
        using var tree = result.Tree;
        var tar = Path.Combine(workDir, "rootfs.tar");
        using (var stream = File.Create(tar))
        {
            RootfsTar.Write(tree, stream, Epoch);
        }
        return tar;
    }

    /// <summary>
    /// Independent tools judge the result: dpkg checks every shipped file against the packages'
    /// md5sums through our database, and the host's systemctl, run on a copy without our unit links,
    /// must enable exactly the same units with `preset-all`.
    /// </summary>
    private static void CrossCheckWithDpkgAndSystemctl(string tar, string dir)
    {
        Directory.CreateDirectory(dir);
        TrixieDebs.Tar("-xf", tar, "-C", dir);
        Assert.Equal("", TrixieDebs.Run("dpkg", "--root", dir, "--verify"));
        Assert.Equal("", TrixieDebs.Run("dpkg", "--root", dir, "--audit"));

        var etcUnits = Path.Combine(dir, "etc/systemd/system");
        var ours = Links(etcUnits);
        Assert.Contains("multi-user.target.wants/remote-fs.target", ours);
        Directory.Delete(etcUnits, recursive: true);
        Directory.CreateDirectory(etcUnits);
        TrixieDebs.Run("systemctl", "--root", dir, "preset-all");
        Assert.Equal(Links(etcUnits), ours);
    }

    private static string[] Links(string dir) => Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories)
        .Select(p => Path.GetRelativePath(dir, p)).Order(StringComparer.Ordinal).ToArray();

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
