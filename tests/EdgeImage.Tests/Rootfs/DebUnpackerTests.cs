using System.Formats.Tar;
using EdgeImage.Rootfs;
using static EdgeImage.Tests.Rootfs.DebFixtures;

namespace EdgeImage.Tests.Rootfs;

public sealed class DebUnpackerTests : IDisposable
{
    private readonly DebFixtures _debs = new();
    private readonly RootfsTree _tree;

    public DebUnpackerTests() => _tree = new RootfsTree(Path.Combine(_debs.Dir, "staging"));

    public void Dispose()
    {
        _tree.Dispose();
        _debs.Dispose();
    }

    private EdgeImageException Refused(params PackageFile[] debs)
    {
        var unpacker = new DebUnpacker(_tree);
        return Assert.Throws<EdgeImageException>(() =>
        {
            foreach (var deb in debs)
            {
                unpacker.Unpack(deb);
            }
        });
    }

    private DebUnpacker UnpackAll(params PackageFile[] debs)
    {
        var unpacker = new DebUnpacker(_tree);
        foreach (var deb in debs)
        {
            unpacker.Unpack(deb);
        }
        return unpacker;
    }

    private string Text(string path) => _tree.ReadText(path) ?? throw new Xunit.Sdk.XunitException($"{path} missing");

    [Fact]
    public void Refuses_a_member_that_climbs_out_with_dotdot_and_names_the_deb_and_member()
    {
        var e = Refused(_debs.Craft("evil", [Folder("./etc/"), Entry("./etc/../../escape", "x")]));
        Assert.Contains("evil_1.0_crafted.deb", e.Message);
        Assert.Contains("'./etc/../../escape'", e.Message);
        Assert.Contains("'..'", e.Message);
        Assert.Null(_tree["/escape"]);
    }

    [Fact]
    public void Refuses_an_absolute_member_path()
    {
        var e = Refused(_debs.Craft("evil", [Entry("/etc/cron.d/evil", "x")]));
        Assert.Contains("'/etc/cron.d/evil' is an absolute path", e.Message);
        Assert.Equal(ExitCodes.VerificationFailed, e.ExitCode);
    }

    [Fact]
    public void Refuses_to_write_through_a_symlink_that_points_outside_the_root()
    {
        var e = Refused(_debs.Craft("evil", [Folder("./etc/"), Link(TarEntryType.SymbolicLink, "./etc/x", "/../../tmp"), Entry("./etc/x/y", "owned")]));
        Assert.Contains("member './etc/x/y'", e.Message);
        Assert.Contains("outside the image's root", e.Message);
    }

    [Fact]
    public void Refuses_a_relative_symlink_escape_planted_by_one_package_and_used_by_another()
    {
        var planter = _debs.Craft("planter", [Folder("./usr/"), Link(TarEntryType.SymbolicLink, "./usr/up", "../../../..")]);
        var user = _debs.Craft("user", [Entry("./usr/up/etc/passwd", "owned")]);
        var e = Refused(planter, user);
        Assert.Contains("user_1.0_crafted.deb", e.Message);
    }

    [Fact]
    public void Refuses_a_hard_link_to_a_path_outside_the_root()
    {
        var e = Refused(_debs.Craft("evil", [Folder("./etc/"), Link(TarEntryType.HardLink, "./etc/shadow-copy", "../../etc/shadow")]));
        Assert.Contains("hard link target", e.Message);
        Assert.Contains("'..'", e.Message);
    }

    [Fact]
    public void Refuses_a_hard_link_to_a_file_the_package_did_not_ship()
    {
        var e = Refused(_debs.Craft("evil", [Folder("./etc/"), Link(TarEntryType.HardLink, "./etc/copy", "./etc/hostname")]));
        Assert.Contains("not a regular file shipped earlier by evil", e.Message);
    }

