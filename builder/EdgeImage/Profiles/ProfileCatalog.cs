namespace EdgeImage.Profiles;

/// <summary>One row of `edgeimage profiles list`: the loaded profile, or why it does not load.</summary>
public sealed record ProfileListing(string Name, string Path, Profile? Profile, EdgeImageException? Error);

/// <summary>
/// The directory profiles are looked up in by name. Only the *.yaml files directly in it are
/// profiles; files in subdirectories (base/) are building blocks for `extends:` and stay hidden.
/// </summary>
public sealed class ProfileCatalog(string directory, string origin)
{
    public const string EnvironmentVariable = "EDGEIMAGE_PROFILES";

    /// <summary>Marks a directory found by walking up as the real profiles/ folder, not any folder of that name.</summary>
    private const string SchemaFileName = "profile.schema.json";

    public string Directory { get; } = directory;

    /// <summary>How the directory was chosen, for messages: "--profiles-dir", "EDGEIMAGE_PROFILES", ...</summary>
    public string Origin { get; } = origin;

    /// <summary>
    /// Picks the first of: the --profiles-dir option, EDGEIMAGE_PROFILES, ./profiles, and a
    /// profiles/ folder (with the schema in it) above the program's own directory, so a CLI built
    /// inside the repository finds the repository's profiles. The caller passes the environment in.
    /// </summary>
    public static ProfileCatalog Locate(string? optionDirectory, string? environmentDirectory, string currentDirectory, string programDirectory)
    {
        if (!string.IsNullOrEmpty(optionDirectory))
        {
            return Existing(Path.GetFullPath(optionDirectory, currentDirectory), "--profiles-dir");
        }
        if (!string.IsNullOrEmpty(environmentDirectory))
        {
            return Existing(Path.GetFullPath(environmentDirectory, currentDirectory), EnvironmentVariable);
        }
        var local = Path.Combine(currentDirectory, "profiles");
        if (System.IO.Directory.Exists(local))
        {
            return new ProfileCatalog(Path.GetFullPath(local), "./profiles");
        }
        for (var dir = new DirectoryInfo(programDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "profiles");
            if (File.Exists(Path.Combine(candidate, SchemaFileName)))
            {
                return new ProfileCatalog(candidate, "the edgeimage installation");
            }
        }
        throw new EdgeImageException(
            "no profiles directory found",
            $"Pass --profiles-dir DIR, set {EnvironmentVariable}, or run edgeimage from a directory that has profiles/.",
            ExitCodes.NotFound);
    }

    /// <summary>Names of the profiles in the directory, sorted.</summary>
    public IReadOnlyList<string> Names() =>
        System.IO.Directory.EnumerateFiles(Directory, "*.yaml", SearchOption.TopDirectoryOnly)
            .Select(Path.GetFileNameWithoutExtension)
            .OfType<string>()
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The file for a profile name, or the path itself when it ends in .yaml/.yml.</summary>
    public string Resolve(string nameOrPath)
    {
        if (nameOrPath.EndsWith(".yaml", StringComparison.Ordinal) || nameOrPath.EndsWith(".yml", StringComparison.Ordinal))
        {
            return nameOrPath;
        }
        var file = Path.Combine(Directory, nameOrPath + ".yaml");
        if (File.Exists(file) && !nameOrPath.Contains('/') && !nameOrPath.Contains('\\'))
        {
            return file;
        }
        var names = Names();
        throw new EdgeImageException(
            $"unknown profile '{nameOrPath}' in {ProfileLoader.DisplayPath(Directory)} (from {Origin})",
            names.Count == 0
                ? "That directory has no *.yaml profiles; pass --profiles-dir DIR or a path ending in .yaml."
                : $"Available profiles: {string.Join(", ", names)}. A path ending in .yaml works too.",
            ExitCodes.NotFound);
    }

    public Profile Load(string nameOrPath) => ProfileLoader.Load(Resolve(nameOrPath));

    /// <summary>Every profile in the directory; a broken one is listed with its error rather than hiding the rest.</summary>
    public IReadOnlyList<ProfileListing> List() =>
        Names().Select(name =>
        {
            var path = Path.Combine(Directory, name + ".yaml");
            try
            {
                return new ProfileListing(name, path, ProfileLoader.Load(path), null);
            }
            catch (EdgeImageException e)
            {
                return new ProfileListing(name, path, null, e);
            }
        }).ToList();

    private static ProfileCatalog Existing(string directory, string origin) =>
        System.IO.Directory.Exists(directory)
            ? new ProfileCatalog(directory, origin)
            : throw new EdgeImageException(
                $"profiles directory {directory} (from {origin}) does not exist",
                $"Point {origin} at a directory that holds profile *.yaml files.",
                ExitCodes.NotFound);
}
