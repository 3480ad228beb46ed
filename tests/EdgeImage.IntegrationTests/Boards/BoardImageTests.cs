using System.Text.RegularExpressions;
using EdgeImage.Boot;
using EdgeImage.Elf;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>
/// The board images as files: layout against golden files, and binaries of the right architecture.
/// The images are the boards' boot-check test profiles, which only add an overlay to the shipped
/// profile, so the layouts are the shipped profiles' (config.txt names the profile it was built for).
/// </summary>
[Trait("Category", "image")]
public sealed partial class BoardImageTests
{
    private static string Golden(string name) => File.ReadAllText(Path.Combine(Cli.RepositoryRoot, "tests", "EdgeImage.IntegrationTests", "Boards", "golden", name));

    [Theory]
    [InlineData("rpi-armv7")]
    [InlineData("rpi4-aarch64")]
    [InlineData("generic-aarch64")]
    public async Task Partition_table_is_the_golden_layout(string profile)
    {
        var image = await BoardImages.GetAsync(profile);

        // Disk and partition ids derive from SOURCE_DATE_EPOCH: they are checked against the
        // manifest, then masked. sfdisk names partitions after the file.
        var dump = TrixieDebs.Run("sfdisk", "--dump", image.ImagePath).Split('\n')
            .Where(l => l.StartsWith("label:", StringComparison.Ordinal) || l.StartsWith("unit:", StringComparison.Ordinal) || l.StartsWith("first-lba:", StringComparison.Ordinal)
                || l.StartsWith("last-lba:", StringComparison.Ordinal) || l.StartsWith("sector-size:", StringComparison.Ordinal) || l.StartsWith(image.ImagePath, StringComparison.Ordinal))
            .Select(l => l.StartsWith(image.ImagePath, StringComparison.Ordinal) ? "disk" + l[image.ImagePath.Length..] : l)
            .Select(l =>
            {
                var uuid = PartitionUuid().Match(l);
                if (!uuid.Success)
                {
                    return l;
                }
                var name = l.Split("name=\"")[1].Split('"')[0];
                Assert.Equal(image.Partition(name).GetProperty("uuid").GetString(), uuid.Groups[1].Value, ignoreCase: true);
                return l.Replace(uuid.Groups[1].Value, "<uuid of the manifest>", StringComparison.Ordinal);
            });

        Assert.Equal(Golden($"{profile}.sfdisk.txt"), string.Join('\n', dump) + "\n");
    }

    [Theory]
    [InlineData("rpi-armv7")]
    [InlineData("rpi4-aarch64")]
    public async Task Pi_boot_partition_holds_the_golden_file_list_config_txt_and_a_valid_boot_scr(string profile)
    {
        var image = await BoardImages.GetAsync(profile);
        var fat = image.ExtractPartition("boot", Path.Combine(BoardImages.Work(profile), "boot.fat"));

        var listing = TrixieDebs.Run("mdir", "-/", "-b", "-i", fat, "::").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        var config = TrixieDebs.Run("mtype", "-i", fat, "::config.txt");
        var scr = Path.Combine(BoardImages.Work(profile), "boot.scr");
        TrixieDebs.Run("mcopy", "-o", "-i", fat, "::boot.scr", scr);
        var cmd = TrixieDebs.Run("mtype", "-i", fat, "::boot.cmd");

        Assert.Equal(Golden($"{profile}.fat.txt"), string.Join('\n', listing) + "\n");
        Assert.Equal(Golden($"{profile}.config.txt").Replace($"for {profile} (", $"for {profile}{BoardImages.TestProfileSuffix} (", StringComparison.Ordinal), config);
        Assert.Equal(cmd, UBootScript.Unwrap(File.ReadAllBytes(scr)));
        Assert.Contains($"PARTUUID={image.DiskId}-02", cmd, StringComparison.Ordinal);
        Assert.Equal(RaspberryPiBoard.InitialState, TrixieDebs.Run("mtype", "-i", fat, "::" + RaspberryPiBoard.StateFile));
    }

    [Fact]
    public async Task Efi_system_partition_holds_the_golden_file_list_and_loader_entries()
    {
        var image = await BoardImages.GetAsync("generic-aarch64");
        var esp = image.ExtractPartition("esp", Path.Combine(BoardImages.Work("generic-aarch64"), "esp.fat"));

        var listing = TrixieDebs.Run("mdir", "-/", "-b", "-i", esp, "::").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        var loader = string.Concat(new[] { "loader/loader.conf", "loader/entries/edge-a+3.conf", "loader/entries/edge-b+3.conf" }
            .Select(f => $"== {f}\n" + TrixieDebs.Run("mtype", "-i", esp, "::" + f)));

        Assert.Equal(Golden("generic-aarch64.fat.txt"), string.Join('\n', listing) + "\n");
        // Both entries name the disk by its GPT GUID (the initramfs takes its partitions from that disk only).
        Assert.Equal(2, loader.Split($"edgeimage.disk=PTUUID={image.DiskId} ").Length - 1);
        Assert.Equal(Golden("generic-aarch64.loader.txt"), loader.Replace(image.DiskId, "<GPT disk GUID>", StringComparison.Ordinal));
        // The firmware starts the removable-media path; it must be an arm64 PE (machine 0xaa64).
        var bootaa64 = Path.Combine(BoardImages.Work("generic-aarch64"), "BOOTAA64.EFI");
        TrixieDebs.Run("mcopy", "-o", "-i", esp, "::EFI/BOOT/BOOTAA64.EFI", bootaa64);
        var pe = File.ReadAllBytes(bootaa64);
        var peHeader = BitConverter.ToInt32(pe, 0x3c);
        Assert.Equal(0xaa64, BitConverter.ToUInt16(pe, peHeader + 4));
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

    [GeneratedRegex(@"uuid=([0-9A-Fa-f-]{36})")]
    private static partial Regex PartitionUuid();
}
