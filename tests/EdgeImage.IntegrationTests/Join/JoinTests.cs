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
/// The first-boot self-join on generic-x86_64 (q35 + OVMF), booted in QEMU against the fake control
/// plane, in two scenarios that run side by side:
///  valid   a seed with a valid token: first boot joins, then the same disk boots a second time
///          (<see cref="ValidJoinBoots"/>, shared with the other boards);
///  late    the controller is unreachable at first, then answers with a certificate of another
///          CA, and only then with the right one: the device logs each problem, backs off, stays
///          up and joins once the right server appears.
/// </summary>
public sealed class JoinBootsFixture() : ValidJoinBoots(JoinBoard.GenericX86_64)
{
    public const string LateHostname = "node-late";

    /// <summary>How long each phase of the late scenario may take to show its log line, once the guest runs.</summary>
    private static readonly TimeSpan PhaseTimeout = TimeSpan.FromMinutes(8);

    public FakeControlPlane Late { get; } = new();

    public JoinBoot LateBoot { get; private set; } = null!;

    /// <summary>Set when a phase of the late scenario never showed its log line.</summary>
    public string? LatePhaseFailure { get; private set; }

    public override async Task InitializeAsync()
    {
        await LoadImageAsync();
        await Task.WhenAll(RunValidAsync(), RunLateAsync());
    }

    private async Task RunLateAsync()
    {
        var disk = JoinDisk.Copy(Image, Work.FullName, "late.img");
        await JoinDisk.SeedAsync(disk, Seed(LateHostname, Late.JoinToken));
        var console = new ConsoleRecorder();
        var boot = JoinDisk.BootAsync(Board, disk, Late, console);

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
            await Phase("edgeimage-join: seed for", 1, Board.BootTimeout + TimeSpan.FromHours(1));
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

    protected override bool AllReported => base.AllReported && LateBoot?.Check is not null;

    public override async Task DisposeAsync()
    {
        await Late.DisposeAsync();
        await base.DisposeAsync();
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

/// <summary>The valid-token scenario (<see cref="ValidJoinTests"/>) and the late server, on generic-x86_64.</summary>
[Trait("Category", "qemu")]
[Collection(JoinBootsCollection.Name)]
public sealed partial class JoinTests(JoinBootsFixture boots, ITestOutputHelper output) : ValidJoinTests(boots, output)
{
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
        var check = Assert.IsType<JoinCheck>(boot.Check);
        // The device stayed up throughout: it reached multi-user while it was still retrying. The
        // guest reports when multi-user.target was reached (CLOCK_MONOTONIC); the join's console
        // lines carry the kernel's timestamp on the same clock. (systemd's own status lines are no
        // proof: once the serial getty owns the console they may not be printed at all.)
        var recorded = JoinRecordedAt().Match(boot.Console);
        Assert.True(recorded.Success, "the console has no timestamped 'join recorded' line");
        var joinedAt = double.Parse(recorded.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var multiUserAt = long.Parse(check["multi-user-at"], System.Globalization.CultureInfo.InvariantCulture) / 1e6;
        Assert.True(multiUserAt > 0 && multiUserAt < joinedAt, $"multi-user.target was not reached before the join (multi-user at {multiUserAt:0.0} s, join recorded at {joinedAt:0.0} s)");
        var request = Assert.Single(boots.Late.Requests);
        Assert.Equal("system:node:node-late", request.CommonName);
        Assert.Equal(("yes", "yes"), (check["joined"], check["kubelet"]));
        AssertPoweredOff(boot);
    }

    [GeneratedRegex(@"\[\s*(\d+\.\d+)\] [^\n]*edgeimage-join: join recorded")]
    private static partial Regex JoinRecordedAt();

    [GeneratedRegex(@"^edgeimage-join: retrying in (\d+)s$")]
    private static partial Regex BackoffLine();
}
