using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeImage.Profiles;

/// <summary>
/// Writes an effective profile back as profile YAML, one comment per top-level key naming the
/// file and line that set it. The output loads again as a profile with the same values.
/// </summary>
public static partial class ProfileWriter
{
    public static string ToYaml(Profile profile)
    {
        var yaml = new StringBuilder();
        var chain = profile.SourceChain.Count > 1
            ? $"{profile.SourceChain[0]} extends {string.Join(" extends ", profile.SourceChain.Skip(1))}"
            : profile.SourcePath;
        yaml.Append($"# Effective profile {profile.Name}: {chain}\n");

        void Key(string key, string? inline = null)
        {
            var origin = profile.Locations.TryGetValue(key, out var where) ? "set in " + where : "default";
            yaml.Append($"# {origin}\n{key}:{(inline is null ? "" : " " + inline)}\n");
        }

        Key("name", Scalar(profile.Name));
        if (profile.Description is not null)
        {
            Key("description", Scalar(profile.Description));
        }
        Key("arch", Scalar(profile.Arch));
        Key("suite", Scalar(profile.Suite));
        Key("components", FlowList(profile.Components));
        if (profile.Mirror is not null)
        {
            Key("mirror", Scalar(profile.Mirror));
        }
        if (profile.Keyring is not null)
        {
            Key("keyring", Scalar(profile.Keyring));
        }
        Key("packages", profile.Packages.Count == 0 ? "[]" : null);
        BlockList(yaml, "", profile.Packages);
        Key("include_required", Flag(profile.IncludeRequired));
        Key("overlays", profile.Overlays.Count == 0 ? "[]" : null);
        BlockList(yaml, "", profile.Overlays);
        Key("exclude", profile.Exclude.Count == 0 ? "[]" : null);
        BlockList(yaml, "", profile.Exclude);
        Key("exclude_keep", profile.ExcludeKeep.Count == 0 ? "[]" : null);
        BlockList(yaml, "", profile.ExcludeKeep);

        Key("kernel");
        if (profile.Kernel.Package is not null)
        {
            yaml.Append($"  package: {Scalar(profile.Kernel.Package)}\n");
        }
        yaml.Append($"  modules: {FlowList(profile.Kernel.Modules)}\n");
        if (profile.Kernel.CommandLine is not null)
        {
            yaml.Append($"  cmdline: {Scalar(profile.Kernel.CommandLine)}\n");
        }
        yaml.Append($"  exclude_modules:{(profile.Kernel.ExcludeModules.Count == 0 ? " []" : "")}\n");
        BlockList(yaml, "  ", profile.Kernel.ExcludeModules);
        yaml.Append($"  include_modules:{(profile.Kernel.IncludeModules.Count == 0 ? " []" : "")}\n");
        BlockList(yaml, "  ", profile.Kernel.IncludeModules);

        Key("board", Scalar(profile.Board));
        Key("partitions");
        yaml.Append(CultureInfo.InvariantCulture, $"  boot: {profile.Partitions.Boot}\n");
        yaml.Append(CultureInfo.InvariantCulture, $"  root: {profile.Partitions.Root}\n");
        yaml.Append(CultureInfo.InvariantCulture, $"  data: {profile.Partitions.Data}\n");

        if (profile.K0s is { } k0s)
        {
            Key("k0s");
            yaml.Append($"  version: {Scalar(k0s.Version)}\n");
            void Optional(string key, string? value)
            {
                if (value is not null)
                {
                    yaml.Append($"  {key}: {Scalar(value)}\n");
                }
            }
            Optional("source", k0s.Source);
            Optional("cosign_key", k0s.CosignKey);
            Optional("airgap_bundle", k0s.AirgapBundle);
            Optional("airgap_bundle_sha256", k0s.AirgapBundleSha256);
            yaml.Append($"  images:{(k0s.Images.Count == 0 ? " []" : "")}\n");
            BlockList(yaml, "  ", k0s.Images);
            yaml.Append($"  airgap: {Flag(k0s.Airgap)}\n");
            var worker = k0s.Worker;
            yaml.Append("  worker:\n");
            yaml.Append($"    labels:{(worker.Labels.Count == 0 ? " {}" : "")}\n");
            foreach (var (key, value) in worker.Labels.OrderBy(l => l.Key, StringComparer.Ordinal))
            {
                yaml.Append($"      {Scalar(key)}: {Scalar(value)}\n");
            }
            yaml.Append($"    taints:{(worker.Taints.Count == 0 ? " []" : "")}\n");
            BlockList(yaml, "    ", worker.Taints);
            yaml.Append($"    kubelet_extra_args:{(worker.KubeletExtraArgs.Count == 0 ? " []" : "")}\n");
            BlockList(yaml, "    ", worker.KubeletExtraArgs);
            if (worker.Profile is not null)
            {
                yaml.Append($"    profile: {Scalar(worker.Profile)}\n");
            }
        }
        Key("debug", Flag(profile.Debug));
        return yaml.ToString();
    }

    private static void BlockList(StringBuilder yaml, string indent, IReadOnlyList<string> items)
    {
        foreach (var item in items)
        {
            yaml.Append($"{indent}  - {Scalar(item)}\n");
        }
    }

    private static string FlowList(IReadOnlyList<string> items) => "[" + string.Join(", ", items.Select(i => Scalar(i, inFlow: true))) + "]";

    private static string Flag(bool value) => value ? "true" : "false";

    /// <summary>Plain when YAML reads it back as the same string, double-quoted otherwise.</summary>
    private static string Scalar(string value) => Scalar(value, inFlow: false);

    private static string Scalar(string value, bool inFlow)
    {
        var plain = PlainSafe().IsMatch(value)
            && !(inFlow && value.Contains(','))
            && !value.EndsWith(' ')
            && !value.EndsWith(':')
            && !value.Contains(": ", StringComparison.Ordinal)
            && !value.Contains(" #", StringComparison.Ordinal)
            && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
            && value.ToLowerInvariant() is not ("true" or "false" or "null" or "yes" or "no" or "on" or "off" or "y" or "n");
        if (plain)
        {
            return value;
        }
        var quoted = new StringBuilder("\"");
        foreach (var c in value)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                < ' ' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }

    // No flow indicators ([]{}) and no '#'; a comma is only unsafe inside [a, b], checked above.
    [GeneratedRegex(@"^[A-Za-z0-9/.][A-Za-z0-9 ._/+:=@~(),;'-]*$")]
    private static partial Regex PlainSafe();
}
