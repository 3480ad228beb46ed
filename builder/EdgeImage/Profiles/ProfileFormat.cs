using System.Text.RegularExpressions;
using EdgeImage.K0s;

namespace EdgeImage.Profiles;

internal enum FieldKind
{
    Text,
    Flag,
    Mebibytes,
    TextList,
    TextMap,

    /// <summary>Command-line arguments: a list, or one string split at whitespace.</summary>
    Arguments,

    /// <summary>A nested mapping with its own fixed keys; merged key by key across `extends:`.</summary>
    Section,
}

internal enum Requirement
{
    Optional,

    /// <summary>Every file must set it, bases included (it names the file itself).</summary>
    EveryFile,

    /// <summary>The effective profile must have it; a base may supply it.</summary>
    Effective,
}

/// <summary>One key the profile format accepts. The table of these is the loader's whole vocabulary.</summary>
internal sealed record Field(string Key, FieldKind Kind)
{
    public Requirement Requirement { get; init; }

    /// <summary>The only values a Text field may take (an enum in the schema).</summary>
    public IReadOnlyList<string>? Allowed { get; init; }

    /// <summary>Accepted spellings users reach for, mapped to the value they mean (aarch64 -> arm64).</summary>
    public IReadOnlyDictionary<string, string> Aliases { get; init; } = new Dictionary<string, string>();

    /// <summary>Checks one value (or one list item, or one map value); returns why it is wrong, or null.</summary>
    public Func<string, string?>? Check { get; init; }

    /// <summary>Checks one key of a TextMap; returns why it is wrong, or null.</summary>
    public Func<string, string?>? KeyCheck { get; init; }

    /// <summary>A local path (unless it is a URL) resolved against the directory of the profile file that wrote it.</summary>
    public bool ResolvesPath { get; init; }

    public IReadOnlyList<Field> Children { get; init; } = [];
}

/// <summary>
/// The keys of a profile file. profiles/profile.schema.json describes the same keys for editors;
/// a test keeps the two in step.
/// </summary>
internal static partial class ProfileFormat
{
    public static readonly IReadOnlyList<string> Architectures = ["amd64", "arm64", "armhf"];

    public static readonly IReadOnlyList<Field> Fields =
    [
        new("name", FieldKind.Text) { Requirement = Requirement.EveryFile, Check = CheckName },
        new("description", FieldKind.Text),
        new("extends", FieldKind.Text),
        new("arch", FieldKind.Text)
        {
            Requirement = Requirement.Effective,
            Allowed = Architectures,
            Aliases = new Dictionary<string, string>
            {
                ["x86_64"] = "amd64",
                ["x86-64"] = "amd64",
                ["aarch64"] = "arm64",
                ["armv7"] = "armhf",
                ["armv7l"] = "armhf",
                ["arm"] = "armhf",
            },
        },
        new("suite", FieldKind.Text) { Check = CheckWord },
        new("components", FieldKind.TextList) { Check = CheckWord },
        new("mirror", FieldKind.Text) { Check = CheckMirror },
        new("keyring", FieldKind.Text),
        new("packages", FieldKind.TextList) { Check = CheckPackageName },
        new("include_required", FieldKind.Flag),
        new("overlays", FieldKind.TextList),
        new("exclude", FieldKind.TextList) { Check = CheckAbsoluteGlob },
        new("exclude_keep", FieldKind.TextList) { Check = CheckAbsoluteGlob },
        new("kernel", FieldKind.Section)
        {
            Children =
            [
                new("package", FieldKind.Text) { Check = CheckPackageName },
                new("modules", FieldKind.TextList) { Check = CheckWord },
                new("cmdline", FieldKind.Text),
                new("exclude_modules", FieldKind.TextList) { Check = CheckRelativeGlob },
                new("include_modules", FieldKind.TextList) { Check = CheckRelativeGlob },
            ],
        },
        new("board", FieldKind.Text) { Requirement = Requirement.Effective, Check = CheckName },
        new("partitions", FieldKind.Section)
        {
            Children =
            [
                new("boot", FieldKind.Mebibytes),
                new("root", FieldKind.Mebibytes),
                new("data", FieldKind.Mebibytes),
            ],
        },
        new("k0s", FieldKind.Section)
        {
            Children =
            [
                new("version", FieldKind.Text) { Check = CheckK0sVersion },
                new("source", FieldKind.Text) { Check = CheckUrlOrPath, ResolvesPath = true },
                new("cosign_key", FieldKind.Text) { Check = CheckPath, ResolvesPath = true },
                new("airgap_bundle", FieldKind.Text) { Check = CheckUrlOrPath, ResolvesPath = true },
                new("airgap_bundle_sha256", FieldKind.Text) { Check = CheckSha256 },
                new("images", FieldKind.TextList) { Check = CheckPinnedImage },
                new("airgap", FieldKind.Flag),
                new("worker", FieldKind.Section)
                {
                    Children =
                    [
                        new("labels", FieldKind.TextMap) { KeyCheck = NodeLabels.KeyProblem, Check = NodeLabels.ValueProblem },
                        new("taints", FieldKind.TextList) { Check = CheckTaint },
                        new("kubelet_extra_args", FieldKind.Arguments) { Check = CheckFlag },
                        new("profile", FieldKind.Text) { Check = CheckName },
                    ],
                },
            ],
        },
        new("debug", FieldKind.Flag),
    ];

