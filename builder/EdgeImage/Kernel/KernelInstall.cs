using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using EdgeImage.Compression;
using EdgeImage.Rootfs;
using EdgeImage.Tools;

namespace EdgeImage.Kernel;

/// <summary>The kernel found in a composed rootfs: its version, image and module tree.</summary>
public sealed record KernelInstall
{
    public required string Version { get; init; }

    /// <summary>Path of vmlinuz inside the tree.</summary>
    public required string ImagePath { get; init; }

    /// <summary>/usr/lib/modules/VERSION inside the tree.</summary>
    public required string ModulesDirectory { get; init; }

    /// <summary>Module name (dashes as underscores) -> path relative to ModulesDirectory, from modules.dep.</summary>
    public required IReadOnlyDictionary<string, string> Modules { get; init; }

    /// <summary>Relative module path -> relative paths of the modules it depends on.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> Dependencies { get; init; }

    /// <summary>Module name -> modules to load before it (modules.softdep "pre:").</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> SoftPre { get; init; }

    public static string ModuleName(string relativePath)
    {
        var file = Path.GetFileName(relativePath);
        var dot = file.IndexOf(".ko", StringComparison.Ordinal);
        return (dot < 0 ? file : file[..dot]).Replace('-', '_');
    }

    /// <summary>
    /// Modules to load, dependencies first, each once: the closure of the requested modules over
    /// modules.dep and the softdep "pre:" entries (ext4 needs crc32c but only says so as a softdep).
    /// Modules built into the kernel are not in modules.dep and are skipped silently.
    /// </summary>
    public IReadOnlyList<string> LoadOrder(IEnumerable<string> requested, string origin)
    {
        var order = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Visit(string relative)
        {
            if (!seen.Add(relative))
            {
                return;
            }
            foreach (var pre in SoftPre.GetValueOrDefault(ModuleName(relative), []))
            {
                if (Modules.TryGetValue(pre.Replace('-', '_'), out var prePath))
                {
                    Visit(prePath);
                }
            }
            foreach (var dependency in Dependencies.GetValueOrDefault(relative, []))
            {
                Visit(dependency);
            }
            order.Add(relative);
        }
        foreach (var name in requested)
        {
            if (Modules.TryGetValue(name.Replace('-', '_'), out var relative))
            {
                Visit(relative);
            }
            else if (!Builtin.Contains(name.Replace('-', '_')))
            {
                throw new EdgeImageException(
                    $"kernel module '{name}' is neither a module nor built into kernel {Version}",
                    $"check the module names in `kernel.modules` of {origin}; `modinfo NAME` on a machine with this kernel tells the right name");
            }
        }
        return order;
    }

    /// <summary>Names of modules compiled into the kernel (modules.builtin).</summary>
    public required IReadOnlySet<string> Builtin { get; init; }

