using EdgeImage.Rootfs;

namespace EdgeImage.Tests.Rootfs;

public sealed class RootfsConfiguratorTests : IDisposable
{
    private const long Epoch = 1_700_000_000;
    private readonly DebFixtures _debs = new();
    private readonly RootfsTree _tree;

    public RootfsConfiguratorTests() => _tree = new RootfsTree(Path.Combine(_debs.Dir, "staging"));

    public void Dispose()
    {
        _tree.Dispose();
        _debs.Dispose();
    }

    private ConfigureResult Configure(params InstalledPackage[] packages) =>
        RootfsConfigurator.Configure(_tree, packages, Epoch, NullBuildLog.Instance);

    private void Put(string path, string text) => _tree.WriteFile(path, text, 1);

    [Fact]
    public void Writes_accounts_from_base_passwd_master_files_plus_sysusers_with_sorted_dynamic_ids()
    {
        Put("/usr/share/base-passwd/passwd.master", "root:*:0:0:root:/root:/bin/bash\ndaemon:*:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n");
        Put("/usr/share/base-passwd/group.master", "root:*:0:\ndaemon:*:1:\nshadow:*:42:\n");
        Put("/usr/lib/sysusers.d/basic.conf", "# comment\nu root 0 - /root /bin/sh\ng users 100 -\n");
        Put("/usr/lib/sysusers.d/zz-app.conf",
            "u! zeta - \"Zeta Service\" /var/lib/zeta\ng alpha-group - -\nu beta - - /nonexistent\nm beta users\n");
        Put("/etc/sysusers.d/zz-app.conf", "u! zeta - \"Zeta Service\" /var/lib/zeta\ng alpha-group - -\nu beta - - /nonexistent\nm beta users\nu svc 500:users \"Static\"\n");

        var result = Configure();

        Assert.Equal(
            "root:x:0:0:root:/root:/bin/bash\n" +
            "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
            "svc:x:500:100:Static:/:/usr/sbin/nologin\n" +
            "beta:x:998:998::/nonexistent:/usr/sbin/nologin\n" +
            "zeta:x:997:997:Zeta Service:/var/lib/zeta:/usr/sbin/nologin\n",
            _tree.ReadText("/etc/passwd"));
        Assert.Equal(
            "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nusers:x:100:beta\nalpha-group:x:999:\nbeta:x:998:\nzeta:x:997:\n",
            _tree.ReadText("/etc/group"));
        Assert.StartsWith($"root:*:{Epoch / 86400}:0:99999:7:::\n", _tree.ReadText("/etc/shadow"));
        Assert.Contains("\nusers:*::beta\n", _tree.ReadText("/etc/gshadow"));
        var shadow = _tree["/etc/shadow"]!;
        Assert.Equal((0x1A0, 0, 42), (shadow.Mode, shadow.Uid, shadow.Gid));
        Assert.Equal((5, 7), (result.Users, result.Groups));
    }

    [Fact]
    public void Root_gets_bin_sh_when_the_image_lacks_the_shell_base_passwd_names_and_nobody_else_gets_a_shell()
    {
        Put("/usr/share/base-passwd/passwd.master", "root:*:0:0:root:/root:/bin/bash\ndaemon:*:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n");
        Put("/usr/share/base-passwd/group.master", "root:*:0:\ndaemon:*:1:\n");
        _tree.WriteSymlink("/bin", "usr/bin", 1);
        Put("/usr/bin/dash", "ELF");
        _tree.WriteSymlink("/usr/bin/sh", "dash", 1);

        Configure();

        // No bash and no nologin in this tree: root gets the shell the image has, daemon keeps its nologin.
        Assert.Equal("root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n", _tree.ReadText("/etc/passwd"));
    }

    [Fact]
    public void Root_keeps_bash_when_the_image_has_it()
    {
        Put("/usr/share/base-passwd/passwd.master", "root:*:0:0:root:/root:/bin/bash\n");
        Put("/usr/share/base-passwd/group.master", "root:*:0:\n");
        _tree.WriteSymlink("/bin", "usr/bin", 1);
        Put("/usr/bin/dash", "ELF");
        _tree.WriteSymlink("/usr/bin/sh", "dash", 1);
        Put("/usr/bin/bash", "ELF");

        Configure();

        Assert.Equal("root:x:0:0:root:/root:/bin/bash\n", _tree.ReadText("/etc/passwd"));
    }