    [Fact]
    public void Keeps_a_hard_link_inside_the_package_as_a_shared_file()
    {
        UnpackAll(_debs.Craft("gz", [Folder("./usr/"), Folder("./usr/bin/"), Entry("./usr/bin/gzip", "#!gzip", 0x1ED), Link(TarEntryType.HardLink, "./usr/bin/gunzip", "./usr/bin/gzip")]));
        Assert.Equal("#!gzip", Text("/usr/bin/gunzip"));
        Assert.NotNull(_tree["/usr/bin/gunzip"]!.HardLinkGroup);
        Assert.Equal(_tree["/usr/bin/gzip"]!.HardLinkGroup, _tree["/usr/bin/gunzip"]!.HardLinkGroup);
    }

    [Fact]
    public void Two_packages_shipping_the_same_file_without_Replaces_is_an_error_naming_both()
    {
        var a = _debs.Build("alpha", r => Write(r, "usr/bin/tool", "alpha"));
        var b = _debs.Build("beta", r => Write(r, "usr/bin/tool", "beta"));
        var e = Refused(a, b);
        Assert.Contains("alpha", e.Message);
        Assert.Contains("beta", e.Message);
        Assert.Contains("'/usr/bin/tool'", e.Message);
        Assert.Contains("beta_1.0_xz.deb", e.Message);
    }

    [Fact]
    public void A_package_that_Replaces_another_takes_over_the_file_in_either_unpack_order()
    {
        var a = _debs.Build("alpha", r => Write(r, "usr/bin/tool", "alpha"));
        var b = _debs.Build("beta", r => Write(r, "usr/bin/tool", "beta"), "Replaces: alpha (<< 2)\n");

        var installed = UnpackAll(a, b).Installed();
        Assert.Equal("beta", Text("/usr/bin/tool"));
        Assert.Equal("beta", _tree["/usr/bin/tool"]!.Package);
        Assert.DoesNotContain("/usr/bin/tool", installed.Single(p => p.Name == "alpha").Paths);
        Assert.Contains("/usr/bin/tool", installed.Single(p => p.Name == "beta").Paths);

        using var other = new RootfsTree(Path.Combine(_debs.Dir, "staging2"));
        var reversed = new DebUnpacker(other);
        reversed.Unpack(b);
        reversed.Unpack(a);
        Assert.Equal("beta", other.ReadText("/usr/bin/tool"));
    }

    [Fact]
    public void A_versioned_Replaces_that_the_other_version_does_not_satisfy_is_a_conflict_in_either_unpack_order()
    {
        // dpkg: beta's "Replaces: alpha (<< 2)" does not cover alpha 3.0, so unpacking both is
        // "trying to overwrite '/usr/bin/tool', which is also in package alpha".
        var a = _debs.Build("alpha", r => Write(r, "usr/bin/tool", "alpha"), version: "3.0");
        var b = _debs.Build("beta", r => Write(r, "usr/bin/tool", "beta"), "Replaces: alpha (<< 2)\n");

        var e = Refused(a, b);
        Assert.Equal("beta_1.0_xz.deb: member './usr/bin/tool': file conflict at '/usr/bin/tool' between packages alpha and beta: " +
                     "beta declares Replaces: alpha (<< 2), which does not cover alpha 3.0", e.Message);
        Assert.Contains("dpkg would refuse to install both", e.Hint);

        using var other = new RootfsTree(Path.Combine(_debs.Dir, "staging2"));
        var reversed = new DebUnpacker(other);
        reversed.Unpack(b);
        var r = Assert.Throws<EdgeImageException>(() => reversed.Unpack(a));
        Assert.Contains("file conflict at '/usr/bin/tool' between packages beta and alpha: beta declares Replaces: alpha (<< 2), which does not cover alpha 3.0", r.Message);
    }

