using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using EdgeImage.IntegrationTests.Image;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>
/// The join with a valid token on one board: a copy of the board's join image, seeded with a valid
/// token for the fake control plane, boots and joins; its partitions are read back after the
/// guest powered itself off; then the same disk boots a second time. Derived fixtures bind it to a
/// board and may run further scenarios beside it.
/// </summary>
public abstract class ValidJoinBoots(JoinBoard board) : IAsyncLifetime
{
    public const string ValidHostname = "node-a";

    public JoinBoard Board => board;

    public BuiltImage Image { get; private set; } = null!;

    public FakeControlPlane Valid { get; } = new();

    public JoinBoot First { get; private set; } = null!;

    /// <summary>Null when the first boot did not join.</summary>
    public JoinBoot? Second { get; private set; }

    /// <summary>The host's SSH login into the first boot with the seed's key; null when the guest never offered one.</summary>
    public SshLogin? FirstSsh { get; private set; }

    /// <summary>
    /// The valid seed's NTP server: nothing answers there, but timesyncd must try it. In QEMU's user
    /// network, so it is on the link: a DHCP lease of the restricted network has no default route,
    /// and timesyncd would give up on an unroutable server without a trace at its default log level.
    /// </summary>
    public const string ValidNtp = "10.0.2.123";

    /// <summary>Snapshots of the valid disk after the first boot (the second boot changes it).</summary>
    public DiskAfterJoin AfterFirst { get; private set; } = null!;

    /// <summary>Disks and their console logs.</summary>
    protected DirectoryInfo Work { get; } = Directory.CreateTempSubdirectory($"edgeimage-join-{board.Profile}-");

    /// <summary>Every boot reported: the disks are not needed for a look afterwards.</summary>
    protected virtual bool AllReported => First?.Check is not null && Second?.Check is not null;

    public virtual async Task InitializeAsync()
    {
        await LoadImageAsync();
        await RunValidAsync();
    }

    /// <summary>DHCP (the seed's default) with one name server of the seed's.</summary>
    public static readonly SeedNetwork Dhcp = new(["dns: [192.0.2.53]"], Address: null, Dns: "192.0.2.53");

    /// <summary>
    /// A static address in QEMU's user network, where DHCP would hand out 10.0.2.15, with the
    /// user network's gateway and a name server of the seed's.
    /// </summary>
    public static readonly SeedNetwork Static = new(["mode: static", "address: 10.0.2.42/24", "gateway: 10.0.2.2", "dns: [192.0.2.54]"], Address: "10.0.2.42/24", Dns: "192.0.2.54");

    /// <summary>The network section the valid device is seeded with.</summary>
    public virtual SeedNetwork Network => Dhcp;

    public static string Seed(string hostname, string token, SeedNetwork? network = null, string? ntp = null, string? sshKey = null) => $"""
        hostname: {hostname}
        token: {token}
        labels:
          site: lab
          example.com/role: sensor
        network:
        {string.Join("\n", (network ?? Dhcp).Lines.Select(l => "  " + l))}
        {(ntp is null ? "" : $"ntp: [{ntp}]")}
        {(sshKey is null ? "" : $"ssh_authorized_keys: [\"{sshKey}\"]")}
        """;

    protected async Task LoadImageAsync() => Image = await JoinImage.GetAsync(board);

    protected async Task RunValidAsync()
    {
        await Valid.StartAsync();
        var disk = JoinDisk.Copy(Image, Work.FullName, "valid.img");
        var key = SshKey.Create(Work.FullName);
        await JoinDisk.SeedAsync(disk, Seed(ValidHostname, Valid.JoinToken, Network, ValidNtp, key.PublicKey));
        // The first boot is also the SSH test: the host logs in through a forwarded port once the
        // guest has joined, while its join-check waits for that (the second boot does not wait).
        var (port, forward) = SshLogin.FreeForward(Network.Address?.Split('/')[0]);
        var console = new ConsoleRecorder();
        var first = JoinDisk.BootAsync(board, disk, Valid, console, [forward]);
        FirstSsh = await SshLogin.WhenReadyAsync(console, first, key, port, board.BootTimeout + TimeSpan.FromHours(1));
        First = await first;
        AfterFirst = await DiskAfterJoin.ReadAsync(Image, disk, Valid);
        if (First.Check?["joined"] == "yes")
        {
            Second = await JoinDisk.BootAsync(board, disk, Valid);
        }
    }

