using EdgeImage.Overlays;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tests.Profiles;

namespace EdgeImage.Tests.FirstBoot;

/// <summary>The shipped first-boot overlay (overlays/k0s-join) as each shipped profile lays it over a root.</summary>
public sealed class K0sJoinOverlayTests : IDisposable
{
    private static readonly ProfileCatalog Catalog = new(Checkout.Profiles, "the checkout");

    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-k0sjoin-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("generic-x86_64", "ESP")]
    [InlineData("generic-aarch64", "ESP")]
    [InlineData("rpi-armv7", EdgeImage.Boot.RaspberryPiBoard.BootLabel)]
    [InlineData("rpi4-aarch64", EdgeImage.Boot.RaspberryPiBoard.BootLabel)]
    public void Each_board_finds_its_boot_FAT_by_the_label_the_builder_gives_it(string name, string label)
    {
        using var tree = new RootfsTree(Path.Combine(_dir, name));

        Overlay.Apply(tree, Catalog.Load(name), 1_700_000_000);

        Assert.Equal(label + "\n", tree.ReadText("/usr/lib/edgeimage/boot-label"));
    }

    [Fact]
    public void The_join_service_is_enabled_executable_and_knows_the_build_time()
    {
        using var tree = new RootfsTree(Path.Combine(_dir, "x"));

        Overlay.Apply(tree, Catalog.Load("generic-x86_64"), 1_700_000_000);

        Assert.Equal("1700000000\n", tree.ReadText("/usr/lib/edgeimage/build-epoch"));
        Assert.Equal(0b111_101_101, tree["/usr/lib/edgeimage/k0s-join"]!.Mode);
        Assert.Equal("/usr/lib/systemd/system/edgeimage-join.service", tree["/etc/systemd/system/multi-user.target.wants/edgeimage-join.service"]!.LinkTarget);
        Assert.Contains("ExecStart=/usr/lib/edgeimage/k0s-join", tree.ReadText("/usr/lib/systemd/system/edgeimage-join.service"));
    }

    [Fact]
    public void The_network_starts_after_the_seed_is_applied_and_never_waits_for_the_join()
    {
        using var tree = new RootfsTree(Path.Combine(_dir, "x"));
        Overlay.Apply(tree, Catalog.Load("generic-x86_64"), 1_700_000_000);
        var unit = tree.ReadText("/usr/lib/systemd/system/edgeimage-join.service")!.Split('\n');
        var script = tree.ReadText("/usr/lib/edgeimage/k0s-join")!;

        // systemd-networkd starts once, with the seed's .network file, after the service reports ready.
        Assert.Contains("Type=notify", unit);
        Assert.Contains("NotifyAccess=all", unit);
        Assert.Contains(unit, l => l.StartsWith("Before=", StringComparison.Ordinal) && l.Split('=', ' ').Contains("systemd-networkd.service"));
        Assert.Contains("DefaultDependencies=no", unit);
        Assert.Contains("Conflicts=shutdown.target", unit);
        // Ready is sent once the seed is applied and before the script waits for the network; and
        // on every way out (the EXIT trap), so a failing script cannot hold the network back.
        var applied = script.IndexOf("            apply_seed\n", StringComparison.Ordinal);
        Assert.True(applied > 0);
        Assert.True(script.IndexOf("            ready\n", applied, StringComparison.Ordinal) < script.IndexOf("            network_up\n", applied, StringComparison.Ordinal));
        Assert.Contains("trap 'ready; ", script, StringComparison.Ordinal);
        Assert.Contains("systemd-notify --ready", script, StringComparison.Ordinal);
        // A running networkd is restarted (a seed written later); one that has not started is not.
        Assert.DoesNotContain("systemctl restart systemd-networkd", script, StringComparison.Ordinal);
        Assert.Contains("restart_if_running systemd-networkd.service", script, StringComparison.Ordinal);
    }

    [Fact]
    public void The_join_script_is_valid_POSIX_shell_for_dash()
    {
        var script = Path.Combine(Checkout.Root, "overlays", "k0s-join", "usr", "lib", "edgeimage", "k0s-join");

        using var check = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dash", ["-n", script]) { RedirectStandardError = true })!;
        var errors = check.StandardError.ReadToEnd();
        check.WaitForExit();

        Assert.True(check.ExitCode == 0, errors);
        Assert.StartsWith("#!/bin/sh\n", File.ReadAllText(script));
    }

    private string RunResolv(string root)
    {
        var script = Path.Combine(Checkout.Root, "overlays", "k0s-join", "usr", "lib", "edgeimage", "resolv-from-networkd");
        var start = new System.Diagnostics.ProcessStartInfo("dash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["EDGEIMAGE_RESOLV_ROOT"] = root;
        using var run = System.Diagnostics.Process.Start(start)!;
        var output = run.StandardOutput.ReadToEnd() + run.StandardError.ReadToEnd();
        run.WaitForExit();
        Assert.True(run.ExitCode == 0, output);
        return output;
    }

    [Fact]
    public void Resolv_conf_gets_the_seeds_DNS_servers_first_then_the_DHCP_leases_at_most_three()
    {
        var root = Path.Combine(_dir, "root");
        Directory.CreateDirectory(Path.Combine(root, "etc", "systemd", "network"));
        Directory.CreateDirectory(Path.Combine(root, "run", "systemd", "netif", "leases"));
        Assert.Equal("", RunResolv(root));
        Assert.False(File.Exists(Path.Combine(root, "etc", "resolv.conf")), "no servers known: resolv.conf is left alone");

        // A lease file as systemd-networkd writes it (DNS= may list several servers).
        File.WriteAllText(Path.Combine(root, "run", "systemd", "netif", "leases", "2"),
            "# This is private data. Do not parse.\nADDRESS=10.0.2.15\nNETMASK=255.255.255.0\nROUTER=10.0.2.2\nDNS=10.0.2.3 10.0.2.4\nLIFETIME=86400\n");
        Assert.Equal("edgeimage-resolv: DNS servers 10.0.2.3 10.0.2.4\n", RunResolv(root));
        var resolv = File.ReadAllLines(Path.Combine(root, "etc", "resolv.conf"));
        Assert.Equal(["nameserver 10.0.2.3", "nameserver 10.0.2.4"], resolv.Where(l => !l.StartsWith('#')));
        Assert.Equal("", RunResolv(root));

        File.WriteAllText(Path.Combine(root, "etc", "systemd", "network", "10-edgeimage.network"), "[Match]\nType=ether\n[Network]\nDHCP=yes\nDNS=192.168.1.1\nDNS=10.0.2.3\n");
        File.WriteAllText(Path.Combine(root, "run", "systemd", "netif", "leases", "3"), "DNS=9.9.9.9\n");
        // A link's state file, where networkd publishes its servers for systemd-resolved (with an interface suffix here).
        Directory.CreateDirectory(Path.Combine(root, "run", "systemd", "netif", "links"));
        File.WriteAllText(Path.Combine(root, "run", "systemd", "netif", "links", "2"), "ADMIN_STATE=configured\nDNS=10.0.2.4%2\n");
        RunResolv(root);
        Assert.Equal(["nameserver 192.168.1.1", "nameserver 10.0.2.3", "nameserver 10.0.2.4"],
            File.ReadAllLines(Path.Combine(root, "etc", "resolv.conf")).Where(l => !l.StartsWith('#')));
        Assert.Empty(Directory.GetFiles(Path.Combine(root, "etc"), ".resolv.conf.*"));
    }

    [Fact]
    public void The_resolv_path_unit_is_enabled_and_watches_the_leases()
    {
        using var tree = new RootfsTree(Path.Combine(_dir, "r"));

        Overlay.Apply(tree, Catalog.Load("generic-x86_64"), 1_700_000_000);

        Assert.Equal("/usr/lib/systemd/system/edgeimage-resolv.path", tree["/etc/systemd/system/multi-user.target.wants/edgeimage-resolv.path"]!.LinkTarget);
        var unit = tree.ReadText("/usr/lib/systemd/system/edgeimage-resolv.path")!;
        Assert.Contains("PathChanged=/run/systemd/netif/links\n", unit);
        // The watch exists before networkd can write its first state: nothing it writes is missed.
        Assert.Contains("\nDefaultDependencies=no\n", unit);
        Assert.Contains("\nBefore=systemd-networkd.service ", unit);
        Assert.Equal(0b111_101_101, tree["/usr/lib/edgeimage/resolv-from-networkd"]!.Mode);
    }

    [Fact]
    public void SSH_listens_per_connection_by_dropbear_only_once_the_seed_installed_a_key()
    {
        using var tree = new RootfsTree(Path.Combine(_dir, "s"));

        Overlay.Apply(tree, Catalog.Load("generic-x86_64"), 1_700_000_000);
        var socket = tree.ReadText("/usr/lib/systemd/system/edgeimage-sshd.socket")!.Split('\n');
        var service = tree.ReadText("/usr/lib/systemd/system/edgeimage-sshd@.service")!.Split('\n');
        var script = tree.ReadText("/usr/lib/edgeimage/k0s-join")!;

        Assert.Equal("/usr/lib/systemd/system/edgeimage-sshd.socket", tree["/etc/systemd/system/sockets.target.wants/edgeimage-sshd.socket"]!.LinkTarget);
        Assert.Contains("ConditionFileNotEmpty=/etc/dropbear/authorized_keys", socket);
        Assert.Contains("ListenStream=22", socket);
        Assert.Contains("Accept=yes", socket);
        // inetd mode on the accepted connection, keys only, host keys made on first use, and the
        // keys read where the seed step writes them (root's home is read-only).
        Assert.Contains("ExecStart=/usr/sbin/dropbear -i -s -R -D /etc/dropbear", service);
        Assert.Contains("StandardInput=socket", service);
        Assert.Contains("StandardError=journal", service);
        Assert.Contains("[ -x \"$ROOT/usr/sbin/dropbear\" ]", script, StringComparison.Ordinal);
        Assert.Contains("mv \"$ROOT/etc/dropbear/authorized_keys.new\" \"$ROOT/etc/dropbear/authorized_keys\"", script, StringComparison.Ordinal);
        Assert.Contains("systemctl --no-block start edgeimage-sshd.socket", script, StringComparison.Ordinal);
        Assert.DoesNotContain("/usr/sbin/sshd", script, StringComparison.Ordinal);
        Assert.DoesNotContain("/root/.ssh", script, StringComparison.Ordinal);
    }

    [Fact]
    public void The_seeds_NTP_servers_reach_timesyncd_which_starts_after_the_seed_step()
    {
        using var tree = new RootfsTree(Path.Combine(_dir, "n"));

        Overlay.Apply(tree, Catalog.Load("generic-x86_64"), 1_700_000_000);
        var unit = tree.ReadText("/usr/lib/systemd/system/edgeimage-join.service")!.Split('\n');
        var script = tree.ReadText("/usr/lib/edgeimage/k0s-join")!;

        Assert.Contains(unit, l => l.StartsWith("Before=", StringComparison.Ordinal) && l.Split('=', ' ').Contains("systemd-timesyncd.service"));
        Assert.Contains("> \"$ROOT/etc/systemd/timesyncd.conf.d/edgeimage.conf\"", script, StringComparison.Ordinal);
        // timesyncd runs as systemd-timesync: a directory made under the script's umask 077 would
        // hide the seed's servers from it.
        Assert.Contains("chmod 755 \"$ROOT/etc/systemd/timesyncd.conf.d\"", script, StringComparison.Ordinal);
        Assert.Contains("restart_if_running systemd-timesyncd.service", script, StringComparison.Ordinal);
    }
}
