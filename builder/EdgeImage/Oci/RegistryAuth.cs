namespace EdgeImage.Oci;

/// <summary>
/// Where registry credentials come from, in the order containers/image (podman, skopeo, buildah)
/// reads them: a file named by --registry-auth or else $REGISTRY_AUTH_FILE is the only one
/// consulted; otherwise $XDG_RUNTIME_DIR/containers/auth.json, then docker's config.json
/// ($DOCKER_CONFIG, else ~/.docker) or, as docker does only when that file does not exist, its legacy
/// ~/.dockercfg; the first of them that knows the registry answers.
/// A named file is read at once (a typo fails before the build starts); the default files only
/// when a registry asks for credentials, so a broken docker config does not break public pulls.
/// </summary>
public sealed class RegistryAuth
{
    private readonly Lazy<IReadOnlyList<RegistryAuthFile>> _files;

    private RegistryAuth(IReadOnlyList<string> paths, Lazy<IReadOnlyList<RegistryAuthFile>> files)
    {
        Paths = paths;
        _files = files;
    }

    /// <summary>No auth files: anonymous pulls only.</summary>
    public static RegistryAuth None { get; } = new([], new Lazy<IReadOnlyList<RegistryAuthFile>>([]));

    /// <summary>The files consulted, in order (default files only if they exist).</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <param name="authFile">The --registry-auth option, or null.</param>
    /// <param name="environment">Reads an environment variable (injected so tests need not change the process's).</param>
    public static RegistryAuth Locate(string? authFile, Func<string, string?> environment)
    {
        var named = authFile ?? NonEmpty(environment("REGISTRY_AUTH_FILE"));
        if (named is not null)
        {
            var path = System.IO.Path.GetFullPath(named);
            var file = RegistryAuthFile.Load(path);
            return new RegistryAuth([path], new Lazy<IReadOnlyList<RegistryAuthFile>>([file]));
        }
        var candidates = new List<string>();
        if (NonEmpty(environment("XDG_RUNTIME_DIR")) is { } runtime)
        {
            candidates.Add(System.IO.Path.Combine(runtime, "containers", "auth.json"));
        }
        var home = NonEmpty(environment("HOME"));
        var dockerDirectory = NonEmpty(environment("DOCKER_CONFIG")) ?? (home is null ? null : System.IO.Path.Combine(home, ".docker"));
        var dockerConfig = dockerDirectory is null ? null : System.IO.Path.Combine(dockerDirectory, "config.json");
        if (dockerConfig is not null && File.Exists(dockerConfig))
        {
            candidates.Add(dockerConfig);
        }
        else if (home is not null)
        {
            candidates.Add(System.IO.Path.Combine(home, RegistryAuthFile.LegacyDockerFileName));
        }
        var existing = candidates.Where(File.Exists).ToList();
        return new RegistryAuth(existing, new Lazy<IReadOnlyList<RegistryAuthFile>>(
            () => existing.Select(RegistryAuthFile.Load).ToList(), LazyThreadSafetyMode.ExecutionAndPublication));
    }

    /// <summary>
    /// The first file's credential for the image's registry; else the first helper a file names
    /// for it (reported, not run); null when no file knows the registry.
    /// </summary>
    public RegistryLogin? Find(ImageReference image)
    {
        var logins = _files.Value.Select(file => file.Find(image)).OfType<RegistryLogin>().ToList();
        return logins.FirstOrDefault(login => login.Credential is not null) ?? logins.FirstOrDefault();
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
