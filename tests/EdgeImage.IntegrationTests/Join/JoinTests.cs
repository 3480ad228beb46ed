using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using EdgeImage.IntegrationTests.Image;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Join;

[CollectionDefinition(Name)]
public sealed class JoinBootsCollection : ICollectionFixture<JoinBootsFixture>
{
    public const string Name = "join boots";
}

/// <summary>
/// The first-boot self-join, booted in QEMU (generic-x86_64, q35 + OVMF) against the fake control
/// plane, in two scenarios that run side by side:
///  valid   a seed with a valid token: first boot joins, then the same disk boots a second time;
///  late    the controller is unreachable at first, then answers with a certificate of another
///          CA, and only then with the right one: the device logs each problem, backs off, stays
///          up and joins once the right server appears.
/// </summary>
public sealed class JoinBootsFixture : IAsyncLifetime
{
    public const string ValidHostname = "node-a";
    public const string LateHostname = "node-late";

    /// <summary>How long each phase of the late scenario may take to show its log line, once the guest runs.</summary>
    private static readonly TimeSpan PhaseTimeout = TimeSpan.FromMinutes(8);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-join-");

    public BuiltImage Image { get; private set; } = null!;

    public FakeControlPlane Valid { get; } = new();

    public FakeControlPlane Late { get; } = new();

    public JoinBoot First { get; private set; } = null!;

    /// <summary>Null when the first boot did not join.</summary>
    public JoinBoot? Second { get; private set; }

    public JoinBoot LateBoot { get; private set; } = null!;

    /// <summary>Set when a phase of the late scenario never showed its log line.</summary>
    public string? LatePhaseFailure { get; private set; }

    /// <summary>Snapshots of the valid disk after the first boot (the second boot changes it).</summary>
    public DiskAfterJoin AfterFirst { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Image = await JoinImage.GetAsync();
        await Task.WhenAll(RunValidAsync(), RunLateAsync());
    }

    public static string Seed(string hostname, string token) => $"""
        hostname: {hostname}
        token: {token}
        labels:
          site: lab
          example.com/role: sensor
        """;

    private async Task RunValidAsync()
    {
        await Valid.StartAsync();
        var disk = JoinDisk.Copy(Image, _work.FullName, "valid.img");
        await JoinDisk.SeedAsync(disk, Seed(ValidHostname, Valid.JoinToken));
        First = await JoinDisk.BootAsync(disk, Valid);
        AfterFirst = await DiskAfterJoin.ReadAsync(Image, disk, Valid);
        if (First.Check?["joined"] == "yes")
        {
            Second = await JoinDisk.BootAsync(disk, Valid);
        }
    }

    private async Task RunLateAsync()
    {
        var disk = JoinDisk.Copy(Image, _work.FullName, "late.img");
        await JoinDisk.SeedAsync(disk, Seed(LateHostname, Late.JoinToken));
        var console = new ConsoleRecorder();
        var boot = JoinDisk.BootAsync(disk, Late, console);

        // The boot may wait for a free slot (HeavyWork); each phase's time limit starts once the
        // guest's join service is talking, and a boot that ends early ends the wait.
        async Task Phase(string text, int count, TimeSpan limit)
        {
            var seen = console.WaitForAsync(text, limit, count);
            if (await Task.WhenAny(seen, boot) == boot)
            {
                throw new TimeoutException($"the boot ended before '{text}' appeared {count} time(s)");
            }
            await seen;
        }

        try
        {
            await Phase("edgeimage-join: seed for", 1, JoinDisk.BootTimeout + TimeSpan.FromHours(1));
            // Nothing listens on the fake's port yet: every attempt must fail to connect.
            await Phase("is not reachable", 2, PhaseTimeout);
            Late.Identity = FakeServerIdentity.OtherCa;
            await Late.StartAsync();
            await Phase("is not valid for the CA in the join token", 2, PhaseTimeout);
        }
        catch (TimeoutException e)
        {
            LatePhaseFailure = e.Message;
        }
        finally
        {
            // Whatever happened, let the device finish its join rather than run into the time limit.
            Late.Identity = FakeServerIdentity.Trusted;
            await Late.StartAsync();
        }
        LateBoot = await boot;
    }

    public async Task DisposeAsync()
    {
        await Valid.DisposeAsync();
        await Late.DisposeAsync();
        if (First?.Check is not null && Second?.Check is not null && LateBoot?.Check is not null)
        {
            _work.Delete(recursive: true);
            return;
        }
        // Keep the consoles of a failed run (their paths are in the failure messages), not the disks.
        foreach (var disk in _work.EnumerateFiles("*.img"))
        {
            disk.Delete();
        }
    }
}

/// <summary>What a powered-off disk holds after its join, read without mounting.</summary>
public sealed record DiskAfterJoin
{
    public required string? KubeletConf { get; init; }
    public required IReadOnlyList<string> EdgeimageState { get; init; }
    public required bool DataHoldsBearerToken { get; init; }
    public required bool DataHoldsJoinToken { get; init; }
    public required bool BootHoldsBearerToken { get; init; }
    public required string? SeedYaml { get; init; }
    public required string? SeedEnv { get; init; }

