using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeImage.Packages;

namespace EdgeImage.Tests.Fixtures;

/// <summary>A binary package for <see cref="LocalDebianRepo"/>; built with dpkg-deb, so it is a real .deb.</summary>
public sealed record TestPackage
{
    public required string Name { get; init; }

    public string Version { get; init; } = "1.0";

    /// <summary>A Debian architecture or "all".</summary>
    public string Architecture { get; init; } = "amd64";

    public string Component { get; init; } = "main";

    public string? Depends { get; init; }

    public string? PreDepends { get; init; }

    public string? Provides { get; init; }

    public string? MultiArch { get; init; }

    public bool Essential { get; init; }

    public string Priority { get; init; } = "optional";

    /// <summary>Regular files: path inside the package (e.g. "usr/bin/hello") to content.</summary>
    public IReadOnlyDictionary<string, string> Files { get; init; } = new Dictionary<string, string>();

    /// <summary>Symbolic links: path inside the package to target.</summary>
    public IReadOnlyDictionary<string, string> Symlinks { get; init; } = new Dictionary<string, string>();

    /// <summary>Files in the control archive besides control itself (postinst, conffiles, ...), name to content.</summary>
    public IReadOnlyDictionary<string, string> ControlFiles { get; init; } = new Dictionary<string, string>();

    /// <summary>Any further control fields, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ExtraFields { get; init; } = [];

    /// <summary>Path of the .deb below the mirror root, as Debian lays out its pool.</summary>
    public string PoolPath
    {
        get
        {
            var prefix = Name.StartsWith("lib", StringComparison.Ordinal) && Name.Length > 3 ? Name[..4] : Name[..1];
            var version = Version.Contains(':') ? Version[(Version.IndexOf(':') + 1)..] : Version;
            return $"pool/{Component}/{prefix}/{Name}/{Name}_{version}_{Architecture}.deb";
        }
    }
}

/// <summary>How <see cref="LocalDebianRepo"/> lays out and signs its suite.</summary>
public sealed record LocalRepoOptions
{
    public string Suite { get; init; } = "testing";

    public string Codename { get; init; } = "trixie";

    public IReadOnlyList<string> Architectures { get; init; } = ["amd64", "arm64"];

    public IReadOnlyList<string> Components { get; init; } = ["main"];

    public DateTimeOffset Date { get; init; } = DateTimeOffset.UtcNow.AddHours(-1);

    public DateTimeOffset? ValidUntil { get; init; }

    public bool AcquireByHash { get; init; } = true;

    /// <summary>Publish InRelease; when false only Release + Release.gpg exist, as on old archives.</summary>
    public bool InRelease { get; init; } = true;

    /// <summary>Compressed index formats to publish besides the uncompressed one: "xz", "gz".</summary>
    public IReadOnlyList<string> Compressions { get; init; } = ["xz", "gz"];

    /// <summary>Keep the uncompressed Packages file on disk (its hash is listed in Release either way, as Debian does).</summary>
    public bool PublishUncompressed { get; init; }
}

/// <summary>
/// A Debian archive in a temporary directory, made the way Debian makes one: .debs by dpkg-deb,
/// indexes compressed by xz and gzip, Release with SHA256 sums and by-hash copies, InRelease and
/// Release.gpg signed by gpg. Tests point a repository at <see cref="Root"/> as the mirror.
/// </summary>
public sealed class LocalDebianRepo : IDisposable
{
    /// <summary>Hash and size of each unpublished uncompressed index, which Release lists anyway.</summary>
    private readonly Dictionary<string, (string Sha256, long Size)> _unpublished = [];

    /// <summary>Set when the repository made its own GnuPG home and must remove it.</summary>
    private TestGnupg? _ownGpg;

    private LocalDebianRepo(string root, TestGnupg gpg, IReadOnlyList<TestPackage> packages, LocalRepoOptions options, TestKey[] signers)
    {
        Root = root;
        Gpg = gpg;
        Packages = packages;
        Options = options;
        Signers = signers;
        KeyringPath = gpg.ExportKeyring(Path.Combine(gpg.Home, $"{Path.GetFileName(root)}.gpg"), armor: false, signers);
    }

    /// <summary>The mirror root: holds dists/ and pool/.</summary>
    public string Root { get; }

    public TestGnupg Gpg { get; }

    public IReadOnlyList<TestPackage> Packages { get; }

    public LocalRepoOptions Options { get; }

    public TestKey[] Signers { get; }

    /// <summary>A binary keyring holding the public keys of all <see cref="Signers"/>.</summary>
    public string KeyringPath { get; }

