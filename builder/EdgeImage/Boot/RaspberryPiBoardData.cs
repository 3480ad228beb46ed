using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace EdgeImage.Boot;

/// <summary>One Pi model of a board: its config.txt section, U-Boot build and device tree.</summary>
public sealed record RaspberryPiModel
{
    /// <summary>The config.txt conditional filter ("pi2", "pi4") the firmware matches against the board.</summary>
    public required string Section { get; init; }

    /// <summary>Directory under /usr/lib/u-boot/ of the U-Boot package ("rpi_2", "rpi_arm64").</summary>
    public required string Uboot { get; init; }

    /// <summary>Path under /usr/lib/linux-image-&lt;version&gt;/ of the kernel package.</summary>
    public required string Dtb { get; init; }

    /// <summary>File name of this model's U-Boot on the boot partition.</summary>
    public string UbootFile => $"u-boot-{Uboot}.bin";

    public string DtbFile => Path.GetFileName(Dtb);
}

/// <summary>
/// A Raspberry Pi board description, firmware/&lt;board&gt;/board.yaml: which firmware and U-Boot
/// files go on the boot partition, the config.txt template, the A/B boot script and the initramfs
/// modules. Adding a Pi board is adding such a directory.
/// </summary>
public sealed record RaspberryPiBoardData
{
    public const string ResourcePrefix = "firmware/";

    public required string Name { get; init; }

    public required string Description { get; init; }

    public required string FirmwarePackage { get; init; }

    public required string FirmwareDirectory { get; init; }

    public required IReadOnlyList<string> FirmwareFiles { get; init; }

    public required string UbootPackage { get; init; }

    public required IReadOnlyList<RaspberryPiModel> Models { get; init; }

    /// <summary>bootz (32-bit zImage) or booti (arm64 Image).</summary>
    public required string KernelBoot { get; init; }

    public bool Arm64Bit { get; init; }

    public required IReadOnlyDictionary<string, string> UbootEnv { get; init; }

    public required IReadOnlyList<string> InitramfsModules { get; init; }

    /// <summary>The config.txt Scriban template's text.</summary>
    public required string ConfigTemplate { get; init; }

    /// <summary>The boot script Scriban template's text.</summary>
    public required string BootScriptTemplate { get; init; }

    /// <summary>Board names with a description shipped inside the library.</summary>
    public static IReadOnlyList<string> BuiltInBoards() =>
        [.. typeof(RaspberryPiBoardData).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith("/board.yaml", StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..^"/board.yaml".Length])
            .Order(StringComparer.Ordinal)];

    public static RaspberryPiBoardData LoadBuiltIn(string board)
    {
        var assembly = typeof(RaspberryPiBoardData).Assembly;
        var yamlName = $"{ResourcePrefix}{board}/board.yaml";
        var yaml = Read(assembly, yamlName)
            ?? throw new EdgeImageException($"no Raspberry Pi board description for '{board}'", $"add firmware/{board}/board.yaml; known: {string.Join(", ", BuiltInBoards())}", ExitCodes.NotFound);
        BoardYaml parsed;
        try
        {
            parsed = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build().Deserialize<BoardYaml>(yaml)
                ?? throw new EdgeImageException($"{yamlName} is empty", "describe the board's firmware, U-Boot and models");
        }
        catch (YamlException e)
        {
            throw new EdgeImageException($"{yamlName}:{e.Start.Line}: {e.InnerException?.Message ?? e.Message}", "fix the board description (unknown keys are errors)", ExitCodes.InvalidProfile, e);
        }
        string Template(string? relative, string key)
        {
            if (string.IsNullOrEmpty(relative))
            {
                throw new EdgeImageException($"{yamlName} has no {key}", $"name the template file in `{key}:`", ExitCodes.InvalidProfile);
            }
            // Relative to the board's directory, or to firmware/ when it names a shared directory.
            return Read(assembly, $"{ResourcePrefix}{board}/{relative}") ?? Read(assembly, ResourcePrefix + relative)
                ?? throw new EdgeImageException($"{yamlName}: {key} '{relative}' not found", $"add firmware/{board}/{relative} or firmware/{relative}", ExitCodes.InvalidProfile);
        }
        T Need<T>(T? value, string key) where T : class =>
            value ?? throw new EdgeImageException($"{yamlName} has no {key}", $"add `{key}:` to the board description", ExitCodes.InvalidProfile);

        var models = Need(parsed.Models, "models");
        if (models.Count == 0 || models.Any(m => m.Section is null || m.Uboot is null || m.Dtb is null))
        {
            throw new EdgeImageException($"{yamlName}: every model needs section, uboot and dtb", "list at least one model with all three", ExitCodes.InvalidProfile);
        }
        return new RaspberryPiBoardData
        {
            Name = board,
            Description = Need(parsed.Description, "description"),
            FirmwarePackage = Need(parsed.FirmwarePackage, "firmware_package"),
            FirmwareDirectory = Need(parsed.FirmwareDirectory, "firmware_directory"),
            FirmwareFiles = Need(parsed.FirmwareFiles, "firmware_files"),
            UbootPackage = Need(parsed.UbootPackage, "uboot_package"),
            Models = [.. models.Select(m => new RaspberryPiModel { Section = m.Section!, Uboot = m.Uboot!, Dtb = m.Dtb! })],
            KernelBoot = Need(parsed.KernelBoot, "kernel_boot") is "bootz" or "booti" ? parsed.KernelBoot!
                : throw new EdgeImageException($"{yamlName}: kernel_boot '{parsed.KernelBoot}' is not bootz or booti", "bootz boots a 32-bit zImage, booti an arm64 Image", ExitCodes.InvalidProfile),
            Arm64Bit = parsed.Arm64Bit,
            UbootEnv = new SortedDictionary<string, string>(parsed.UbootEnv ?? [], StringComparer.Ordinal),
            InitramfsModules = parsed.InitramfsModules ?? [],
            ConfigTemplate = Template(parsed.ConfigTemplate, "config_template"),
            BootScriptTemplate = Template(parsed.BootScript, "boot_script"),
        };
    }

    private static string? Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name);
        if (stream is null)
        {
            return null;
        }
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private sealed class BoardYaml
    {
        public string? Description { get; set; }
        public string? FirmwarePackage { get; set; }
        public string? FirmwareDirectory { get; set; }
        public List<string>? FirmwareFiles { get; set; }
        public string? UbootPackage { get; set; }
        public string? ConfigTemplate { get; set; }
        public string? BootScript { get; set; }
        public List<ModelYaml>? Models { get; set; }
        public string? KernelBoot { get; set; }
        [YamlMember(Alias = "arm_64bit")]
        public bool Arm64Bit { get; set; }
        public Dictionary<string, string>? UbootEnv { get; set; }
        public List<string>? InitramfsModules { get; set; }
    }

    private sealed class ModelYaml
    {
        public string? Section { get; set; }
        public string? Uboot { get; set; }
        public string? Dtb { get; set; }
    }
}