    [Fact]
    public void A_Replaces_is_honoured_when_any_relation_naming_the_package_covers_its_version_epoch_included()
    {
        var a = _debs.Build("alpha", r => Write(r, "usr/bin/tool", "alpha"), version: "1:0.5");
        var b = _debs.Build("beta", r => Write(r, "usr/bin/tool", "beta"), "Replaces: alpha (<< 2), alpha (>= 1:0)\n");

        UnpackAll(a, b);

        Assert.Equal("beta", Text("/usr/bin/tool"));
    }

    [Fact]
    public void Files_shipped_under_bin_land_in_usr_bin_once_base_files_made_bin_a_symlink()
    {
        var baseFiles = _debs.Build("base-files", r =>
        {
            Directory.CreateDirectory(Path.Combine(r, "usr/bin"));
            File.CreateSymbolicLink(Path.Combine(r, "bin"), "usr/bin");
        });
        var legacy = _debs.Build("legacy", r => Write(r, "bin/old-tool", "old"));

        UnpackAll(baseFiles, legacy);

        Assert.Equal(RootfsEntryKind.Symlink, _tree["/bin"]!.Kind);
        Assert.Equal("old", Text("/usr/bin/old-tool"));
        Assert.Equal(RootfsEntryKind.File, _tree["/usr/bin/old-tool"]!.Kind);
        Assert.Null(_tree["/bin/old-tool"]);
    }

    [Fact]
    public void A_bin_directory_unpacked_before_base_files_is_merged_into_usr_bin()
    {
        var legacy = _debs.Build("legacy", r => Write(r, "bin/old-tool", "old"));
        var baseFiles = _debs.Build("base-files", r =>
        {
            Directory.CreateDirectory(Path.Combine(r, "usr/bin"));
            File.CreateSymbolicLink(Path.Combine(r, "bin"), "usr/bin");
        });

        var installed = UnpackAll(legacy, baseFiles).Installed();

        Assert.Equal("usr/bin", _tree["/bin"]!.LinkTarget);
        Assert.Equal("old", Text("/usr/bin/old-tool"));
        Assert.Contains("/bin/old-tool", installed.Single(p => p.Name == "legacy").Paths);
    }

    [Fact]
    public void Keeps_the_setuid_bit_and_root_ownership_whatever_owns_the_files_on_the_build_host()
    {
        var deb = _debs.Build("su", r =>
        {
            Write(r, "usr/bin/su", "su");
            // chown clears setuid, so it goes first.
            Run("chown", "-R", "1234:1234", Path.Combine(r, "usr"));
            Run("chmod", "4755", Path.Combine(r, "usr/bin/su"));
        });
        UnpackAll(deb);
        var su = _tree["/usr/bin/su"]!;
        Assert.Equal(0x9ED, su.Mode);
        Assert.Equal((0, 0), (su.Uid, su.Gid));
    }

    [Fact]
    public void Keeps_owners_the_package_declares_even_when_they_are_not_root()
    {
        UnpackAll(_debs.Craft("mail", [Folder("./var/"), Entry("./var/mail-spool", "x", 0x1B0, uid: 8, gid: 12)]));
        Assert.Equal((8, 12, 0x1B0), (_tree["/var/mail-spool"]!.Uid, _tree["/var/mail-spool"]!.Gid, _tree["/var/mail-spool"]!.Mode));
    }

    [Fact]
    public void Unpacks_device_nodes_and_fifos_with_their_numbers()
    {
        var null_ = new UstarTarEntry(TarEntryType.CharacterDevice, "./dev/null") { DeviceMajor = 1, DeviceMinor = 3, Mode = (UnixFileMode)0x1B6 };
        var loop = new UstarTarEntry(TarEntryType.BlockDevice, "./dev/loop0") { DeviceMajor = 7, DeviceMinor = 0, Mode = (UnixFileMode)0x1B0, Gid = 6 };
        var fifo = new UstarTarEntry(TarEntryType.Fifo, "./dev/initctl") { Mode = (UnixFileMode)0x180 };
        UnpackAll(_debs.Craft("devs", [Folder("./dev/"), null_, loop, fifo]));

        Assert.Equal((RootfsEntryKind.CharDevice, 1, 3, 0x1B6), (_tree["/dev/null"]!.Kind, _tree["/dev/null"]!.DevMajor, _tree["/dev/null"]!.DevMinor, _tree["/dev/null"]!.Mode));
        Assert.Equal((RootfsEntryKind.BlockDevice, 7, 0, 6), (_tree["/dev/loop0"]!.Kind, _tree["/dev/loop0"]!.DevMajor, _tree["/dev/loop0"]!.DevMinor, _tree["/dev/loop0"]!.Gid));
        Assert.Equal(RootfsEntryKind.Fifo, _tree["/dev/initctl"]!.Kind);
    }