    /// <summary>dists/CODENAME; dists/SUITE links to it, as on Debian's mirrors.</summary>
    public string SuiteDir => Path.Combine(Root, "dists", Options.Codename);

    /// <summary>Builds the archive, signed by <paramref name="signers"/> (at least one).</summary>
    public static LocalDebianRepo Create(TestGnupg gpg, IEnumerable<TestPackage> packages, LocalRepoOptions? options = null, params TestKey[] signers)
    {
        if (signers.Length == 0)
        {
            throw new ArgumentException("a repository needs at least one signing key", nameof(signers));
        }
        var root = Directory.CreateTempSubdirectory("eig-repo-").FullName;
        var repo = new LocalDebianRepo(root, gpg, packages.ToList(), options ?? new LocalRepoOptions(), signers);
        var paragraphs = repo.Packages.Select(repo.BuildDeb).ToList();
        repo.WriteIndexes(paragraphs);
        repo.Publish();
        if (repo.Options.Suite != repo.Options.Codename)
        {
            Directory.CreateSymbolicLink(Path.Combine(root, "dists", repo.Options.Suite), repo.Options.Codename);
        }
        return repo;
    }

    /// <summary>
    /// The simple case for tests that just need packages to install: a repository signed by a fresh
    /// key of its own, removed together with the repository.
    /// </summary>
    public static LocalDebianRepo Create(IEnumerable<TestPackage> packages, LocalRepoOptions? options = null)
    {
        var gpg = new TestGnupg();
        try
        {
            var repo = Create(gpg, packages, options, gpg.NewKey());
            repo._ownGpg = gpg;
            return repo;
        }
        catch
        {
            gpg.Dispose();
            throw;
        }
    }

    /// <summary>What to pass to DebianRepository.OpenAsync to read this archive.</summary>
    public DebianSuiteRequest Request(string architecture) => new()
    {
        Mirror = Root,
        Suite = Options.Codename,
        Components = Options.Components,
        Architecture = architecture,
        KeyringPath = KeyringPath,
    };

    public string PathOf(string relative) => Path.Combine(Root, relative);

    public string DebPath(string name, string? architecture = null) =>
        PathOf(Packages.Single(p => p.Name == name && (architecture is null || p.Architecture == architecture)).PoolPath);

    /// <summary>Rewrites Release from the index files now on disk and signs it again, e.g. after a test changed an index.</summary>
    public void Publish()
    {
        var release = Path.Combine(SuiteDir, "Release");
        File.WriteAllText(release, ReleaseText());
        foreach (var signed in new[] { "InRelease", "Release.gpg" })
        {
            File.Delete(Path.Combine(SuiteDir, signed));
        }
        if (Options.InRelease)
        {
            Gpg.ClearSign(release, Path.Combine(SuiteDir, "InRelease"), Signers);
        }
        Gpg.DetachSign(release, Path.Combine(SuiteDir, "Release.gpg"), Signers);
    }

    public void Dispose()
    {
        Directory.Delete(Root, recursive: true);
        _ownGpg?.Dispose();
    }

