using EdgeImage.Packages;
using EdgeImage.Rootfs;
using EdgeImage.Testing;
using EdgeImage.Testing.Rootfs;

namespace EdgeImage.IntegrationTests;

/// <summary>
/// Real trixie .debs fetched with the host's apt into a private, cached directory (never the host's
/// own apt state). The mirror comes from EDGEIMAGE_MIRROR or the host's apt sources.
/// </summary>
internal static class TrixieDebs
{
    public static IReadOnlyList<PackageFile> Download(string name, params string[] packages)
    {
        var root = Path.Combine(Path.GetTempPath(), "edgeimage-it-cache", $"apt-trixie-{name}");
        var archives = Path.Combine(root, "archives");
        var done = Path.Combine(root, "complete");
        if (!File.Exists(done))
        {
            foreach (var dir in new[] { "lists/partial", "archives/partial", "cache", "etc" })
            {
                Directory.CreateDirectory(Path.Combine(root, dir));
            }
            File.WriteAllText(Path.Combine(root, "status"), "");
            File.WriteAllText(Path.Combine(root, "etc", "sources.list"),
                $"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {HostMirror.Url()} trixie main\n");
            string[] options =
            [
                "-o", $"Dir::Etc::SourceList={root}/etc/sources.list", "-o", "Dir::Etc::SourceParts=/dev/null",
                "-o", $"Dir::State::Lists={root}/lists", "-o", $"Dir::State::status={root}/status",
                "-o", $"Dir::Cache={root}/cache", "-o", $"Dir::Cache::archives={archives}",
                "-o", "Dir::Etc::Preferences=/dev/null", "-o", "Dir::Etc::PreferencesParts=/dev/null",
                "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root",
                "-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
                "-o", "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
            ];
            Run("apt-get", [.. options, "-q", "update"]);
            Run("apt-get", [.. options, "-q", "-y", "--no-install-recommends", "install", "--download-only", .. packages]);
            File.WriteAllText(done, string.Join('\n', packages));
        }
        return Directory.GetFiles(archives, "*.deb").Order(StringComparer.Ordinal).Select(Describe).ToArray();
    }

    /// <summary>The index record a resolver would have produced, rebuilt from the .deb itself.</summary>
    private static PackageFile Describe(string deb) =>
        LocalDeb.Describe(deb, ControlParagraph.ParseSingle(Run("dpkg-deb", ["--field", deb])));

    public static string Run(string tool, params string[] args) => ExternalTool.Run(tool, args);

    public static string Tar(params string[] args) => Run("tar", args);
}
