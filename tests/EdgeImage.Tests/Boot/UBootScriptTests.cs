using EdgeImage.Boot;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Boot;

public sealed class UBootScriptTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-uboot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Script = "echo hello\nsetenv BOOT_ORDER \"A B\"\nsaveenv\n";

    [Fact]
    public void Boot_scr_is_byte_identical_to_what_mkimage_writes()
    {
        var source = Path.Combine(_dir, "boot.cmd");
        var expected = Path.Combine(_dir, "boot.scr");
        File.WriteAllText(source, Script);
        TestTool.Run("mkimage", ["-A", "arm", "-O", "linux", "-T", "script", "-C", "none", "-n", "edgeimage A/B boot", "-d", source, expected],
            new Dictionary<string, string> { ["SOURCE_DATE_EPOCH"] = "1700000000" });

        var written = UBootScript.Wrap(Script, "edgeimage A/B boot", "armhf", 1_700_000_000);

        Assert.Equal(File.ReadAllBytes(expected), written);
    }

    [Fact]
    public void Dumpimage_reads_back_an_arm64_script_and_its_text()
    {
        var image = Path.Combine(_dir, "boot.scr");
        File.WriteAllBytes(image, UBootScript.Wrap(Script, "slots", "arm64", 1_700_000_000));

        var listing = TestTool.Run("dumpimage", ["-l", image]);
        var extracted = Path.Combine(_dir, "boot.cmd");
        TestTool.Run("dumpimage", ["-T", "script", "-p", "0", "-o", extracted, image]);

        Assert.Contains("Image Name:   slots", listing, StringComparison.Ordinal);
        Assert.Contains("AArch64 Linux Script (uncompressed)", listing, StringComparison.Ordinal);
        Assert.EndsWith(Script, File.ReadAllText(extracted), StringComparison.Ordinal);
    }

    [Fact]
    public void Unwrap_refuses_a_script_whose_data_was_changed()
    {
        var image = UBootScript.Wrap(Script, "slots", "armhf", 1_700_000_000);
        Assert.Equal(Script, UBootScript.Unwrap(image));

        image[^2] ^= 0x20;

        Assert.Throws<InvalidDataException>(() => UBootScript.Unwrap(image));
    }
}