    public virtual async Task DisposeAsync()
    {
        await Valid.DisposeAsync();
        if (AllReported)
        {
            Work.Delete(recursive: true);
            return;
        }
        // Keep the consoles of a failed run (their paths are in the failure messages), not the disks.
        foreach (var disk in Work.EnumerateFiles("*.img"))
        {
            disk.Delete();
        }
    }
}

/// <summary>
/// What a device seeded with a valid token must do on every board (<see cref="ValidJoinBoots"/>):
/// join exactly once as its host name with its labels and the image's worker options, leave kubelet.conf and no token behind, and
/// not join again on the next boot. The derived classes bind the tests to a board's boots.
/// </summary>
public abstract class ValidJoinTests(ValidJoinBoots boots, ITestOutputHelper output)
{
    [Fact]
    public void A_seeded_device_joins_exactly_once_as_its_hostname_with_its_labels()
    {
        var boot = Report(boots.First);

        var check = Assert.IsType<JoinCheck>(boot.Check);
        Assert.Equal(("1", "yes", "yes", "absent", ValidJoinBoots.ValidHostname), (check["boot"], check["joined"], check["kubelet"], check["token-copy"], check["hostname"]));
        // The seed's name server reaches /etc/resolv.conf through systemd-networkd's configuration;
        // QEMU's restricted user network offers no DNS server by DHCP to add to it.
        Assert.Equal(boots.Network.Dns, check["dns"]);
        // The seed's network mode, applied by systemd-networkd: a DHCP lease and QEMU's first DHCP
        // address, or the static address and no lease.
        if (boots.Network.Address is { } address)
        {
            Assert.Equal((address, "no"), (check["addr"], check["lease"]));
            Assert.Contains(boot.JoinLog, l => l.StartsWith($"edgeimage-join: network: static {address} via ", StringComparison.Ordinal));
        }
        else
        {
            Assert.Equal(("10.0.2.15/24", "yes"), (check["addr"], check["lease"]));
            Assert.Contains("edgeimage-join: network: dhcp (systemd-networkd)", boot.JoinLog);
        }
        var request = Assert.Single(boots.Valid.Requests);
        // The image's worker options (the test profile's k0s.worker) with the seed's labels, whose
        // site wins over the image's: what `k0s install worker` got, as the stand-in's worker reports it.
        Assert.Equal(
            new JoinRequest("system:node:node-a", "system:nodes", "edgeimage.test/image=join-test,example.com/role=sensor,site=lab",
                "edgeimage.test/dedicated=edge:NoSchedule", "--max-pods=50 --eviction-hard=memory.available<100Mi", "edge-small"),
            request);
        Assert.Equal(0, boots.Valid.Rejected);
        // The image's k0s is the stand-in, and it says so.
        Assert.Contains("edgeimage-join: k0s: k0s STAND-IN (not the real k0s)", boot.JoinLog);
        Assert.Contains(boot.JoinLog, l => l.StartsWith("edgeimage-join: join recorded in /var/lib/edgeimage/joined", StringComparison.Ordinal));
        AssertPoweredOff(boot);
    }

    [Fact]
    public void The_seeds_SSH_key_logs_in_from_the_host_and_timesyncd_runs_with_the_seeds_NTP_server()
    {
        var boot = Report(boots.First);
        var check = Assert.IsType<JoinCheck>(boot.Check);

        // A real SSH connection from outside: the host's OpenSSH client through QEMU's hostfwd to
        // dropbear, authenticated by the key the seed carried.
        var login = boots.FirstSsh;
        output.WriteLine(login?.ToString() ?? "(the guest never offered an SSH login)");
        Assert.True(login is { ExitCode: 0 }, $"SSH login failed: {login?.ToString() ?? "the guest never printed " + SshLogin.ReadyLine}\n{boot}");
        Assert.Equal(ValidJoinBoots.ValidHostname, login!.Stdout.Trim());
        Assert.Equal("1", check["ssh-accepted"]);
        Assert.Contains(boot.JoinLog, l => l.StartsWith("edgeimage-join: SSH: 1 authorized key(s) for root (dropbear", StringComparison.Ordinal));
        // NTP: timesyncd runs with the seed's server (it contacts it; nothing answers there).
        Assert.Equal(("active", ValidJoinBoots.ValidNtp, ValidJoinBoots.ValidNtp), (check["ntp-unit"], check["ntp-conf"], check["ntp-server"]));
        Assert.Contains($"edgeimage-join: NTP servers: {ValidJoinBoots.ValidNtp}", boot.JoinLog);
    }