    private string BuildDeb(TestPackage package)
    {
        var staging = Directory.CreateTempSubdirectory("eig-deb-").FullName;
        try
        {
            var debian = Directory.CreateDirectory(Path.Combine(staging, "DEBIAN")).FullName;
            File.WriteAllText(Path.Combine(debian, "control"), ControlText(package));
            foreach (var (name, content) in package.ControlFiles)
            {
                var path = Path.Combine(debian, name);
                File.WriteAllText(path, content);
                if (!OperatingSystem.IsWindows() && content.StartsWith("#!", StringComparison.Ordinal))
                {
                    File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
                }
            }
            foreach (var (path, content) in package.Files)
            {
                var full = Path.Combine(staging, path.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full, content);
            }
            foreach (var (path, target) in package.Symlinks)
            {
                var full = Path.Combine(staging, path.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.CreateSymbolicLink(full, target);
            }
            var deb = PathOf(package.PoolPath);
            Directory.CreateDirectory(Path.GetDirectoryName(deb)!);
            TestTool.Run("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", staging, deb],
                new Dictionary<string, string> { ["SOURCE_DATE_EPOCH"] = "1700000000" });

            // The index paragraph is dpkg-deb's reading of the .deb (with Installed-Size), plus where it is and its sums.
            var control = TestTool.Run("dpkg-deb", ["--field", deb]).TrimEnd('\n');
            var bytes = File.ReadAllBytes(deb);
            return $"{control}\nFilename: {package.PoolPath}\nSize: {bytes.Length}\nSHA256: {Convert.ToHexStringLower(SHA256.HashData(bytes))}\n";
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private static string ControlText(TestPackage p)
    {
        var fields = new List<KeyValuePair<string, string?>>
        {
            new("Package", p.Name),
            new("Version", p.Version),
            new("Architecture", p.Architecture),
            new("Maintainer", "EdgeImage tests <tests@edgeimage.invalid>"),
            new("Essential", p.Essential ? "yes" : null),
            new("Priority", p.Priority),
            new("Multi-Arch", p.MultiArch),
            new("Pre-Depends", p.PreDepends),
            new("Depends", p.Depends),
            new("Provides", p.Provides),
        };
        fields.AddRange(p.ExtraFields.Select(f => new KeyValuePair<string, string?>(f.Key, f.Value)));
        fields.Add(new("Description", $"{p.Name} for EdgeImage tests"));
        var text = new StringBuilder();
        foreach (var (name, value) in fields.Where(f => f.Value is not null))
        {
            text.Append(name).Append(": ").Append(value).Append('\n');
        }
        return text.ToString();
    }

    private void WriteIndexes(List<string> paragraphs)
    {
        foreach (var component in Options.Components)
        {
            foreach (var arch in Options.Architectures)
            {
                var dir = Directory.CreateDirectory(Path.Combine(SuiteDir, component, $"binary-{arch}")).FullName;
                var text = string.Join("\n", Packages
                    .Select((p, i) => (p, i))
                    .Where(x => x.p.Component == component && (x.p.Architecture == arch || x.p.Architecture == "all"))
                    .Select(x => paragraphs[x.i]));
                var plain = Path.Combine(dir, "Packages");
                File.WriteAllText(plain, text);
                if (Options.Compressions.Contains("xz"))
                {
                    TestTool.Run("xz", ["--keep", "--force", plain]);
                }
                if (Options.Compressions.Contains("gz"))
                {
                    TestTool.Run("gzip", ["--no-name", "--keep", "--force", plain]);
                }
                if (!Options.PublishUncompressed)
                {
                    // Like Debian: the uncompressed index is listed (and signed) but not served.
                    var bytes = File.ReadAllBytes(plain);
                    _unpublished[plain] = (Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length);
                    File.Delete(plain);
                }
            }
        }
    }

    private string ReleaseText()
    {
        var text = new StringBuilder()
            .Append("Origin: EdgeImage tests\n")
            .Append("Label: EdgeImage tests\n")
            .Append(CultureInfo.InvariantCulture, $"Suite: {Options.Suite}\n")
            .Append(CultureInfo.InvariantCulture, $"Codename: {Options.Codename}\n")
            .Append(CultureInfo.InvariantCulture, $"Date: {Rfc2822(Options.Date)}\n");
        if (Options.ValidUntil is { } validUntil)
        {
            text.Append(CultureInfo.InvariantCulture, $"Valid-Until: {Rfc2822(validUntil)}\n");
        }
        if (Options.AcquireByHash)
        {
            text.Append("Acquire-By-Hash: yes\n");
        }
        text.Append(CultureInfo.InvariantCulture, $"Architectures: {string.Join(' ', Options.Architectures)}\n")
            .Append(CultureInfo.InvariantCulture, $"Components: {string.Join(' ', Options.Components)}\n")
            .Append("Description: a local archive for EdgeImage tests\n")
            .Append("SHA256:\n");
        foreach (var component in Options.Components)
        {
            foreach (var arch in Options.Architectures)
            {
                var dir = Path.Combine(SuiteDir, component, $"binary-{arch}");
                foreach (var name in new[] { "Packages", "Packages.gz", "Packages.xz" })
                {
                    var path = Path.Combine(dir, name);
                    if (_unpublished.TryGetValue(path, out var listed))
                    {
                        text.Append(CultureInfo.InvariantCulture, $" {listed.Sha256} {listed.Size,16} {component}/binary-{arch}/{name}\n");
                        continue;
                    }
                    if (!File.Exists(path))
                    {
                        continue;
                    }
                    var bytes = File.ReadAllBytes(path);
                    var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
                    text.Append(CultureInfo.InvariantCulture, $" {hash} {bytes.Length,16} {component}/binary-{arch}/{name}\n");
                    if (Options.AcquireByHash)
                    {
                        Directory.CreateDirectory(Path.Combine(dir, "by-hash", "SHA256"));
                        File.Copy(path, Path.Combine(dir, "by-hash", "SHA256", hash), overwrite: true);
                    }
                }
            }
        }
        return text.ToString();
    }

    private static string Rfc2822(DateTimeOffset time) =>
        time.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
