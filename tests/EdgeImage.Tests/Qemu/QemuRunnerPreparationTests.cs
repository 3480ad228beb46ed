using System.Runtime.Versioning;
using EdgeImage.Qemu;

namespace EdgeImage.Tests.Qemu;

[SupportedOSPlatform("linux")]
public class QemuRunnerPreparationTests
{
    private static readonly QemuMachine X86 = QemuMachineCatalog.LoadBuiltIn().Get("generic-efi-x86_64");

    [Fact]
    public void Firmware_vars_are_copied_to_a_private_writable_file_that_is_deleted_after_the_run()
    {
        using var dir = new TempDirectory();
        var code = dir.Write("CODE.fd", "code");
        var template = dir.Write("VARS.fd", "pristine variable store");
        File.SetUnixFileMode(template, UnixFileMode.UserRead);
        var machine = X86 with { Firmware = X86.Firmware! with { Code = code, Vars = template } };

        string copy;
        using (var run = QemuRunner.Prepare(machine, new QemuRunRequest { ImagePath = "a.img" }, QemuAccelerator.Tcg))
        {
            copy = run.Arguments.Single(a => a.StartsWith("if=pflash,format=raw,unit=1,file=", StringComparison.Ordinal))["if=pflash,format=raw,unit=1,file=".Length..];
            Assert.NotEqual(template, copy);
            Assert.StartsWith(Path.GetTempPath(), copy);
            Assert.Equal("pristine variable store", File.ReadAllText(copy));
            Assert.True(File.GetUnixFileMode(copy).HasFlag(UnixFileMode.UserWrite));
            Assert.Contains($"if=pflash,format=raw,unit=0,readonly=on,file={code}", run.Arguments);
        }

        Assert.False(File.Exists(copy));
        Assert.False(Directory.Exists(Path.GetDirectoryName(copy)));
        Assert.Equal("pristine variable store", File.ReadAllText(template));
    }

    [Fact]
    public void Each_run_gets_its_own_vars_copy()
    {
        using var dir = new TempDirectory();
        var machine = X86 with { Firmware = X86.Firmware! with { Code = dir.Write("CODE.fd", "c"), Vars = dir.Write("VARS.fd", "v") } };
        var request = new QemuRunRequest { ImagePath = "a.img" };

        using var first = QemuRunner.Prepare(machine, request, QemuAccelerator.Tcg);
        using var second = QemuRunner.Prepare(machine, request, QemuAccelerator.Tcg);

        Assert.NotEqual(first.TempDirectory, second.TempDirectory);
    }

    [Fact]
    public void Missing_firmware_names_the_Debian_package()
    {
        var machine = X86 with { Firmware = X86.Firmware! with { Code = "/nonexistent/OVMF_CODE_4M.fd" } };

        var e = Assert.Throws<EdgeImageException>(() => QemuRunner.Prepare(machine, new QemuRunRequest { ImagePath = "a.img" }, QemuAccelerator.Tcg));

        Assert.Equal(ExitCodes.MissingTool, e.ExitCode);
        Assert.Contains("/nonexistent/OVMF_CODE_4M.fd", e.Message);
        Assert.Equal("install the Debian package: apt-get install ovmf", e.Hint);
    }

    [Fact]
    public void An_SD_card_image_whose_size_is_not_a_power_of_two_is_refused_with_the_size_to_grow_to()
    {
        using var dir = new TempDirectory();
        var image = dir.Write("sd.img", new string('x', 3000));
        var pi = QemuMachineCatalog.LoadBuiltIn().Get("rpi-armv7");

        var e = Assert.Throws<EdgeImageException>(() => QemuRunner.CheckInputs(pi, new QemuRunRequest { ImagePath = image, Kernel = image, Dtb = image }));

        Assert.Contains("power of two", e.Message);
        Assert.Contains("truncate -s 4096", e.Hint);
    }

    [Fact]
    public void An_SD_card_image_of_a_power_of_two_size_is_accepted()
    {
        using var dir = new TempDirectory();
        var image = dir.Write("sd.img", new string('x', 4096));
        var pi = QemuMachineCatalog.LoadBuiltIn().Get("rpi-armv7");

        QemuRunner.CheckInputs(pi, new QemuRunRequest { ImagePath = image, Kernel = image, Dtb = image });
    }

    [Fact]
    public void A_missing_kernel_file_is_named()
    {
        var e = Assert.Throws<EdgeImageException>(() => QemuRunner.CheckInputs(X86, new QemuRunRequest { Kernel = "/nonexistent/vmlinuz" }));

        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
        Assert.Contains("kernel /nonexistent/vmlinuz", e.Message);
    }

    [Fact]
    public void A_missing_further_disk_is_named_before_QEMU_starts()
    {
        var image = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<EdgeImageException>(() => QemuRunner.CheckInputs(X86, new QemuRunRequest { ImagePath = image, ExtraDisks = ["/nonexistent/internal.img"] }));

            Assert.Equal(ExitCodes.NotFound, e.ExitCode);
            Assert.Equal("disk /nonexistent/internal.img does not exist", e.Message);
        }
        finally
        {
            File.Delete(image);
        }
    }
}
