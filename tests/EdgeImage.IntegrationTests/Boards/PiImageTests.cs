using EdgeImage.Boot;
using EdgeImage.Elf;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>The Raspberry Pi images as files: layout against golden files, and binaries of the right architecture.</summary>
[Trait("Category", "image")]
// Run by `make test-boards`, not by `make test`: these builds and boots are not yet proven to fit CI.
[Trait("Suite", "boards")]
public sealed class PiImageTests
{
    private static string Golden(string name) => File.ReadAllText(Path.Combine(Cli.RepositoryRoot, "tests", "EdgeImage.IntegrationTests", "Boards", "golden", name));

    [Theory]
    [InlineData("rpi-armv7")]
    [InlineData("rpi4-aarch64")]
    public async Task Partition_table_is_the_golden_mbr_layout(string profile)
    {
        var image = await BoardImages.GetAsync(profile);

        // The disk signature depends on SOURCE_DATE_EPOCH, so it is left out; sfdisk names partitions after the file.
        var dump = TrixieDebs.Run("sfdisk", "--dump", image.ImagePath).Split('\n')
            .Where(l => l.StartsWith("label:", StringComparison.Ordinal) || l.StartsWith("unit:", StringComparison.Ordinal)
                || l.StartsWith("sector-size:", StringComparison.Ordinal) || l.StartsWith(image.ImagePath, StringComparison.Ordinal))
            .Select(l => l.StartsWith(image.ImagePath, StringComparison.Ordinal) ? "disk" + l[image.ImagePath.Length..] : l);

        Assert.Equal(Golden($"{profile}.sfdisk.txt"), string.Join('\n', dump) + "\n");
    }

    [Theory]
    [InlineData("rpi-armv7")]
    [InlineData("rpi4-aarch64")]
    public async Task Boot_partition_holds_the_golden_file_list_config_txt_and_a_valid_boot_scr(string profile)
    {
        var image = await BoardImages.GetAsync(profile);
        var fat = image.ExtractPartition("boot", Path.Combine(BoardImages.Work(profile), "boot.fat"));

        var listing = TrixieDebs.Run("mdir", "-/", "-b", "-i", fat, "::").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        var config = TrixieDebs.Run("mtype", "-i", fat, "::config.txt");
        var scr = Path.Combine(BoardImages.Work(profile), "boot.scr");
        TrixieDebs.Run("mcopy", "-o", "-i", fat, "::boot.scr", scr);
        var cmd = TrixieDebs.Run("mtype", "-i", fat, "::boot.cmd");

        Assert.Equal(Golden($"{profile}.fat.txt"), string.Join('\n', listing) + "\n");
        Assert.Equal(Golden($"{profile}.config.txt"), config);
        Assert.Equal(cmd, UBootScript.Unwrap(File.ReadAllBytes(scr)));
        Assert.Contains($"PARTUUID={image.DiskId}-02", cmd, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rpi-armv7", ElfFile.MachineArm, false)]
    [InlineData("rpi4-aarch64", ElfFile.MachineAArch64, true)]
    [InlineData("generic-aarch64", ElfFile.MachineAArch64, true)]
    public async Task Every_elf_file_of_the_root_is_built_for_the_profile_architecture(string profile, ushort machine, bool is64Bit)
    {
        var image = await BoardImages.GetAsync(profile);

        var elves = image.RootFiles(BoardImages.Work(profile))
            .Select(f => (f.Path, Elf: ElfFile.TryRead(f.Content)))
            .Where(f => f.Elf is not null)
            .ToList();

        Assert.True(elves.Count > 100, $"only {elves.Count} ELF files in the root of {profile}");
        var foreign = elves.Where(f => f.Elf!.Machine != machine || f.Elf.Is64Bit != is64Bit).Select(f => $"{f.Path} (machine {f.Elf!.Machine}, 64-bit {f.Elf.Is64Bit})").ToList();
        Assert.True(foreign.Count == 0, $"{foreign.Count} ELF files of {profile} are for another architecture:\n{string.Join('\n', foreign.Take(20))}");
    }
}