    [Fact]
    public void After_the_join_the_data_partition_holds_kubelet_conf_signed_by_the_cluster_CA_and_no_token()
    {
        Report(boots.First);
        var disk = boots.AfterFirst;

        var kubeconfig = Assert.IsType<string>(disk.KubeletConf);
        var certificate = Regex.Match(kubeconfig, @"client-certificate-data: (\S+)").Groups[1].Value;
        using var cert = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(Convert.FromBase64String(certificate)));
        Assert.Equal("system:node:node-a", cert.GetNameInfo(X509NameType.SimpleName, false));
        Assert.True(boots.Valid.IsIssuerOf(cert), "kubelet.conf's client certificate is not the one the control plane signed");
        Assert.Contains("server: https://10.0.2.100:6443", kubeconfig);
        Assert.Equal(["joined"], disk.EdgeimageState);
        Assert.False(disk.DataHoldsBearerToken, "the bootstrap token's secret is still somewhere on the data partition");
        Assert.False(disk.DataHoldsJoinToken, "the join token is still somewhere on the data partition");
    }

    [Fact]
    public void After_the_join_the_seed_on_the_boot_partition_has_no_token_but_keeps_the_rest()
    {
        Report(boots.First);
        var disk = boots.AfterFirst;

        var yaml = Assert.IsType<string>(disk.SeedYaml);
        var env = Assert.IsType<string>(disk.SeedEnv);
        Assert.DoesNotContain(yaml.Split('\n'), l => l.StartsWith("token", StringComparison.Ordinal));
        Assert.DoesNotContain(boots.Valid.JoinToken, yaml);
        Assert.Contains("hostname: \"node-a\"", yaml);
        Assert.Contains("\"site\": \"lab\"", yaml);
        Assert.DoesNotContain("TOKEN", env);
        Assert.Contains("HOSTNAME=node-a\n", env);
        // seed.env still pins the seed.yaml it belongs to, so the device would read it again.
        Assert.Contains($"SEED_YAML_SHA256={EdgeImage.FirstBoot.SeedFiles.Sha256(yaml)}\n", env);
        Assert.False(disk.BootHoldsBearerToken, "the join token is still somewhere on the boot partition");
    }

    [Fact]
    public void A_second_boot_of_a_joined_device_does_not_join_again()
    {
        var boot = Report(Assert.IsType<JoinBoot>(boots.Second));

        var check = Assert.IsType<JoinCheck>(boot.Check);
        Assert.Equal(("2", "yes", "yes"), (check["boot"], check["joined"], check["kubelet"]));
        Assert.Equal(boot.RequestsBefore, boot.RequestsAfter);
        Assert.Single(boots.Valid.Requests);
        // The join service is skipped by its condition: it logs nothing.
        Assert.Empty(boot.JoinLog);
        AssertPoweredOff(boot);
    }

    protected static void AssertPoweredOff(JoinBoot boot) =>
        Assert.True(boot.Result.ExitReason == EdgeImage.Qemu.QemuExitReason.QemuExited && boot.Result.QemuExitCode == 0,
            $"the guest should power itself off after joining: {boot}");

    protected JoinBoot Report(JoinBoot boot)
    {
        output.WriteLine($"{boots.Board.TestProfile} on {boots.Board.QemuBoard}: image built by uid {boots.Image.BuilderUid} in {boots.Image.Elapsed.TotalSeconds:0}s");
        output.WriteLine($"{Path.GetFileName(boot.Disk)}: {boot.Result.ExitReason} after {boot.Result.Elapsed.TotalSeconds:0}s; "
            + (boot.ToFirstRequest is { } toRequest ? $"join request {toRequest.TotalSeconds:0.0}s after QEMU started" : "no join request"));
        foreach (var line in boot.JoinLog)
        {
            output.WriteLine("  | " + line);
        }
        output.WriteLine(boot.Check?.Line ?? "(no join-check line)");
        Assert.True(boot.Check is not null, $"the join-check unit never reported: {boot}");
        return boot;
    }
}

/// <summary>A seed's network section as YAML lines, and what the device must show for it.</summary>
public sealed record SeedNetwork(IReadOnlyList<string> Lines, string? Address, string Dns);
