using System.Reflection;
using EdgeImage.Elf;
using EdgeImage.Kernel;
using EdgeImage.Rootfs;

namespace EdgeImage.Initramfs;

public sealed record InitramfsInput
{
    public required RootfsTree Tree { get; init; }

    public required KernelInstall Kernel { get; init; }

    /// <summary>Modules the board needs to reach its root device; skipped when this kernel has them built in or lacks them.</summary>
    public IReadOnlyList<string> BoardModules { get; init; } = [];

    /// <summary>Modules the profile asks for; each must exist.</summary>
    public IReadOnlyList<string> ProfileModules { get; init; } = [];

    /// <summary>Where ProfileModules came from, for error messages.</summary>
    public required string Origin { get; init; }

    public bool Debug { get; init; }

    /// <summary>
    /// Load the board's modules only for devices that are there (by modalias, see
    /// <see cref="ModaliasTable"/>) rather than all of them; modules without an alias still load always.
    /// </summary>
    public bool BoardModulesByModalias { get; init; }

    /// <summary>Where compressed initramfs images are kept between builds; see <see cref="InitramfsArchiveOptions.CompressedCache"/>.</summary>
    public DerivedCache? CompressedCache { get; init; }
}

public sealed record InitramfsResult
{
    public required int Entries { get; init; }

    public required long UncompressedSize { get; init; }

    public required IReadOnlyList<string> Modules { get; init; }
}

/// <summary>
/// Builds the initramfs from the composed rootfs itself, so its busybox, tools, libraries and
/// modules are exactly the image's own versions and architecture: static busybox and the init
/// script, the kernel modules needed to mount the root and data partitions (dependency closure,
/// decompressed), and the e2fsprogs/sfdisk programs that prepare the data partition, with their
/// shared-library closure read from ELF headers.
/// </summary>
public static class InitramfsBuilder
{
    /// <summary>What init itself needs whatever the board: the root, the /etc and /var overlays and the data file system.</summary>
    public static readonly IReadOnlyList<string> CoreModules = ["squashfs", "overlay", "ext4", "crc32c_generic"];

    /// <summary>
    /// The boot partition's file system: FAT with the code page and character set Debian's kernel
    /// mounts it with by default (437, ascii). The first-boot service mounts it to read the seed, and
    /// boot counting renames loader entries on it. init loads them from the initramfs, already
    /// decompressed, with busybox insmod; otherwise the first mount on the real root has the kernel
    /// run modprobe three times, each decompressing a .ko.xz, on the way to the device's first join.
    /// Kept in the image whatever a profile's include_modules say (the boot partition must mount); a
    /// kernel that has them built in, or not at all, simply goes without.
    /// </summary>
    public static readonly IReadOnlyList<string> BootPartitionModules = ["vfat", "nls_cp437", "nls_ascii"];

    /// <summary>Programs from the image that init calls by full path under /usr/lib/edgeimage/bin.</summary>
    public static readonly IReadOnlyList<string> Programs =
        ["/usr/sbin/mke2fs", "/usr/sbin/e2fsck", "/usr/sbin/resize2fs", "/usr/sbin/sfdisk", "/usr/sbin/blkid"];

    private const string ToolsDirectory = "/usr/lib/edgeimage/bin";

