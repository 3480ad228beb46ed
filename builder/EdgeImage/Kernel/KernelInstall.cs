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

        var pruned = ModulePruning.Apply(tree, modulesDir, excludeModules ?? [], keepModules ?? [], includeModules);
        if (pruned.Files > 0)
        {
            context.Log.Info($"kernel.include_modules/exclude_modules: removed {pruned.Files} modules ({pruned.Bytes >> 20} MiB)" +
                             (pruned.Protected.Count > 0 ? $", kept {pruned.Protected.Count} needed ones: {string.Join(" ", pruned.Protected)}" : ""));
        }

        tools.Require("depmod");
        var scratch = Path.Combine(context.WorkDir, "depmod");
        var copyRoot = Path.Combine(scratch, "lib", "modules", version);
        try
        {
            foreach (var entry in tree.Sorted().Where(e => e.Path.StartsWith(modulesDir + "/", StringComparison.Ordinal) && e.Kind == RootfsEntryKind.File))
            {
                var target = Path.Combine(copyRoot, entry.Path[(modulesDir.Length + 1)..]);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var source = tree.OpenRead(entry);
                using var file = File.Create(target);
                source.CopyTo(file);
            }
            await tools.RunAsync("depmod", ["-b", scratch, version], ct: context.Cancellation);
            foreach (var index in Directory.GetFiles(copyRoot, "modules.*").Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(index);
                if (tree[$"{modulesDir}/{name}"] is null)
                {
                    tree.WriteFile($"{modulesDir}/{name}", File.ReadAllBytes(index), context.SourceDateEpoch);
                }
            }
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
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