    /// <summary>The dotted paths of every key (kernel.cmdline, ...), in table order.</summary>
    public static IEnumerable<string> KeyPaths() => KeyPaths(Fields, "");

    private static IEnumerable<string> KeyPaths(IReadOnlyList<Field> fields, string prefix)
    {
        foreach (var field in fields)
        {
            yield return prefix + field.Key;
            foreach (var child in KeyPaths(field.Children, prefix + field.Key + "."))
            {
                yield return child;
            }
        }
    }

    private static string? CheckName(string value) =>
        NamePattern().IsMatch(value) ? null : $"'{value}' is not a valid name (lower-case letters, digits, '.', '_' and '-', starting with a letter or digit)";

    private static string? CheckWord(string value) =>
        WordPattern().IsMatch(value) ? null : $"'{value}' must be a single word without spaces or slashes";

    private static string? CheckPackageName(string value) =>
        PackageNamePattern().IsMatch(value) ? null : $"'{value}' is not a Debian package name (lower-case letters, digits, '+', '-', '.'; at least two characters)";

    private static string? CheckMirror(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file"
            ? null
            : $"'{EdgeImage.Packages.UrlCredentials.Redact(value)}' is not an absolute http://, https:// or file:// URL";

    private static string? CheckAbsoluteGlob(string value) =>
        value.StartsWith('/') && !value.Split('/').Contains("..")
            ? null
            : $"'{value}' must be an absolute path glob inside the image, like /usr/share/doc/*";

    private static string? CheckRelativeGlob(string value) =>
        value.Length > 0 && !value.StartsWith('/') && !value.Split('/').Contains("..")
            ? null
            : $"'{value}' must be a path below the kernel's module directory, like drivers/gpu or sound";

    private static string? CheckK0sVersion(string value) =>
        K0sVersionPattern().IsMatch(value) ? null : $"'{value}' is not a k0s release version like v1.34.1+k0s.0";

    /// <summary>True for http, https and file URLs; anything else is a local path.</summary>
    public static bool IsUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file";

    private static string? CheckUrlOrPath(string value) =>
        value.Trim().Length == 0 ? "give a URL (https://, http://, file://) or a local path"
        : value.Contains("://", StringComparison.Ordinal) && !IsUrl(value) ? $"'{value}' is neither an http://, https:// or file:// URL nor a local path"
        : null;

    private static string? CheckPath(string value) =>
        value.Trim().Length == 0 || value.Contains("://", StringComparison.Ordinal) ? $"'{value}' must be a local file path" : null;

    private static string? CheckSha256(string value) =>
        Sha256Pattern().IsMatch(value) ? null : $"'{value}' is not a sha256 (64 hexadecimal digits)";

    private static string? CheckPinnedImage(string value)
    {
        var at = value.IndexOf('@');
        if (at < 0)
        {
            return $"image '{value}' is not pinned by digest; write it as {value.Split(':')[0]}@sha256:<64 hex digits> "
                + "(`skopeo inspect docker://REFERENCE` prints the Digest), so every build ships the same bytes";
        }
        if (!PinnedImagePattern().IsMatch(value))
        {
            return $"image '{value}' is not a reference pinned by sha256 digest like registry.example/app@sha256:<64 lower-case hex digits>";
        }
        return null;
    }

    private static string? CheckTaint(string value) =>
        TaintPattern().IsMatch(value) ? null : $"'{value}' is not a taint like key=value:NoSchedule or key:NoExecute (effects: NoSchedule, PreferNoSchedule, NoExecute)";

    // k0s writes the flags into its systemd unit's ExecStart, where $ expands a variable, % a unit
    // specifier and quotes and backslashes change the word: such a flag would not reach the kubelet
    // as written, so it is refused here.
    private static string? CheckFlag(string value) =>
        !FlagPattern().IsMatch(value) ? $"'{value}' is not a kubelet flag like --max-pods=50 (starts with --, no spaces)"
        : value.IndexOfAny(UnitUnsafe) >= 0 ? $"'{value}': k0s writes kubelet flags into a systemd unit, where {string.Join(' ', UnitUnsafe)} change their meaning; write the value without them"
        : null;

    private static readonly char[] UnitUnsafe = ['"', '\'', '\\', '$', '%', '`'];

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();

    // Docker reference grammar, simplified: lower-case path components, optional host[:port] and tag.
    [GeneratedRegex(@"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}$")]
    private static partial Regex PinnedImagePattern();

    [GeneratedRegex(@"^([a-z0-9A-Z.-]+/)?[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")]
    private static partial Regex TaintPattern();

    [GeneratedRegex(@"^--[a-z0-9][a-z0-9-]*(=\S*)?$")]
    private static partial Regex FlagPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
    private static partial Regex WordPattern();

    // Debian Policy 5.6.1: at least two characters, starting with an alphanumeric.
    [GeneratedRegex("^[a-z0-9][a-z0-9+.-]+$")]
    private static partial Regex PackageNamePattern();

    [GeneratedRegex(@"^v\d+\.\d+\.\d+\+k0s\.\d+$")]
    private static partial Regex K0sVersionPattern();
}