    /// <summary>
    /// Finds the one kernel in the tree and generates its module indexes. Debian's kernel package
    /// leaves modules.dep and friends to its postinst (depmod), which a root-free build never runs,
    /// so the builder runs the host's depmod on a copy of the module tree and adds the indexes it
    /// writes: the booted system's modprobe and udev need them to load drivers. Modules matching
    /// <paramref name="excludeModules"/> are removed first, except <paramref name="keepModules"/> and
    /// what they depend on, so the indexes describe exactly the modules that ship.
    /// </summary>
    public static async Task<KernelInstall> PrepareAsync(RootfsTree tree, HostTools tools, BuildContext context, string origin,
        IReadOnlyList<string>? excludeModules = null, IEnumerable<string>? keepModules = null, IReadOnlyList<string>? includeModules = null)
    {
        var versions = tree.Children("/usr/lib/modules").Where(e => e.Kind == RootfsEntryKind.Directory).Select(e => Path.GetFileName(e.Path)).ToList();
        if (versions.Count != 1)
        {
            throw new EdgeImageException(
                versions.Count == 0 ? "the rootfs contains no kernel (/usr/lib/modules is empty)" : $"the rootfs contains {versions.Count} kernels: {string.Join(", ", versions)}",
                $"set exactly one kernel package in `kernel.package` of {origin} (for example linux-image-amd64)");
        }
        var version = versions[0];
        var modulesDir = $"/usr/lib/modules/{version}";
        var image = tree[$"/boot/vmlinuz-{version}"] ?? throw new EdgeImageException(
            $"kernel {version} has modules but no /boot/vmlinuz-{version}", $"the kernel package in {origin} is incomplete; pick a linux-image-* package");

        var pruned = ModulePruning.Apply(tree, modulesDir, excludeModules ?? [], keepModules ?? [], includeModules, new DerivedCache(context.CacheDir, "modinfo", ".deps"));
        if (pruned.Files > 0)
        {
            context.Log.Info($"kernel.include_modules/exclude_modules: removed {pruned.Files} modules ({pruned.Bytes >> 20} MiB)" +
                             (pruned.Protected.Count > 0 ? $", kept {pruned.Protected.Count} needed ones: {string.Join(" ", pruned.Protected)}" : ""));
        }

        tools.Require("depmod");
        var moduleFiles = tree.Sorted().Where(e => e.Path.StartsWith(modulesDir + "/", StringComparison.Ordinal) && e.Kind == RootfsEntryKind.File).ToList();
        var indexes = await DepmodAsync(tree, moduleFiles, modulesDir, version, tools, context);
        foreach (var (name, content) in indexes)
        {
            if (tree[$"{modulesDir}/{name}"] is null)
            {
                tree.WriteFile($"{modulesDir}/{name}", content, context.SourceDateEpoch);
            }
        }

        var dependencies = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var modules = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in (tree.ReadText($"{modulesDir}/modules.dep") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':');
            var module = line[..colon];
            dependencies[module] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            modules[ModuleName(module)] = module;
        }
        var softPre = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var line in (tree.ReadText($"{modulesDir}/modules.softdep") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "softdep ext4 pre: crc32c post: ..."
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 3 || words[0] != "softdep")
            {
                continue;
            }
            var pre = new List<string>();
            var inPre = false;
            foreach (var word in words.Skip(2))
            {
                if (word.EndsWith(':'))
                {
                    inPre = word == "pre:";
                }
                else if (inPre)
                {
                    pre.Add(word);
                }
            }
            softPre[words[1].Replace('-', '_')] = pre;
        }
        var builtin = (tree.ReadText($"{modulesDir}/modules.builtin") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(ModuleName).ToHashSet(StringComparer.Ordinal);
        return new KernelInstall
        {
            Version = version,
            ImagePath = image.Path,
            ModulesDirectory = modulesDir,
            Modules = modules,
            Dependencies = dependencies,
            SoftPre = softPre,
            Builtin = builtin,
        };
    }

    /// <summary>
    /// The module indexes (modules.dep, modules.alias, ...) the host's depmod writes for exactly
    /// these module files, kept in the derived cache by a hash of depmod's version and every file it
    /// reads: depmod has to decompress each .ko.xz to read its symbols, about a second for a
    /// pruned x86 kernel, for an answer that only changes when the modules do.
    /// </summary>
    private static async Task<IReadOnlyList<(string Name, byte[] Content)>> DepmodAsync(RootfsTree tree, IReadOnlyList<RootfsEntry> modules,
        string modulesDir, string version, HostTools tools, BuildContext context)
    {
        var cache = new DerivedCache(context.CacheDir, "depmod");
        var key = new StringBuilder().Append("depmod 1\n").Append(await tools.RunAsync("depmod", ["--version"], ct: context.Cancellation)).Append('\n').Append(version).Append('\n');
        foreach (var entry in modules)
        {
            using var content = tree.OpenRead(entry);
            key.Append(entry.Path[(modulesDir.Length + 1)..]).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(content))).Append('\n');
        }
        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString())));
        if (cache.TryOpen(digest) is { } cached)
        {
            using (cached)
            {
                return ReadIndexes(cached);
            }
        }

        var scratch = Path.Combine(context.WorkDir, "depmod");
        var copyRoot = Path.Combine(scratch, "lib", "modules", version);
        try
        {
            foreach (var entry in modules)
            {
                var target = Path.Combine(copyRoot, entry.Path[(modulesDir.Length + 1)..]);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var source = tree.OpenRead(entry);
                using var file = File.Create(target);
                source.CopyTo(file);
            }
            await tools.RunAsync("depmod", ["-b", scratch, version], ct: context.Cancellation);
            var indexes = Directory.GetFiles(copyRoot, "modules.*").Order(StringComparer.Ordinal)
                .Select(path => (Path.GetFileName(path), File.ReadAllBytes(path))).ToList();
            using var tar = new MemoryStream();
            using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
            {
                foreach (var (name, content) in indexes)
                {
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
                }
            }
            cache.Store(digest, tar.ToArray());
            return indexes;
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    private static List<(string Name, byte[] Content)> ReadIndexes(Stream tar)
    {
        var indexes = new List<(string, byte[])>();
        using var reader = new TarReader(tar, leaveOpen: true);
        while (reader.GetNextEntry() is { } entry)
        {
            var content = new byte[entry.Length];
            entry.DataStream?.ReadExactly(content);
            indexes.Add((entry.Name, content));
        }
        return indexes;
    }

    /// <summary>The module's bytes, decompressed: busybox insmod in the initramfs cannot read .ko.xz.</summary>
    public static byte[] ReadModule(RootfsTree tree, string path)
    {
        var entry = tree[path] ?? throw new EdgeImageException($"kernel module {path} is missing from the rootfs", "the kernel package is incomplete");
        using var raw = tree.OpenRead(entry);
        using var buffer = new MemoryStream();
        if (path.EndsWith(".xz", StringComparison.Ordinal))
        {
            using var xz = Xz.Decompress(raw);
            xz.CopyTo(buffer);
        }
        else if (path.EndsWith(".zst", StringComparison.Ordinal))
        {
            using var zstd = new ZstdSharp.DecompressionStream(raw);
            zstd.CopyTo(buffer);
        }
        else
        {
            raw.CopyTo(buffer);
        }
        return buffer.ToArray();
    }
}
