namespace EdgeImage.Tests.Profiles;

/// <summary>A scratch directory of profile files for one test; deleted afterwards.</summary>
public sealed class ProfileFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("edgeimage-profiles-").FullName;

    /// <summary>Writes NAME.yaml (or a relative path ending in .yaml) and returns its full path.</summary>
    public string Write(string name, string yaml)
    {
        var path = Path.Combine(Directory, name.EndsWith(".yaml", StringComparison.Ordinal) ? name : name + ".yaml");
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, yaml);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>The checkout the tests run from, found by walking up to EdgeImage.sln.</summary>
public static class Checkout
{
    public static string Root { get; } = Find();

    public static string Profiles => Path.Combine(Root, "profiles");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeImage.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no EdgeImage.sln above {AppContext.BaseDirectory}");
    }
}