    public static async Task<DiskAfterJoin> ReadAsync(BuiltImage image, string disk, FakeControlPlane fake)
    {
        // The bootstrap token's secret, and a stretch from the middle of the base64 token (the
        // gzip'd kubeconfig), searched for in every byte: files, free blocks, the ext4 journal.
        var secret = fake.BearerToken.Split('.')[1];
        var token = fake.JoinToken;
        var tokenPiece = token.Substring(token.Length / 2, 40);
        return new DiskAfterJoin
        {
            KubeletConf = JoinDisk.ReadDataFile(image, disk, "/var/lib/k0s/kubelet.conf"),
            EdgeimageState = JoinDisk.ListData(image, disk, "/var/lib/edgeimage"),
            DataHoldsBearerToken = JoinDisk.PartitionContains(image, disk, "data", secret),
            DataHoldsJoinToken = JoinDisk.PartitionContains(image, disk, "data", tokenPiece),
            BootHoldsBearerToken = JoinDisk.PartitionContains(image, disk, "esp", tokenPiece),
            SeedYaml = await JoinDisk.ReadBootFileAsync(image, disk, "edgeimage/seed.yaml"),
            SeedEnv = await JoinDisk.ReadBootFileAsync(image, disk, "edgeimage/seed.env"),
        };
    }
}

[Trait("Category", "qemu")]
[Collection(JoinBootsCollection.Name)]
public sealed partial class JoinTests(JoinBootsFixture boots, ITestOutputHelper output)
{
    [Fact]
    public void A_seeded_device_joins_exactly_once_as_its_hostname_with_its_labels()
    {
        var boot = Report(boots.First);

        var check = Assert.IsType<JoinCheck>(boot.Check);
        Assert.Equal(("1", "yes", "yes", "absent", JoinBootsFixture.ValidHostname), (check["boot"], check["joined"], check["kubelet"], check["token-copy"], check["hostname"]));
        var request = Assert.Single(boots.Valid.Requests);
        Assert.Equal(new JoinRequest("system:node:node-a", "system:nodes", "example.com/role=sensor,site=lab"), request);
        Assert.Equal(0, boots.Valid.Rejected);
        // The image's k0s is the stand-in, and it says so.
        Assert.Contains("edgeimage-join: k0s: k0s STAND-IN (not the real k0s)", boot.JoinLog);
        Assert.Contains(boot.JoinLog, l => l.StartsWith("edgeimage-join: join recorded in /var/lib/edgeimage/joined", StringComparison.Ordinal));
        AssertPoweredOff(boot);
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

    [Fact]
    public void An_unreachable_server_and_a_server_of_another_CA_are_logged_retried_with_backoff_and_the_device_joins_once_the_right_one_answers()
    {
        var boot = Report(boots.LateBoot);
        Assert.True(boots.LatePhaseFailure is null, boots.LatePhaseFailure + "\n" + boot);

        var log = boot.JoinLog;
        int First(string text) => log.ToList().FindIndex(l => l.Contains(text, StringComparison.Ordinal));
        var unreachable = First("ERROR: API server https://10.0.2.100:6443 is not reachable");
        var wrongCa = First("ERROR: API server https://10.0.2.100:6443: its certificate is not valid for the CA in the join token");
        var joined = First("joined: /var/lib/k0s/kubelet.conf exists");
        Assert.True(unreachable >= 0 && wrongCa > unreachable && joined > wrongCa, $"expected unreachable, then wrong CA, then joined:\n{string.Join('\n', log)}");
        // Exponential backoff, capped (the test image sets 2 s doubling to 8 s).
        var delays = log.Select(l => BackoffLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal([2, 4, 8], delays.Take(3));
        Assert.All(delays.Skip(3), d => Assert.Equal(8, d));
        // The device stayed up throughout: it reached multi-user while it was still retrying.
        // (systemd colours the unit name, so the status line is matched around its escape codes)
        var up = MultiUserReached().Match(boot.Console);
        Assert.True(up.Success && up.Index < boot.Console.IndexOf("join recorded", StringComparison.Ordinal), "multi-user.target was not reached before the join");
        var request = Assert.Single(boots.Late.Requests);
        Assert.Equal("system:node:node-late", request.CommonName);
        var check = Assert.IsType<JoinCheck>(boot.Check);
        Assert.Equal(("yes", "yes"), (check["joined"], check["kubelet"]));
        AssertPoweredOff(boot);
    }

    [GeneratedRegex(@"Reached target .{0,20}multi-user\.target")]
    private static partial Regex MultiUserReached();

    [GeneratedRegex(@"^edgeimage-join: retrying in (\d+)s$")]
    private static partial Regex BackoffLine();

    private static void AssertPoweredOff(JoinBoot boot) =>
        Assert.True(boot.Result.ExitReason == EdgeImage.Qemu.QemuExitReason.QemuExited && boot.Result.QemuExitCode == 0,
            $"the guest should power itself off after joining: {boot}");

    private JoinBoot Report(JoinBoot boot)
    {
        output.WriteLine($"image built by uid {boots.Image.BuilderUid} in {boots.Image.Elapsed.TotalSeconds:0}s");
        output.WriteLine($"{Path.GetFileName(boot.Disk)}: {boot.Result.ExitReason} after {boot.Result.Elapsed.TotalSeconds:0}s");
        foreach (var line in boot.JoinLog)
        {
            output.WriteLine("  | " + line);
        }
        output.WriteLine(boot.Check?.Line ?? "(no join-check line)");
        Assert.True(boot.Check is not null, $"the join-check unit never reported: {boot}");
        return boot;
    }
}
