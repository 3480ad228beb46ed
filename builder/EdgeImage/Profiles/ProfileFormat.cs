using System.Text.RegularExpressions;

namespace EdgeImage.Profiles;

internal enum FieldKind
{
    Text,
    Flag,
    Mebibytes,
    TextList,
    TextMap,

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

    /// <summary>Checks one value (or one list item); returns why it is wrong, or null.</summary>
    public Func<string, string?>? Check { get; init; }

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
                new("source", FieldKind.Text),
                new("images", FieldKind.TextList),
                new("labels", FieldKind.TextMap),
                new("airgap", FieldKind.Flag),
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
            : $"'{value}' is not an absolute http://, https:// or file:// URL";

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
