using EdgeImage.Boot;
using EdgeImage.Disk;
using EdgeImage.Profiles;
using EdgeImage.Tests.Profiles;

namespace EdgeImage.Tests.Boot;

public sealed class RaspberryPiBoardTests
{
    private static readonly ProfileCatalog Catalog = new(Checkout.Profiles, "the checkout");

    private static string Golden(string name) => File.ReadAllText(Path.Combine(Checkout.Root, "tests", "EdgeImage.Tests", "Boot", "golden", name));

    [Fact]
    public void Every_shipped_pi_profile_has_a_board_backend_and_every_pi_board_description_loads()
    {
        Assert.Equal(["rpi-armv7", "rpi4-aarch64"], RaspberryPiBoardData.BuiltInBoards());
        foreach (var name in Catalog.Names())
        {
            Assert.True(ImageBuild.Boards.ContainsKey(Catalog.Load(name).Board), $"profile {name} has no board backend");
        }
    }

    [Theory]
    [InlineData("rpi-armv7")]
    [InlineData("rpi4-aarch64")]
    public void Config_txt_matches_the_golden_file(string profileName)
    {
        var profile = Catalog.Load(profileName);
        var board = (RaspberryPiBoard)ImageBuild.Boards[profile.Board];

        Assert.Equal(Golden($"{profileName}.config.txt"), board.ConfigTxt(profile));
    }

    [Theory]
    [InlineData("rpi-armv7", "bootz")]
    [InlineData("rpi4-aarch64", "booti")]
    public void Boot_script_counts_attempts_per_slot_and_names_partitions_by_partuuid(string profileName, string kernelBoot)
    {
        var profile = Catalog.Load(profileName);
        var board = (RaspberryPiBoard)ImageBuild.Boards[profile.Board];
        var plan = MbrWriter.Plan(RaspberryPiBoard.DiskSpec(profile, new DiskSeed("test")));
        var signature = plan.DiskSignature.ToString("x8");

        var script = board.BootScript(profile, plan);

        Assert.Contains($"setenv edge_root PARTUUID={signature}-02", script, StringComparison.Ordinal);
        Assert.Contains($"setenv edge_root PARTUUID={signature}-03", script, StringComparison.Ordinal);
        Assert.Contains($"edgeimage.data=PARTUUID={signature}-04", script, StringComparison.Ordinal);
        Assert.Contains("setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1", script, StringComparison.Ordinal);
        Assert.Contains("setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1", script, StringComparison.Ordinal);
        Assert.Contains($"{kernelBoot} ${{kernel_addr_r}} ${{ramdisk_addr_r}}:${{filesize}} ${{fdt_addr}}", script, StringComparison.Ordinal);
        Assert.Contains(profile.Kernel.CommandLine!, script, StringComparison.Ordinal);
        // Every attempt is saved before the kernel starts, or a crashing slot would never run out of tries.
        var save = $"save ${{devtype}} ${{devnum}}:${{distro_bootpart}} ${{kernel_addr_r}} {RaspberryPiBoard.StateFile} ${{filesize}}\n";
        Assert.True(script.LastIndexOf(save, StringComparison.Ordinal) is > 0 and var at && at < script.IndexOf(kernelBoot + " ", StringComparison.Ordinal));
    }

    [Fact]
    public void Pi_disk_is_mbr_with_a_bootable_fat_partition_then_root_a_root_b_and_data_and_no_padding()
    {
        var profile = Catalog.Load("rpi-armv7");
        var plan = MbrWriter.Plan(RaspberryPiBoard.DiskSpec(profile, new DiskSeed("test")));

        Assert.Equal(["boot", "root-a", "root-b", "data"], plan.Partitions.Select(p => p.Name));
        Assert.Equal([MbrPartitionTypes.Fat32Lba, MbrPartitionTypes.Linux, MbrPartitionTypes.Linux, MbrPartitionTypes.Linux], plan.Partitions.Select(p => p.Type));
        Assert.True(plan.Partitions[0].Bootable);
        Assert.Equal(plan.DiskSize, plan.Partitions[^1].Offset + plan.Partitions[^1].Size);
    }
}
