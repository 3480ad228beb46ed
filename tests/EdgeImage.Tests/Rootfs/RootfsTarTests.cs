using System.Formats.Tar;
using System.Security.Cryptography;
using EdgeImage.Rootfs;
using static EdgeImage.Tests.Rootfs.DebFixtures;

namespace EdgeImage.Tests.Rootfs;

public sealed class RootfsTarTests : IDisposable
{
    private const long Epoch = 1_700_000_000;
    private readonly DebFixtures _debs = new();

    public void Dispose() => _debs.Dispose();

    /// <summary>A tree from two packages (one built by dpkg-deb from files owned by uid 1234, one hand-crafted), configured.</summary>
    private string BuildTar(string name)
    {
        using var tree = new RootfsTree(Path.Combine(_debs.Dir, "staging-" + name), Epoch);
        var unpacker = new DebUnpacker(tree);
        unpacker.Unpack(_debs.Build("zlast", r =>
        {
            DebUnpackerTests.Write(r, "usr/bin/zz", "zz");
            DebUnpackerTests.Write(r, "usr/lib/sysusers.d/base.conf", "u root 0 - /root\ng shadow 42\n");
            DebUnpackerTests.Write(r, "usr/bin/a-b", "ab");
            DebUnpackerTests.Write(r, "usr/bin-extra/x", "x");
            DebUnpackerTests.Write(r, "usr/bin/su", "su");
            DebUnpackerTests.Write(r, $"usr/share/{new string('d', 120)}/{new string('f', 150)}", "long");
            Run("chown", "-R", "1234:1234", Path.Combine(r, "usr"));
            Run("chmod", "4755", Path.Combine(r, "usr/bin/su"));
            Run("touch", "-d", "@1600000000", Path.Combine(r, "usr/bin/zz"));
        }));
        var future = DateTimeOffset.FromUnixTimeSeconds(Epoch + 1_000_000);
        unpacker.Unpack(_debs.Craft("afirst",
        [
            Folder("./dev/"),
            new UstarTarEntry(TarEntryType.CharacterDevice, "./dev/null") { DeviceMajor = 1, DeviceMinor = 3, Mode = (UnixFileMode)0x1B6 },
            Folder("./var/"),
            new UstarTarEntry(TarEntryType.RegularFile, "./var/future") { DataStream = new MemoryStream("f"u8.ToArray()), ModificationTime = future, Mode = (UnixFileMode)0x1A4, Uid = 8, Gid = 12 },
            Link(TarEntryType.SymbolicLink, "./var/run", "/run"),
            Entry("./var/data", "0123456789"),
            Link(TarEntryType.HardLink, "./var/alias", "./var/data"),
        ]));
        RootfsConfigurator.Configure(tree, unpacker.Installed(), Epoch, NullBuildLog.Instance);
        var path = Path.Combine(_debs.Dir, name + ".tar");
        using var stream = File.Create(path);
        RootfsTar.Write(tree, stream, Epoch);
        return path;
    }

    private static string[] Listing(string tar) =>
        Run("tar", "--numeric-owner", "--full-time", "-tvf", tar).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, " +", " "))
            .ToArray();

    private static string Line(string[] listing, string name) =>
        Assert.Single(listing, l => l.EndsWith(" " + name, StringComparison.Ordinal) || l.Contains(" " + name + " -> ", StringComparison.Ordinal) || l.Contains(" " + name + " link to ", StringComparison.Ordinal));

    [Fact]
    public void Two_runs_over_the_same_packages_are_byte_identical()
    {
        var first = File.ReadAllBytes(BuildTar("one"));
        var second = File.ReadAllBytes(BuildTar("two"));
        Assert.True(first.Length > 10_000);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(first)), Convert.ToHexString(SHA256.HashData(second)));
    }

    [Fact]
    public void Entries_are_sorted_by_path_bytes_and_gnu_tar_reads_every_one()
    {
        var names = Run("tar", "-tf", BuildTar("sorted")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var keys = names.Select(n => n == "./" ? "/" : n.TrimStart('.').TrimEnd('/')).ToArray();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
        Assert.Equal("./", names[0]);
        Assert.True(Array.IndexOf(names, "./usr/bin/") < Array.IndexOf(names, "./usr/bin-extra/"), "a prefix sorts first");
        Assert.True(Array.IndexOf(names, "./usr/bin-extra/x") < Array.IndexOf(names, "./usr/bin/a-b"), "'-' sorts before '/'");
        Assert.Contains($"./usr/share/{new string('d', 120)}/{new string('f', 150)}", names);
    }

    [Fact]
    public void Owners_are_numeric_and_come_from_the_packages_not_from_the_build_host()
    {
        var tar = BuildTar("owners");
        var listing = Listing(tar);
        Assert.StartsWith("-rwsr-xr-x 0/0 ", Line(listing, "./usr/bin/su"));
        Assert.StartsWith("-rw-r--r-- 8/12 ", Line(listing, "./var/future"));
        Assert.StartsWith("crw-rw-rw- 0/0 1,3 ", Line(listing, "./dev/null"));
        Assert.EndsWith("./var/run -> /run", Line(listing, "./var/run"));
        Assert.EndsWith("./var/data link to ./var/alias", Line(listing, "./var/data"));
        Assert.StartsWith("-rw-r----- 0/42 ", Line(listing, "./etc/shadow"));

        using var reader = new TarReader(File.OpenRead(tar));
        while (reader.GetNextEntry() is { } entry)
        {
            Assert.True(entry is UstarTarEntry or PaxTarEntry, $"{entry.Name} is {entry.Format}");
            Assert.Equal("", ((PosixTarEntry)entry).UserName);
            Assert.Equal("", ((PosixTarEntry)entry).GroupName);
            if (entry is PaxTarEntry pax)
            {
                Assert.All(pax.ExtendedAttributes.Keys, k => Assert.Contains(k, new[] { "path", "linkpath", "size", "uid", "gid" }));
            }
        }
    }

    [Fact]
    public void Modification_times_are_clamped_to_source_date_epoch_and_older_ones_kept()
    {
        var listing = Listing(BuildTar("clamp"));
        var clamped = DateTimeOffset.FromUnixTimeSeconds(Epoch).ToString("yyyy-MM-dd HH:mm:ss");
        Assert.Contains(clamped, Line(listing, "./var/future"));
        Assert.Contains(clamped, Line(listing, "./etc/passwd"));
        Assert.Contains("2020-09-13 12:26:40", Line(listing, "./usr/bin/zz"));
    }

    [Fact]
    public void Long_paths_and_link_targets_survive_in_a_minimal_pax_header()
    {
        using var tree = new RootfsTree(Path.Combine(_debs.Dir, "long"), Epoch);
        var deep = "/" + string.Join('/', Enumerable.Repeat(new string('p', 60), 6));
        tree.WriteFile(deep + "/file", "deep", Epoch);
        tree.WriteSymlink("/link", deep + "/file", Epoch);
        var tar = Path.Combine(_debs.Dir, "long.tar");
        using (var s = File.Create(tar))
        {
            RootfsTar.Write(tree, s, Epoch);
        }
        Assert.Equal("deep", Run("tar", "-xOf", tar, "." + deep + "/file"));
        Assert.EndsWith($"./link -> {deep}/file", Line(Listing(tar), "./link"));
        Assert.DoesNotContain("time=", File.ReadAllText(tar));
    }
}
