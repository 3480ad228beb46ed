using System.Reflection;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace EdgeImage.Qemu;

/// <summary>
/// The QEMU machine definitions, one per board. The files in qemu/ are embedded into the library at
/// build time so an installed edgeimage needs no data directory; a directory can be loaded instead
/// to try a new board without rebuilding.
/// </summary>
public sealed class QemuMachineCatalog
{
    private const string ResourcePrefix = "qemu/";

    private static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    private readonly SortedDictionary<string, QemuMachine> _machines;

    private QemuMachineCatalog(IEnumerable<QemuMachine> machines) =>
        _machines = new SortedDictionary<string, QemuMachine>(machines.ToDictionary(m => m.Name, StringComparer.Ordinal), StringComparer.Ordinal);

    /// <summary>All boards, sorted by name.</summary>
    public IReadOnlyList<QemuMachine> Machines => [.. _machines.Values];

    /// <summary>The definitions shipped with EdgeImage (qemu/*.yaml in the repository).</summary>
    public static QemuMachineCatalog LoadBuiltIn()
    {
        var assembly = typeof(QemuMachineCatalog).Assembly;
        var machines = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".yaml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => Parse(Path.GetFileNameWithoutExtension(n), ReadResource(assembly, n), n))
            .ToList();
        return new QemuMachineCatalog(machines);
    }

