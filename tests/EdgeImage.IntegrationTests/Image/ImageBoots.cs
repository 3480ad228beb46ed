using System.Globalization;
using System.Text.RegularExpressions;
using EdgeImage.Qemu;

namespace EdgeImage.IntegrationTests.Image;

/// <summary>
/// The line the boot-check unit of the test overlay prints once the system reached multi-user
/// (overlays/boot-check/usr/lib/edgeimage-boot-check/boot-check documents the fields).
/// </summary>
public sealed partial record BootCheck(string Line, IReadOnlyDictionary<string, string> Fields)
{
    public const string Marker = "EDGEIMAGE-BOOT-CHECK";

    public string this[string field] => Fields.TryGetValue(field, out var value)
        ? value
        : throw new KeyNotFoundException($"no {field}= in: {Line}");

    /// <summary>
    /// What every board's first boot must report: multi-user with no failed unit, a read-only
    /// squashfs root that refuses writes, writable /etc and /var on the data overlay, a fresh /var.
    /// </summary>
    public void AssertFirstBootState()
    {
        Assert.Equal("1", this["boot"]);
        Assert.Equal("active", this["multi-user"]);
        Assert.Equal("ro", this["root"]);
        Assert.Equal("squashfs", this["root-fs"]);
        Assert.Equal("refused", this["root-write"]);
        Assert.Equal("rw", this["var"]);
        Assert.Equal("overlay", this["var-fs"]);
        Assert.Equal("rw", this["etc"]);
        Assert.Equal("new", this["var-file"]);
        Assert.Equal("none", this["failed"]);
        Assert.Equal("none", this["rebuilt"]);
    }

    /// <summary>What every board's second boot of the same disk must report: the first boot's /var file, still a read-only root.</summary>
    public void AssertSecondBootState()
    {
        Assert.Equal("2", this["boot"]);
        Assert.Equal("kept-from-boot-1", this["var-file"]);
        Assert.Equal("ro", this["root"]);
        Assert.Equal("rw", this["var"]);
        Assert.Equal("active", this["multi-user"]);
    }

    public long Bytes(string field) => long.Parse(this[field], NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>The last complete boot-check line of a console, or null when the unit never reported.</summary>
    public static BootCheck? Find(string console)
    {
        var match = CheckLine().Matches(console).LastOrDefault();
        if (match is null)
        {
            return null;
        }
        var fields = match.Groups["fields"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "", StringComparer.Ordinal);
        return new BootCheck(match.Value, fields);
    }

    [GeneratedRegex(Marker + @" (?<fields>[^\r\n]*?) end")]
    private static partial Regex CheckLine();
}

/// <summary>One boot of a disk until the guest powered itself off (or the time limit).</summary>
public sealed record DiskBoot(string Disk, string Console, QemuRunResult Result)
{
    public BootCheck? Check { get; } = BootCheck.Find(Console);

    /// <summary>For assertion messages: how the run ended and the end of its console.</summary>
    public override string ToString() =>
        $"{Path.GetFileName(Disk)}: {Result.ExitReason} (QEMU exit {Result.QemuExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}) after {Result.Elapsed.TotalSeconds:0}s; " +
        $"console saved in {Disk}.console.log; last lines:\n  | {string.Join("\n  | ", Result.LastLines)}";
}

/// <summary>
/// The boot scenario the boot tests assert on, run once: copy the shared image and boot it (first
/// boot: the initramfs creates the data file system), then, from copies of that booted disk and
/// in parallel, boot it a second time as it is, and boot it after growing the disk file by 1 GiB
/// (the initramfs must grow the partition and the existing file system). Every boot ends when the
/// boot-check unit powers the guest off, so the disk is cleanly unmounted, or at the time limit.
/// </summary>
public sealed class ImageBootsFixture : IAsyncLifetime
{
    public const string Board = "generic-efi-x86_64";

    public const long GrowBy = 1L << 30;

    /// <summary>One boot under TCG on a loaded two-core host takes 1-3 minutes; with KVM seconds.</summary>
    public static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(8);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-boots-");

    public BuiltImage Image { get; private set; } = null!;

    public DiskBoot First { get; private set; } = null!;

    /// <summary>Null when the first boot did not report (nothing to build on).</summary>
    public DiskBoot? Second { get; private set; }

    public DiskBoot? Grown { get; private set; }

    /// <summary>The size of the disk file grown for <see cref="Grown"/>.</summary>
    public long GrownDiskSize { get; private set; }

    public async Task InitializeAsync()
    {
        Image = await BootCheckImage.GetAsync();
        var first = CopyDisk(Image.ImagePath, "first-boot.img");
        First = await BootAsync(first);
        if (First.Check is null)
        {
            return;
        }
        var second = CopyDisk(first, "second-boot.img");
        var grown = CopyDisk(first, "grown-disk.img");
        await using (var disk = new FileStream(grown, FileMode.Open, FileAccess.ReadWrite))
        {
            // Extending the file leaves a hole: the disk is 1 GiB larger and nothing is written.
            disk.SetLength(disk.Length + GrowBy);
            GrownDiskSize = disk.Length;
        }
        var boots = await Task.WhenAll(BootAsync(second), BootAsync(grown));
        (Second, Grown) = (boots[0], boots[1]);
    }

    public Task DisposeAsync()
    {
        _work.Delete(recursive: true);
        return Task.CompletedTask;
    }

    private string CopyDisk(string source, string name)
    {
        var target = Path.Combine(_work.FullName, name);
        TrixieDebs.Run("cp", "--sparse=always", source, target);
        return target;
    }

    private static async Task<DiskBoot> BootAsync(string disk)
    {
        var console = new StringWriter();
        var echo = TextWriter.Synchronized(console);
        using var hardStop = new CancellationTokenSource(BootTimeout + TimeSpan.FromMinutes(1));
        var result = await HeavyWork.RunAsync(() => new QemuRunner().RunAsync(new QemuRunRequest
        {
            ImagePath = disk,
            Board = Board,
            Timeout = BootTimeout,
            // A guest that reboots (the initramfs does when it cannot mount the root) ends the run
            // at once instead of booting again until the time limit.
            NoReboot = true,
            SerialEcho = echo,
        }, NullBuildLog.Instance, hardStop.Token));
        var text = console.ToString();
        await File.WriteAllTextAsync(disk + ".console.log", text);
        return new DiskBoot(disk, text, result);
    }
}