    [Fact]
    public void Enables_units_from_their_Install_section_as_the_presets_say_first_match_winning()
    {
        const string dir = "/usr/lib/systemd/system";
        Put($"{dir}/app.service", "[Unit]\nDescription=app\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=application.service\n");
        Put($"{dir}/debug-shell.service", "[Install]\nWantedBy=sysinit.target\n");
        Put($"{dir}/mount-helper.service", "[Install]\nRequiredBy=local-fs.target\n");
        Put($"{dir}/static.service", "[Service]\nExecStart=/bin/true\n");
        Put($"{dir}/getty@.service", "[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n");
        Put($"{dir}/serial@.service", "[Install]\nWantedBy=getty.target\n");
        Put("/usr/lib/systemd/system-preset/90-vendor.preset", "disable debug-*.service\nenable serial@.service ttyS0 ttyS1\nenable *\n");
        Put("/usr/lib/systemd/system-preset/10-early.preset", "disable mount-helper.service\n");
        Put("/etc/systemd/system-preset/10-early.preset", "enable mount-helper.service\n");

        var result = Configure();

        Assert.Equal(
            ["app.service", "getty@tty1.service", "mount-helper.service", "serial@ttyS0.service", "serial@ttyS1.service"],
            result.EnabledUnits);
        Assert.Equal($"{dir}/app.service", _tree["/etc/systemd/system/multi-user.target.wants/app.service"]?.LinkTarget);
        Assert.Equal($"{dir}/app.service", _tree["/etc/systemd/system/application.service"]?.LinkTarget);
        Assert.Equal($"{dir}/mount-helper.service", _tree["/etc/systemd/system/local-fs.target.requires/mount-helper.service"]?.LinkTarget);
        Assert.Equal($"{dir}/getty@.service", _tree["/etc/systemd/system/getty.target.wants/getty@tty1.service"]?.LinkTarget);
        Assert.Equal($"{dir}/serial@.service", _tree["/etc/systemd/system/getty.target.wants/serial@ttyS1.service"]?.LinkTarget);
        Assert.Null(_tree["/etc/systemd/system/sysinit.target.wants/debug-shell.service"]);
    }

    [Fact]
    public void Points_awk_at_mawk_through_etc_alternatives_and_records_it_for_dpkg()
    {
        Put("/usr/bin/mawk", "ELF");
        Put("/usr/share/man/man1/mawk.1.gz", "man");

        var result = Configure();

        Assert.Contains("awk -> /usr/bin/mawk", result.Alternatives);
        Assert.Equal("/etc/alternatives/awk", _tree["/usr/bin/awk"]?.LinkTarget);
        Assert.Equal("/usr/bin/mawk", _tree["/etc/alternatives/awk"]?.LinkTarget);
        Assert.Equal("/usr/bin/mawk", _tree["/etc/alternatives/nawk"]?.LinkTarget);
        Assert.Equal("/usr/share/man/man1/mawk.1.gz", _tree["/etc/alternatives/awk.1.gz"]?.LinkTarget);
        Assert.Equal(
            "auto\n/usr/bin/awk\nawk.1.gz\n/usr/share/man/man1/awk.1.gz\nnawk\n/usr/bin/nawk\nnawk.1.gz\n/usr/share/man/man1/nawk.1.gz\n\n" +
            "/usr/bin/mawk\n5\n/usr/share/man/man1/mawk.1.gz\n/usr/bin/mawk\n/usr/share/man/man1/mawk.1.gz\n\n",
            _tree.ReadText("/var/lib/dpkg/alternatives/awk"));
        Assert.Null(_tree["/usr/bin/which"]);
    }

    [Fact]
    public void Writes_the_dpkg_status_database_with_conffiles_file_lists_and_md5sums()
    {
        var deb = _debs.Build("tool", r =>
        {
            DebUnpackerTests.Write(r, "etc/tool.conf", "setting=1\n");
            DebUnpackerTests.Write(r, "usr/bin/tool", "#!/bin/sh\n");
            DebUnpackerTests.Write(r, "DEBIAN/md5sums", "0123  usr/bin/tool\n");
            DebUnpackerTests.Write(r, "DEBIAN/postinst", "#!/bin/sh\nexit 0\n");
            DebFixtures.Run("chmod", "755", Path.Combine(r, "DEBIAN/postinst"));
        }, "Depends: libc6\n", conffiles: ["/etc/tool.conf"]);
        var unpacker = new DebUnpacker(_tree);
        unpacker.Unpack(deb);

        Configure([.. unpacker.Installed()]);

        Assert.Equal(
            "Package: tool\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Test <t@example.org>\nDepends: libc6\n" +
            "Conffiles:\n /etc/tool.conf 7d43cb06abb8273056a580aca18d8acb\nDescription: fixture tool\n\n",
            _tree.ReadText("/var/lib/dpkg/status"));
        Assert.Equal("/.\n/etc\n/etc/tool.conf\n/usr\n/usr/bin\n/usr/bin/tool\n", _tree.ReadText("/var/lib/dpkg/info/tool.list"));
        Assert.Equal("0123  usr/bin/tool\n", _tree.ReadText("/var/lib/dpkg/info/tool.md5sums"));
        Assert.Equal("/etc/tool.conf\n", _tree.ReadText("/var/lib/dpkg/info/tool.conffiles"));
        Assert.Null(_tree["/var/lib/dpkg/info/tool.postinst"]);
        Assert.Equal("1\n", _tree.ReadText("/var/lib/dpkg/info/format"));
    }

    [Fact]
    public void Leaves_an_empty_read_only_machine_id_so_first_boot_generates_one()
    {
        Configure();
        var id = _tree["/etc/machine-id"]!;
        Assert.Equal((RootfsEntryKind.File, 0L, 0x124), (id.Kind, id.Size, id.Mode));
        Assert.Equal("localhost\n", _tree.ReadText("/etc/hostname"));
    }
}
