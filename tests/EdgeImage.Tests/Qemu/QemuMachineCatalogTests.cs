using EdgeImage.Qemu;

namespace EdgeImage.Tests.Qemu;

public class QemuMachineCatalogTests
{
    private static readonly QemuMachineCatalog Catalog = QemuMachineCatalog.LoadBuiltIn();

    [Fact]
    public void Built_in_catalog_holds_the_four_boards_sorted_by_name()
    {
        Assert.Equal(["generic-efi-aarch64", "generic-efi-x86_64", "rpi-armv7", "rpi4-aarch64"], Catalog.Machines.Select(m => m.Name));
    }

    [Fact]
    public void Built_in_catalog_is_the_qemu_directory_of_the_repository()
    {
        var fromFiles = QemuMachineCatalog.LoadDirectory(Path.Combine(RepositoryRoot(), "qemu"));

        Assert.Equal(fromFiles.Machines.Count, Catalog.Machines.Count);
        foreach (var (embedded, file) in Catalog.Machines.Zip(fromFiles.Machines))
        {
            Assert.Equal(Describe(file), Describe(embedded));
        }
    }

    [Fact]
    public void Uefi_boards_use_the_firmware_files_of_Debian_packages()
    {
        var x86 = Catalog.Get("generic-efi-x86_64").Firmware!;
        var arm64 = Catalog.Get("generic-efi-aarch64").Firmware!;

        Assert.Equal(("ovmf", "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"), (x86.Package, x86.Code, x86.Vars));
        Assert.Equal(("qemu-efi-aarch64", "/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd"), (arm64.Package, arm64.Code, arm64.Vars));
        Assert.Null(Catalog.Get("rpi-armv7").Firmware);
    }

    [Fact]
    public void An_unknown_key_is_an_error_naming_file_line_and_column()
    {
        var e = Assert.Throws<EdgeImageException>(() => QemuMachineCatalog.Parse("x", "description: d\nbinray: qemu-system-x86_64\n", "qemu/x.yaml"));

        Assert.Equal(ExitCodes.InvalidProfile, e.ExitCode);
        Assert.StartsWith("qemu/x.yaml:2:1: ", e.Message);
        Assert.Contains("unknown key 'binray'", e.Message);
        Assert.Contains("binary", e.Hint);
    }

    [Fact]
    public void Tcg_threads_defaults_to_one_thread_per_vCPU_and_only_rpi4_aarch64_runs_them_in_one()
    {
        var e = Assert.Throws<EdgeImageException>(() => QemuMachineCatalog.Parse("x",
            "description: d\narch: arm64\nbinary: b\nmachine: m\nconsole: c\ndisk: sd\ntcg_threads: two\n", "qemu/x.yaml"));

        Assert.Equal(["rpi4-aarch64"], Catalog.Machines.Where(m => m.TcgThreads == QemuTcgThreads.Single).Select(m => m.Name));
        Assert.Contains("tcg_threads 'two' is not one of: multi, single", e.Message);
    }

    [Fact]
    public void Missing_keys_and_bad_values_are_reported_together()
    {
        var e = Assert.Throws<EdgeImageException>(() => QemuMachineCatalog.Parse("x", "description: d\narch: i386\ndisk: ide\nmemory_mib: 0\n", "qemu/x.yaml"));

        Assert.Contains("arch 'i386' is not one of", e.Message);
        Assert.Contains("disk 'ide' is not one of: virtio-blk, sd", e.Message);
        Assert.Contains("memory_mib must be positive", e.Message);
        Assert.Contains("missing key 'binary'", e.Message);
        Assert.Contains("missing key 'machine'", e.Message);
        Assert.Contains("missing key 'console'", e.Message);
    }

    [Fact]
    public void An_unknown_key_inside_firmware_is_an_error_too()
    {
        var e = Assert.Throws<EdgeImageException>(() => QemuMachineCatalog.Parse("x", "firmware:\n  code: a\n  varz: b\n", "qemu/x.yaml"));

        Assert.StartsWith("qemu/x.yaml:3:3: unknown key 'varz'", e.Message);
    }

    [Fact]
    public void An_unknown_board_lists_the_known_ones()
    {
        var e = Assert.Throws<EdgeImageException>(() => Catalog.Get("pc-bios"));

        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
        Assert.Contains("generic-efi-x86_64, rpi-armv7", e.Hint);
    }

    [Fact]
    public void The_board_is_read_from_the_manifest_next_to_the_image()
    {
        using var dir = new TempDirectory();
        var image = dir.Write("edge.img", "");
        dir.Write("manifest.json", """{"profile": "rpi-armv7", "board": "rpi-armv7"}""");

        Assert.Equal("rpi-armv7", Catalog.ForImage(image, board: null).Name);
        Assert.Equal("generic-efi-x86_64", Catalog.ForImage(image, board: "generic-efi-x86_64").Name);
    }

    [Fact]
    public void A_manifest_naming_a_board_family_and_arch_picks_that_family_member()
    {
        using var dir = new TempDirectory();
        var image = dir.Write("edge.img", "");
        dir.Write("manifest.json", """{"board": "generic-efi", "arch": "arm64"}""");

        Assert.Equal("generic-efi-aarch64", Catalog.ForImage(image, board: null).Name);
    }

    [Fact]
    public void Without_manifest_or_board_the_user_is_told_to_pass_board()
    {
        using var dir = new TempDirectory();
        var image = dir.Write("edge.img", "");

        var e = Assert.Throws<EdgeImageException>(() => Catalog.ForImage(image, board: null));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.Contains("manifest.json", e.Message);
        Assert.Contains("--board", e.Hint);
    }

    private static string Describe(QemuMachine m) =>
        $"{m.Name}|{m.Description}|{m.Arch}|{m.Binary}|{m.Machine}|{m.Cpu}|{m.MemoryMiB}|{m.Smp}|{m.TcgThreads}|{m.Console}|{m.Firmware}|{m.Disk}|{m.Nic}|{string.Join(' ', m.Requires)}|{string.Join(' ', m.ExtraArgs)}";

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeImage.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("EdgeImage.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A scratch directory removed when the test ends.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("edgeimage-test-").FullName;

    public string Write(string name, string content)
    {
        var path = System.IO.Path.Combine(Path, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