    [Theory]
    [InlineData("xz")]
    [InlineData("zstd")]
    [InlineData("gzip")]
    [InlineData("none")]
    public void Reads_data_members_in_every_compression_dpkg_deb_writes(string compression)
    {
        var content = string.Concat(Enumerable.Range(0, 20000).Select(i => $"line {i}\n"));
        var deb = _debs.Build("comp", r => Write(r, "usr/share/comp/big.txt", content), compression: compression);
        var expectedMember = compression switch { "xz" => "data.tar.xz", "zstd" => "data.tar.zst", "gzip" => "data.tar.gz", _ => "data.tar" };
        Assert.Contains(expectedMember + " ", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(deb.DebPath)));

        UnpackAll(deb);
        Assert.Equal(content, Text("/usr/share/comp/big.txt"));
    }

    [Fact]
    public void Reads_ar_members_with_gnu_style_trailing_slash_names()
    {
        UnpackAll(_debs.Craft("gnuar", [Folder("./etc/"), Entry("./etc/gnu", "ok")], gnuArNames: true));
        Assert.Equal("ok", Text("/etc/gnu"));
    }

    [Fact]
    public void Rejects_a_file_that_is_not_an_ar_archive()
    {
        var bogus = Path.Combine(_debs.Dir, "bogus.deb");
        File.WriteAllText(bogus, "this is not a package");
        var deb = _debs.Craft("bogus", []);
        var e = Refused(deb with { DebPath = bogus });
        Assert.Contains("bogus.deb: not a valid .deb", e.Message);
    }

    [Fact]
    public void Records_the_packages_file_list_in_archive_order()
    {
        var installed = UnpackAll(_debs.Build("hello", r => Write(r, "usr/bin/hello", "hi"))).Installed().Single();
        Assert.Equal(["/.", "/usr", "/usr/bin", "/usr/bin/hello"], installed.Paths);
        Assert.True(installed.ControlFiles.ContainsKey("md5sums") || !installed.ControlFiles.ContainsKey("postinst"));
    }

    [Fact]
    public void Parallel_unpacking_reports_the_first_bad_package_in_list_order()
    {
        var good = _debs.Build("good", r => Write(r, "usr/bin/good", "ok"));
        var dotdot = _debs.Craft("dotdot", [Entry("./a/../../x", "x")]);
        var absolute = _debs.Craft("absolute", [Entry("/x", "x")]);
        var e = Assert.Throws<EdgeImageException>(() => new DebUnpacker(_tree).UnpackAll([good, dotdot, absolute], parallelism: 3));
        Assert.Contains("dotdot_1.0_crafted.deb", e.Message);
        Assert.Equal("ok", Text("/usr/bin/good"));
    }

    [Fact]
    public void Parallel_unpacking_applies_packages_in_list_order()
    {
        var a = _debs.Build("alpha", r => Write(r, "usr/bin/tool", "alpha"), "Replaces: beta\n");
        var b = _debs.Build("beta", r => Write(r, "usr/bin/tool", "beta"), "Replaces: alpha\n");
        new DebUnpacker(_tree).UnpackAll([a, b], parallelism: 2);
        Assert.Equal("beta", Text("/usr/bin/tool"));
    }

    internal static void Write(string root, string relative, string text)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
