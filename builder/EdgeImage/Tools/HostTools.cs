using System.Collections.Frozen;
using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace EdgeImage.Tools;

/// <summary>
/// The one place the builder runs programs of the host. Every tool is declared with the Debian
/// package that provides it so a missing one is reported as "install X", and stages check their
/// tools before any work starts rather than failing halfway through a build.
/// </summary>
public sealed class HostTools(IReadOnlyList<string>? searchPath = null)
{
    /// <summary>Tool name -> Debian package that ships it.</summary>
    public static readonly FrozenDictionary<string, string> Packages = new Dictionary<string, string>
    {
        ["tar2sqfs"] = "squashfs-tools-ng",
        ["mksquashfs"] = "squashfs-tools",
        ["unsquashfs"] = "squashfs-tools",
        ["mkfs.vfat"] = "dosfstools",
        ["fsck.vfat"] = "dosfstools",
        ["mcopy"] = "mtools",
        ["mmd"] = "mtools",
        ["mdir"] = "mtools",
        ["mdeltree"] = "mtools",
        ["mren"] = "mtools",
        ["mtype"] = "mtools",
        ["sfdisk"] = "fdisk",
        ["cpio"] = "cpio",
        ["veritysetup"] = "cryptsetup-bin",
        ["bmaptool"] = "bmap-tools",
        ["qemu-system-x86_64"] = "qemu-system-x86",
        ["qemu-system-aarch64"] = "qemu-system-arm",
        ["qemu-system-arm"] = "qemu-system-arm",
        ["mkfs.ext4"] = "e2fsprogs",
        ["debugfs"] = "e2fsprogs",
        ["depmod"] = "kmod",
    }.ToFrozenDictionary();

    private readonly IReadOnlyList<string> _path = searchPath
        ?? (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Full path of a tool, or null when it is not installed.</summary>
    public string? Find(string tool)
    {
        // sbin is not on an unprivileged user's PATH on Debian, but mkfs.vfat and friends live there
        // and work fine without root.
        foreach (var dir in _path.Concat(["/usr/sbin", "/sbin"]).Distinct(StringComparer.Ordinal))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>Checks up front that every tool a stage needs is installed; names all missing ones at once.</summary>
    public void Require(params IEnumerable<string> tools)
    {
        var missing = tools.Where(t => Find(t) is null).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (missing.Count == 0)
        {
            return;
        }
        var packages = missing.Select(t => Packages.GetValueOrDefault(t, t)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        throw new EdgeImageException(
            $"required host tool{(missing.Count > 1 ? "s" : "")} not found: {string.Join(", ", missing)}",
            $"install the Debian package{(missing.Count > 1 ? "s" : "")}: apt-get install {string.Join(' ', packages)}",
            ExitCodes.MissingTool);
    }

    /// <summary>
    /// Runs a tool to completion. A non-zero exit becomes an EdgeImageException carrying the tail of
    /// its stderr, because that is where tools explain themselves.
    /// </summary>
    public Task<string> RunAsync(string tool, IEnumerable<string> arguments, Stream? stdin = null,
        string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null, CancellationToken ct = default) =>
        RunAsync(tool, arguments, stdin is null ? null : PipeSource.FromStream(stdin), workingDirectory, environment, ct);

    /// <summary>Runs a tool while <paramref name="writeStdin"/> streams its input, so nothing large is buffered.</summary>
    public Task<string> RunAsync(string tool, IEnumerable<string> arguments, Func<Stream, CancellationToken, Task> writeStdin,
        IReadOnlyDictionary<string, string?>? environment = null, CancellationToken ct = default) =>
        RunAsync(tool, arguments, PipeSource.Create(writeStdin), null, environment, ct);

    private async Task<string> RunAsync(string tool, IEnumerable<string> arguments, PipeSource? stdin,
        string? workingDirectory, IReadOnlyDictionary<string, string?>? environment, CancellationToken ct)
    {
        Require(tool);
        var command = Cli.Wrap(Find(tool)!)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None)
            .WithEnvironmentVariables(env =>
            {
                env.Set("LC_ALL", "C");
                // Tools that store local time (mtools writes FAT directory entries in it) must not
                // make an image depend on the build host's time zone.
                env.Set("TZ", "UTC");
                foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
                {
                    env.Set(name, value);
                }
            });
        if (stdin is not null)
        {
            command = command.WithStandardInputPipe(stdin);
        }
        if (workingDirectory is not null)
        {
            command = command.WithWorkingDirectory(workingDirectory);
        }
        var result = await command.ExecuteBufferedAsync(Encoding.UTF8, ct);
        if (result.ExitCode != 0)
        {
            // Some tools fail without a word on stderr: mtools, when it would ask on /dev/tty (a
            // name clash) and there is no terminal. Then their stdout, or at least that they said nothing.
            static string Tail(string text) => string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(8));
            var tail = Tail(result.StandardError) is { Length: > 0 } stderr ? stderr
                : Tail(result.StandardOutput) is { Length: > 0 } stdout ? stdout
                : "it printed no message";
            throw new EdgeImageException(
                $"{tool} failed with exit code {result.ExitCode}: {tail}",
                $"run with --verbose to see the full command; {tool} is from the Debian package {Packages.GetValueOrDefault(tool, tool)}");
        }
        return result.StandardOutput;
    }
}
