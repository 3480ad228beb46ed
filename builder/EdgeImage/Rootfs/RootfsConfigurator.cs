namespace EdgeImage.Rootfs;

/// <summary>What native configuration did, for the build log and the SBOM.</summary>
public sealed record ConfigureResult
{
    public required int Users { get; init; }

    public required int Groups { get; init; }

    public required IReadOnlyList<string> EnabledUnits { get; init; }

    public required IReadOnlyList<string> Alternatives { get; init; }
}

/// <summary>
/// Configures an unpacked tree without running any maintainer script: accounts, /etc/shells,
/// alternatives, systemd presets, the dpkg database and an empty machine-id so systemd treats the
/// first boot as such.
/// </summary>
public static class RootfsConfigurator
{
    public static ConfigureResult Configure(RootfsTree tree, IReadOnlyList<InstalledPackage> packages, long sourceDateEpoch, IBuildLog log, string hostname = "localhost")
    {
        var (users, groups) = Accounts.Write(tree, sourceDateEpoch, log);
        WriteShells(tree, sourceDateEpoch);
        var alternatives = Alternatives.Apply(tree, sourceDateEpoch, log);
        var units = SystemdPresets.Apply(tree, sourceDateEpoch);
        DpkgDatabase.Write(tree, packages, sourceDateEpoch);
        tree.WriteFile("/etc/machine-id", "", sourceDateEpoch, mode: 0x124);
        tree.WriteFile("/etc/hostname", hostname + "\n", sourceDateEpoch);
        return new ConfigureResult { Users = users, Groups = groups, EnabledUnits = units, Alternatives = alternatives };
    }

    /// <summary>
    /// debianutils' postinst copies its shells template and update-shells adds every shell listed
    /// under /usr/share/debianutils/shells.d, with the /usr alias of /bin and /sbin paths on merged /usr.
    /// </summary>
    private static void WriteShells(RootfsTree tree, long mtime)
    {
        var template = tree.ReadText("/usr/share/debianutils/shells");
        if (template is null)
        {
            return;
        }
        var lines = template.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var shellsD = tree.Resolve("/usr/share/debianutils/shells.d", followFinal: true, "shells.d");
        foreach (var file in tree.Children(shellsD).Where(e => e.Kind == RootfsEntryKind.File))
        {
            foreach (var shell in (tree.ReadText(file.Path) ?? "").Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('/')))
            {
                foreach (var path in shell.StartsWith("/bin/", StringComparison.Ordinal) || shell.StartsWith("/sbin/", StringComparison.Ordinal)
                             ? new[] { shell, "/usr" + shell }
                             : [shell])
                {
                    if (!lines.Contains(path))
                    {
                        lines.Add(path);
                    }
                }
            }
        }
        tree.WriteFile("/etc/shells", string.Concat(lines.Select(l => l + "\n")), mtime);
    }
}
