using EdgeImage.Packages;

namespace EdgeImage.Rootfs;

/// <summary>A verified .deb on disk and the index record it was downloaded for.</summary>
public sealed record PackageFile(PackageRecord Package, string DebPath);

/// <summary>What unpacking one .deb left behind, as the dpkg database records it.</summary>
public sealed record InstalledPackage
{
    /// <summary>The control file from inside the .deb (not the index paragraph).</summary>
    public required ControlParagraph Control { get; init; }

    /// <summary>Paths as dpkg's info/&lt;pkg&gt;.list has them: "/." first, then archive order, without files another package took over.</summary>
    public required IReadOnlyList<string> Paths { get; init; }

    /// <summary>Regular files of the control tarball other than the maintainer scripts (md5sums, conffiles, shlibs, triggers, ...).</summary>
    public required IReadOnlyDictionary<string, byte[]> ControlFiles { get; init; }

    public string Name => Control["Package"]!;

    public string Architecture => Control["Architecture"] ?? "all";

    /// <summary>Name used for files under /var/lib/dpkg/info: Multi-Arch: same packages carry their architecture.</summary>
    public string InfoName =>
        string.Equals(Control["Multi-Arch"], "same", StringComparison.OrdinalIgnoreCase) ? $"{Name}:{Architecture}" : Name;

    public IReadOnlyList<string> Conffiles =>
        ControlFiles.TryGetValue("conffiles", out var bytes)
            ? System.Text.Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith('/'))
                .ToArray()
            : [];
}
