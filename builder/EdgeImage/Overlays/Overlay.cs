using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using Scriban;

namespace EdgeImage.Overlays;

/// <summary>
/// Overlays are directory trees laid over the composed rootfs after packages are configured: units,
/// configuration, scripts. Files ending in .scriban are Scriban templates rendered with the profile
/// (as `profile`) and SOURCE_DATE_EPOCH (as `source_date_epoch`) and written without the suffix.
/// Everything is owned by root and stamped with SOURCE_DATE_EPOCH; a file's mode is 0755 when it is executable in the source tree, else 0644, so
/// a checkout's umask cannot change the image. Symlinks are copied as symlinks (which is how an
/// overlay enables a unit: a link in multi-user.target.wants).
/// </summary>
public static class Overlay
{
    public const string TemplateSuffix = ".scriban";

    /// <summary>
    /// An overlay given by name ("first-boot") is the folder overlays/NAME found beside or above the
    /// profile that lists it (the repository's overlays/); one given as a path is relative to that profile.
    /// </summary>
    public static string Locate(Profile profile, string overlay)
    {
        var where = profile.Locate("overlays");
        var file = where.Contains(':', StringComparison.Ordinal) ? where[..where.LastIndexOf(':')] : where;
        var start = Path.GetDirectoryName(Path.GetFullPath(file))!;
        if (overlay.Contains('/', StringComparison.Ordinal))
        {
            var path = Path.GetFullPath(Path.Combine(start, overlay));
            return Directory.Exists(path) ? path : throw Missing(overlay, where, path);
        }
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "overlays", overlay);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw Missing(overlay, where, $"overlays/{overlay} above {start}");
    }

    public static int Apply(RootfsTree tree, Profile profile, long epoch)
    {
        var count = 0;
        foreach (var name in profile.Overlays)
        {
            count += ApplyDirectory(tree, Locate(profile, name), profile, epoch);
        }
        return count;
    }

    public static int ApplyDirectory(RootfsTree tree, string source, Profile profile, long epoch)
    {
        var count = 0;
        var entries = Directory.EnumerateFileSystemEntries(source, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Order(StringComparer.Ordinal);
        foreach (var path in entries)
        {
            var relative = "/" + Path.GetRelativePath(source, path).Replace('\\', '/');
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
            {
                tree.WriteSymlink(relative, target, epoch);
            }
            else if (Directory.Exists(path))
            {
                tree.EnsureDirectory(relative, epoch);
            }
            else if (relative.EndsWith(TemplateSuffix, StringComparison.Ordinal))
            {
                tree.WriteFile(relative[..^TemplateSuffix.Length], Render(path, profile, epoch), epoch, ModeOf(info));
            }
            else
            {
                tree.WriteFile(relative, File.ReadAllBytes(path), epoch, ModeOf(info));
            }
            count++;
        }
        return count;
    }

    private static string Render(string path, Profile profile, long epoch)
    {
        var template = Template.Parse(File.ReadAllText(path), path);
        if (template.HasErrors)
        {
            throw new EdgeImageException(
                $"{path}: {string.Join("; ", template.Messages.Select(m => m.ToString()))}",
                "fix the Scriban template syntax (https://github.com/scriban/scriban/blob/master/doc/language.md)",
                ExitCodes.InvalidProfile);
        }
        try
        {
            return template.Render(new { profile, source_date_epoch = epoch }, member => member.Name);
        }
        catch (Scriban.Syntax.ScriptRuntimeException e)
        {
            throw new EdgeImageException($"{path}: {e.OriginalMessage}", "the template uses a value the profile does not have", ExitCodes.InvalidProfile, e);
        }
    }

    private static int ModeOf(FileInfo file) =>
        (file.UnixFileMode & UnixFileMode.UserExecute) != 0 ? 0b111_101_101 : 0b110_100_100;

    private static EdgeImageException Missing(string overlay, string where, string looked) => new(
        $"overlay '{overlay}' (listed at {where}) not found: looked for {looked}",
        "create the folder or fix the name in `overlays:`",
        ExitCodes.InvalidProfile);
}
