using System.Security.Cryptography;
using System.Text;

namespace EdgeImage.Rootfs;

/// <summary>
/// Writes /var/lib/dpkg as dpkg leaves it after installing the packages: the status file (control
/// fields + "Status: install ok installed" + Conffiles with their md5), info/&lt;pkg&gt;.list and the
/// control tarball's md5sums, conffiles, shlibs, triggers, ... files, so dpkg-query on the device,
/// syft and trivy see what is installed.
/// </summary>
internal static class DpkgDatabase
{
    private const string Root = "/var/lib/dpkg";

    public static void Write(RootfsTree tree, IReadOnlyList<InstalledPackage> packages, long mtime)
    {
        var status = new StringBuilder();
        foreach (var package in packages.OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Architecture, StringComparer.Ordinal))
        {
            status.Append(StatusParagraph(tree, package)).Append('\n');
            tree.WriteFile($"{Root}/info/{package.InfoName}.list", string.Concat(package.Paths.Select(p => p + "\n")), mtime);
            foreach (var (name, bytes) in package.ControlFiles.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                tree.WriteFile($"{Root}/info/{package.InfoName}.{name}", bytes, mtime);
            }
        }
        tree.WriteFile($"{Root}/status", status.ToString(), mtime);
        // Format 1 is the multiarch layout: without it dpkg looks for Multi-Arch: same lists without ":arch".
        tree.WriteFile($"{Root}/info/format", "1\n", mtime);
        foreach (var empty in new[] { "available", "diversions", "statoverride", "triggers/Unincorp" })
        {
            tree.WriteFile($"{Root}/{empty}", "", mtime);
        }
        tree.EnsureDirectory($"{Root}/updates", mtime);
        tree.EnsureDirectory($"{Root}/alternatives", mtime);
    }

    private static string StatusParagraph(RootfsTree tree, InstalledPackage package)
    {
        var text = new StringBuilder();
        var conffiles = package.Conffiles;
        var wroteConffiles = false;
        void AppendConffiles()
        {
            if (conffiles.Count > 0 && !wroteConffiles)
            {
                text.Append("Conffiles:\n");
                foreach (var path in conffiles)
                {
                    text.Append(' ').Append(path.Split(' ')[0]).Append(' ').Append(Md5(tree, path.Split(' ')[0])).Append('\n');
                }
            }
            wroteConffiles = true;
        }
        foreach (var (name, value) in package.Control.Fields)
        {
            if (name.Equals("Description", StringComparison.OrdinalIgnoreCase))
            {
                AppendConffiles();
            }
            text.Append(name).Append(':');
            var lines = value.Split('\n');
            if (lines[0].Length > 0)
            {
                text.Append(' ').Append(lines[0]);
            }
            text.Append('\n');
            foreach (var continuation in lines.Skip(1))
            {
                text.Append(' ').Append(continuation).Append('\n');
            }
            if (name.Equals("Package", StringComparison.OrdinalIgnoreCase))
            {
                text.Append("Status: install ok installed\n");
            }
        }
        AppendConffiles();
        return text.ToString();
    }

    private static string Md5(RootfsTree tree, string path)
    {
        var entry = tree[tree.Resolve(path, followFinal: true, path)];
        if (entry?.Kind != RootfsEntryKind.File)
        {
            return "newconffile";
        }
        using var stream = tree.OpenRead(entry);
        return Convert.ToHexStringLower(MD5.HashData(stream));
    }
}
