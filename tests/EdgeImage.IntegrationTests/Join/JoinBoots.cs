using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using EdgeImage.IntegrationTests.Image;
using EdgeImage.Qemu;
using EdgeImage.Tools;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>The line the join-check unit prints (overlays/join-check/usr/lib/edgeimage-join-check/join-check documents the fields).</summary>
public sealed partial record JoinCheck(string Line, IReadOnlyDictionary<string, string> Fields)
{
    public string this[string field] => Fields.TryGetValue(field, out var value) ? value : throw new KeyNotFoundException($"no {field}= in: {Line}");

    public static JoinCheck? Find(string console)
    {
        var match = CheckLine().Matches(console).LastOrDefault();
        return match is null
            ? null
            : new JoinCheck(match.Value, match.Groups["fields"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(pair => pair.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "", StringComparer.Ordinal));
    }

    [GeneratedRegex(@"EDGEIMAGE-JOIN-CHECK (?<fields>[^\r\n]*?) end")]
    private static partial Regex CheckLine();
}

/// <summary>One boot of a seeded disk until the guest powered itself off (or the time limit).</summary>
public sealed record JoinBoot(string Disk, string Console, QemuRunResult Result, int RequestsBefore, int RequestsAfter)
{
    /// <summary>From QEMU's start to the boot's first join request at the fake; null when it sent none.</summary>
    public TimeSpan? ToFirstRequest { get; init; }

    public JoinCheck? Check { get; } = JoinCheck.Find(Console);

    /// <summary>Lines the join service logged (on the console through StandardOutput=journal+console).</summary>
    public IReadOnlyList<string> JoinLog => Console.Split('\n').Select(l => l.TrimEnd('\r'))
        .Where(l => l.Contains("edgeimage-join:", StringComparison.Ordinal))
        .Select(l => l[l.IndexOf("edgeimage-join:", StringComparison.Ordinal)..]).ToList();

    public override string ToString() =>
        $"{Path.GetFileName(Disk)}: {Result.ExitReason} (QEMU exit {Result.QemuExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}) after {Result.Elapsed.TotalSeconds:0}s; " +
        $"console saved in {Disk}.console.log; join log:\n  | {string.Join("\n  | ", JoinLog)}\nlast lines:\n  | {string.Join("\n  | ", Result.LastLines)}";
}

/// <summary>
/// Disk operations of the join tests: copy a board's shared image, seed it with the CLI, boot it on
/// the board's QEMU machine with the fake control plane forwarded into the guest (and, when asked,
/// host ports forwarded to the guest's), and read its
/// partitions back afterwards without mounting (debugfs for the ext4 data partition, mtools for the FAT).
/// </summary>
public static class JoinDisk
{

    public static string Copy(BuiltImage image, string directory, string name)
    {
        var target = Path.Combine(directory, name);
        TrixieDebs.Run("cp", "--sparse=always", image.ImagePath, target);
        return target;
    }

    public static async Task SeedAsync(string disk, string seedYaml)
    {
        var seedFile = disk + ".seed.yaml";
        await File.WriteAllTextAsync(seedFile, seedYaml);
        var result = await Cli.RunAsync("seed", disk, "--seed", seedFile);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"seeding {disk} failed:\n{result}");
        }
    }

    public static async Task<JoinBoot> BootAsync(JoinBoard board, string disk, FakeControlPlane fake, ConsoleRecorder? console = null, IReadOnlyList<string>? hostForwards = null)
    {
        console ??= new ConsoleRecorder();
        var before = fake.Requests.Count;
        using var hardStop = new CancellationTokenSource(board.BootTimeout + TimeSpan.FromMinutes(1));
        var started = 0L;
        var result = await HeavyWork.RunAsync(() =>
        {
            started = Stopwatch.GetTimestamp();
            return new QemuRunner().RunAsync(new QemuRunRequest
            {
                ImagePath = disk,
                Board = board.QemuBoard,
                Smp = board.Smp,
                Timeout = board.BootTimeout,
                NoReboot = true,
                GuestForwards = [fake.GuestForward],
                HostForwards = hostForwards ?? [],
                SerialEcho = console,
            }, NullBuildLog.Instance, hardStop.Token);
        });
        var text = console.Text;
        await File.WriteAllTextAsync(disk + ".console.log", text);
        var times = fake.RequestTimestamps;
        return new JoinBoot(disk, text, result, before, times.Count)
        {
            ToFirstRequest = times.Count > before ? Stopwatch.GetElapsedTime(started, times[before]) : null,
        };
    }

    /// <summary>A file of the data partition's ext4, read with debugfs; null when it does not exist.</summary>
    public static string? ReadDataFile(BuiltImage image, string disk, string path)
    {
        var listing = Debugfs(image, disk, $"ls -p {Path.GetDirectoryName(path)}");
        return listing.Split('\n').Any(l => l.Split('/').ElementAtOrDefault(5) == Path.GetFileName(path))
            ? Debugfs(image, disk, $"cat {path}")
            : null;
    }

    /// <summary>Names in a directory of the data partition.</summary>
    public static IReadOnlyList<string> ListData(BuiltImage image, string disk, string directory) =>
        Debugfs(image, disk, $"ls -p {directory}").Split('\n')
            .Select(l => l.Split('/')).Where(f => f.Length > 5 && f[5] is not ("." or "..")).Select(f => f[5]).Order(StringComparer.Ordinal).ToList();

    private static string Debugfs(BuiltImage image, string disk, string request) =>
        TrixieDebs.Run("debugfs", "-R", request, $"{disk}?offset={image.Partition("data").Offset}");

    /// <summary>Whether <paramref name="needle"/> occurs anywhere in the raw bytes of a partition, files, free blocks and journal alike.</summary>
    public static bool PartitionContains(BuiltImage image, string disk, string partition, string needle)
    {
        var part = image.Partition(partition);
        var pattern = Encoding.ASCII.GetBytes(needle);
        using var stream = File.OpenRead(disk);
        stream.Position = part.Offset;
        var buffer = new byte[(16 << 20) + pattern.Length];
        var carried = 0;
        for (var left = part.Size; left > 0;)
        {
            var read = stream.Read(buffer, carried, (int)Math.Min(buffer.Length - carried, left));
            if (read == 0)
            {
                break;
            }
            left -= read;
            var filled = carried + read;
            if (buffer.AsSpan(0, filled).IndexOf(pattern) >= 0)
            {
                return true;
            }
            carried = Math.Min(pattern.Length - 1, filled);
            Array.Copy(buffer, filled - carried, buffer, 0, carried);
        }
        return false;
    }

    /// <summary>A file of the boot FAT partition, read with mtools; null when it does not exist.</summary>
    public static async Task<string?> ReadBootFileAsync(BuiltImage image, string disk, string path)
    {
        try
        {
            return await new HostTools().RunAsync("mtype", ["-i", $"{disk}@@{image.Partition("esp").Offset}", "::" + path],
                environment: new Dictionary<string, string?> { ["MTOOLS_SKIP_CHECK"] = "1" });
        }
        catch (EdgeImageException e) when (e.Message.Contains("not found", StringComparison.Ordinal))
        {
            return null;
        }
    }
}