    /// <summary>Every *.yaml in a directory; the board name is the file name.</summary>
    public static QemuMachineCatalog LoadDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new EdgeImageException($"QEMU machine directory {directory} does not exist",
                "pass a directory holding <board>.yaml machine definitions, like qemu/ in the EdgeImage repository", ExitCodes.NotFound);
        }
        var machines = Directory.EnumerateFiles(directory, "*.yaml")
            .Order(StringComparer.Ordinal)
            .Select(f => Parse(Path.GetFileNameWithoutExtension(f), File.ReadAllText(f), f))
            .ToList();
        return new QemuMachineCatalog(machines);
    }

    public QemuMachine Get(string board) =>
        _machines.TryGetValue(board, out var machine)
            ? machine
            : throw new EdgeImageException($"no QEMU machine definition for board '{board}'",
                $"use one of: {string.Join(", ", _machines.Keys)}", ExitCodes.NotFound);

    /// <summary>
    /// The board to boot an image on: the one asked for, else the "board" recorded in the build
    /// manifest next to the image (out/&lt;profile&gt;/manifest.json).
    /// </summary>
    public QemuMachine ForImage(string? imagePath, string? board)
    {
        if (board is not null)
        {
            return Get(board);
        }
        var manifestPath = imagePath is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(imagePath))!, "manifest.json");
        if (manifestPath is null || !File.Exists(manifestPath))
        {
            throw new EdgeImageException(
                imagePath is null ? "no board given" : $"cannot tell which board {imagePath} is for: there is no {manifestPath}",
                $"pass --board with one of: {string.Join(", ", _machines.Keys)}", ExitCodes.Usage);
        }
        var (manifestBoard, manifestArch) = ReadManifest(manifestPath);
        if (_machines.TryGetValue(manifestBoard, out var exact))
        {
            return exact;
        }
        // A profile may name its board family ("generic-efi", "rpi") and its arch separately.
        var family = _machines.Values
            .Where(m => m.Name.StartsWith(manifestBoard + "-", StringComparison.Ordinal) && (manifestArch is null || m.Arch == manifestArch))
            .ToList();
        return family.Count == 1
            ? family[0]
            : throw new EdgeImageException(
                $"{manifestPath} names board '{manifestBoard}'{(manifestArch is null ? "" : $" for arch {manifestArch}")}, which has no single QEMU machine definition",
                $"pass --board with one of: {string.Join(", ", _machines.Keys)}", ExitCodes.NotFound);
    }

    private static (string Board, string? Arch) ReadManifest(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("board", out var board) && board.ValueKind == JsonValueKind.String)
            {
                var arch = root.TryGetProperty("arch", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
                return (board.GetString()!, arch);
            }
        }
        catch (JsonException e)
        {
            throw new EdgeImageException($"{path} is not valid JSON: {e.Message}", "rebuild the image or pass --board", ExitCodes.Usage, e);
        }
        throw new EdgeImageException($"{path} has no \"board\" string", "rebuild the image or pass --board", ExitCodes.Usage);
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Decodes one definition strictly: unknown keys, missing keys and bad values are errors, reported together.</summary>
    internal static QemuMachine Parse(string name, string yaml, string source)
    {
        MachineYaml? raw;
        try
        {
            raw = Yaml.Deserialize<MachineYaml?>(yaml);
        }
        catch (YamlException e)
        {
            var reason = (e.InnerException as YamlException ?? e).Message;
            // YamlDotNet phrases an unknown key as "Property 'x' not found on type '...'".
            var message = System.Text.RegularExpressions.Regex.Replace(reason, @"^Property '([^']*)' not found on type '[^']*'\.?$", "unknown key '$1'");
            throw new EdgeImageException($"{source}:{e.Start.Line}:{e.Start.Column}: {message}",
                "the keys of a QEMU machine definition are: " + MachineYaml.Keys, ExitCodes.InvalidProfile, e);
        }
        if (raw is null)
        {
            throw new EdgeImageException($"{source} is empty", "the keys of a QEMU machine definition are: " + MachineYaml.Keys, ExitCodes.InvalidProfile);
        }

        var errors = new List<string>();
        string Need(string? value, string key)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                errors.Add($"missing key '{key}'");
            }
            return value ?? "";
        }

        var disk = raw.Disk switch
        {
            "virtio-blk" => QemuDisk.VirtioBlk,
            "sd" => QemuDisk.Sd,
            null => Fail(errors, "missing key 'disk' (virtio-blk or sd)", QemuDisk.VirtioBlk),
            var other => Fail(errors, $"disk '{other}' is not one of: virtio-blk, sd", QemuDisk.VirtioBlk),
        };
        var tcgThreads = raw.TcgThreads switch
        {
            null or "multi" => QemuTcgThreads.Multi,
            "single" => QemuTcgThreads.Single,
            var other => Fail(errors, $"tcg_threads '{other}' is not one of: multi, single", QemuTcgThreads.Multi),
        };
        var requires = (raw.Requires ?? []).Select(r => r switch
        {
            "kernel" => QemuRequirement.Kernel,
            "dtb" => QemuRequirement.Dtb,
            _ => Fail(errors, $"requires '{r}' is not one of: kernel, dtb", QemuRequirement.Kernel),
        }).ToList();
        if (raw.Arch is not null and not ("amd64" or "arm64" or "armhf"))
        {
            errors.Add($"arch '{raw.Arch}' is not one of: amd64, arm64, armhf");
        }
        if (raw.MemoryMib is <= 0)
        {
            errors.Add("memory_mib must be positive");
        }
        if (raw.Smp is <= 0)
        {
            errors.Add("smp must be positive");
        }
        QemuFirmware? firmware = null;
        if (raw.Firmware is { } f)
        {
            firmware = new QemuFirmware
            {
                Package = Need(f.Package, "firmware.package"),
                Code = Need(f.Code, "firmware.code"),
                Vars = Need(f.Vars, "firmware.vars"),
            };
        }
        var machine = new QemuMachine
        {
            Name = name,
            Description = Need(raw.Description, "description"),
            Arch = Need(raw.Arch, "arch"),
            Binary = Need(raw.Binary, "binary"),
            Machine = Need(raw.Machine, "machine"),
            Cpu = raw.Cpu,
            MemoryMiB = raw.MemoryMib,
            Smp = raw.Smp ?? 1,
            TcgThreads = tcgThreads,
            Console = Need(raw.Console, "console"),
            Firmware = firmware,
            Disk = disk,
            Nic = raw.Nic,
            Requires = requires,
            ExtraArgs = raw.ExtraArgs ?? [],
        };
        if (errors.Count > 0)
        {
            throw new EdgeImageException($"{source}: {string.Join("; ", errors)}",
                "the keys of a QEMU machine definition are: " + MachineYaml.Keys, ExitCodes.InvalidProfile);
        }
        return machine;
    }

    private static T Fail<T>(List<string> errors, string error, T placeholder)
    {
        errors.Add(error);
        return placeholder;
    }

    private sealed class MachineYaml
    {
        public const string Keys = "description, arch, binary, machine, cpu, memory_mib, smp, tcg_threads (multi, single), console, firmware (package, code, vars), disk, nic, requires, extra_args";

        public string? Description { get; set; }

        public string? Arch { get; set; }

        public string? Binary { get; set; }

        public string? Machine { get; set; }

        public string? Cpu { get; set; }

        public int? MemoryMib { get; set; }

        public int? Smp { get; set; }

        public string? TcgThreads { get; set; }

        public string? Console { get; set; }

        public FirmwareYaml? Firmware { get; set; }

        public string? Disk { get; set; }

        public string? Nic { get; set; }

        public List<string>? Requires { get; set; }

        public List<string>? ExtraArgs { get; set; }
    }

    private sealed class FirmwareYaml
    {
        public string? Package { get; set; }

        public string? Code { get; set; }

        public string? Vars { get; set; }
    }
}