    public static InitramfsResult Write(InitramfsInput input, Stream output, long sourceDateEpoch)
    {
        var tree = input.Tree;
        var entries = new List<CpioEntry>
        {
            CpioEntry.Directory("/dev"), CpioEntry.Directory("/proc"), CpioEntry.Directory("/sys"),
            CpioEntry.Directory("/newroot"), CpioEntry.Directory("/bin"), CpioEntry.Directory("/sbin"),
            // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
            CpioEntry.CharDevice("/dev/console", 5, 1),
            CpioEntry.CharDevice("/dev/null", 1, 3, 0b110_110_110),
            CpioEntry.File("/init", ReadInitScript(), 0b111_101_101),
        };

        var busybox = ReadFile(tree, "/usr/bin/busybox", "busybox-static");
        if (ElfFile.TryRead(busybox) is not { Interpreter: null })
        {
            throw new EdgeImageException(
                "the rootfs's /usr/bin/busybox is dynamically linked; the initramfs needs a static one",
                "use the busybox-static package instead of busybox in the profile's packages");
        }
        entries.Add(CpioEntry.File("/bin/busybox", busybox, 0b111_101_101));
        if (input.Debug)
        {
            entries.Add(CpioEntry.File("/etc/edgeimage-debug", "debug: true in the profile: init failures drop to a shell\n"u8.ToArray()));
        }

        var board = input.BoardModules.Where(m => input.Kernel.Modules.ContainsKey(m.Replace('-', '_'))).ToList();
        var bootFs = BootPartitionModules.Where(m => input.Kernel.Modules.ContainsKey(m)).ToList();
        var order = input.Kernel.LoadOrder(CoreModules.Concat(bootFs).Concat(board).Concat(input.ProfileModules), input.Origin);
        foreach (var relative in order)
        {
            // Stored under the module's own name (dashes as underscores), which is also its
            // /sys/module directory: init tells a loaded module from one still to load by that.
            entries.Add(CpioEntry.File($"/lib/modules/{KernelInstall.ModuleName(relative)}.ko", KernelInstall.ReadModule(tree, $"{input.Kernel.ModulesDirectory}/{relative}")));
        }
        entries.Add(CpioEntry.File("/etc/initrd-modules", ModuleList(order)));

        var always = order;
        if (input.BoardModulesByModalias)
        {
            var aliases = tree.ReadText($"{input.Kernel.ModulesDirectory}/modules.alias") ?? "";
            var table = ModaliasTable.Generate(input.Kernel, aliases, board, input.Origin);
            always = input.Kernel.LoadOrder(CoreModules.Concat(bootFs).Concat(board.Where(m => !table.Drivers.Contains(m.Replace('-', '_')))).Concat(input.ProfileModules), input.Origin);
            entries.Add(CpioEntry.File("/etc/initrd-modalias", System.Text.Encoding.UTF8.GetBytes(table.Script)));
        }
        entries.Add(CpioEntry.File("/etc/initrd-modules-always", ModuleList(always)));

        var libraries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var program in Programs)
        {
            var bytes = ReadFile(tree, program, program.EndsWith("sfdisk", StringComparison.Ordinal) ? "fdisk" : "e2fsprogs");
            entries.Add(CpioEntry.File($"{ToolsDirectory}/{Path.GetFileName(program)}", bytes, 0b111_101_101));
            CollectLibraries(tree, bytes, program, libraries);
        }
        foreach (var (loaderPath, treePath) in libraries)
        {
            entries.Add(CpioEntry.File(loaderPath, ReadFile(tree, treePath, "libc6"), 0b111_101_101));
        }

        var result = InitramfsArchive.Write(output, entries, new InitramfsArchiveOptions
        {
            SourceDateEpoch = sourceDateEpoch,
            Compression = InitramfsCompression.Zstd,
            CompressedCache = input.CompressedCache,
        });
        return new InitramfsResult
        {
            Entries = result.EntryCount,
            UncompressedSize = result.UncompressedSize,
            Modules = order.Select(KernelInstall.ModuleName).ToList(),
        };
    }

    /// <summary>
    /// Adds the dynamic loader and every library a program needs, transitively. Libraries go to
    /// the multiarch directory under /usr/lib where the loader searches by default; the loader
    /// itself goes to the exact path the program names.
    /// </summary>
    private static void CollectLibraries(RootfsTree tree, byte[] program, string origin, SortedDictionary<string, string> libraries)
    {
        var elf = ElfFile.TryRead(program) ?? throw new EdgeImageException($"{origin} in the rootfs is not an ELF program", "the package providing it is broken");
        if (elf.Interpreter is { } interpreter)
        {
            libraries.TryAdd(interpreter, interpreter);
        }
        var directories = LibraryDirectories(elf);
        foreach (var soname in elf.Needed)
        {
            var found = directories.Select(d => $"{d}/{soname}").FirstOrDefault(tree.IsFile)
                ?? throw new EdgeImageException($"{origin} needs {soname}, which is not in the rootfs", "add the package that ships it to the profile's packages");
            var loaderPath = $"{directories[0]}/{soname}";
            if (libraries.TryAdd(loaderPath, found))
            {
                CollectLibraries(tree, ReadFile(tree, found, soname), found, libraries);
            }
        }
    }

    private static string[] LibraryDirectories(ElfFile elf)
    {
        var triplet = elf.DebianArchitecture switch
        {
            "amd64" => "x86_64-linux-gnu",
            "arm64" => "aarch64-linux-gnu",
            "armhf" => "arm-linux-gnueabihf",
            _ => throw new EdgeImageException($"unsupported ELF machine {elf.Machine}", "EdgeImage builds amd64, arm64 and armhf images"),
        };
        return [$"/usr/lib/{triplet}", $"/lib/{triplet}", "/usr/lib", "/lib"];
    }

    private static byte[] ModuleList(IEnumerable<string> relativePaths) =>
        System.Text.Encoding.UTF8.GetBytes(string.Concat(relativePaths.Select(r => KernelInstall.ModuleName(r) + "\n")));

    private static byte[] ReadFile(RootfsTree tree, string path, string package)
    {
        var resolved = tree.Resolve(path, followFinal: true, path);
        return tree[resolved] is { Kind: RootfsEntryKind.File } entry
            ? tree.ReadAllBytes(entry)
            : throw new EdgeImageException($"the initramfs needs {path}, which is not in the rootfs", $"add {package} to the profile's packages");
    }

    /// <summary>The init script as embedded in the library (the unit tests run its steps under busybox sh).</summary>
    internal static byte[] ReadInitScript()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("EdgeImage.Initramfs.init")
            ?? throw new InvalidOperationException("the init script is not embedded in the library");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
