using EdgeImage.IntegrationTests.Join;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Boards;

/// <summary>
/// The valid-token join on generic-aarch64: its join image on QEMU virt (Cortex-A57, two vCPUs)
/// through AAVMF and systemd-boot. Seeded with a static address, so a real boot applies the seed's
/// static network mode too (the x86 join uses DHCP).
/// </summary>
public sealed class GenericAarch64JoinBoots() : ValidJoinBoots(JoinBoard.GenericAarch64)
{
    public override SeedNetwork Network => Static;
}

[CollectionDefinition(Name)]
public sealed class GenericAarch64JoinBootsCollection : ICollectionFixture<GenericAarch64JoinBoots>
{
    public const string Name = "generic-aarch64 join boots";
}

/// <summary>
/// generic-aarch64 joins the fake control plane as generic-x86_64 does (<see cref="ValidJoinTests"/>),
/// with the same k0s-join service and k0s stand-in (a shell script, so the arm64 image runs it with
/// its own arm64 sh and openssl). Only in `make test-boards`: an arm64 guest is emulated under TCG.
/// </summary>
[Trait("Category", "qemu")]
[Trait("Suite", "boards")]
[Collection(GenericAarch64JoinBootsCollection.Name)]
public sealed class GenericAarch64JoinTests(GenericAarch64JoinBoots boots, ITestOutputHelper output) : ValidJoinTests(boots, output)
{
    [Fact]
    public void The_device_that_joined_is_the_arm64_image_on_QEMU_virt_with_two_CPUs()
    {
        var boot = Report(boots.First);

        Assert.Equal("arm64", boots.Image.Manifest.Arch);
        Assert.Equal("qemu-system-aarch64", Path.GetFileName(boot.Result.CommandLine[0]));
        Assert.Equal(("virt", "cortex-a57", "2"), (Argument(boot, "-machine"), Argument(boot, "-cpu"), Argument(boot, "-smp")));
        // The guest said so itself: the image's arm64 kernel, on both CPUs, and its initramfs started slot A from the disk.
        var check = Assert.IsType<JoinCheck>(boot.Check);
        Assert.Equal(("aarch64", "2", boots.Image.Manifest.Kernel), (check["machine"], check["cpus"], check["kernel"]));
        Assert.Contains("edgeimage-initrd: booting slot a", boot.Console, StringComparison.Ordinal);
    }

    private static string Argument(JoinBoot boot, string option) =>
        boot.Result.CommandLine[boot.Result.CommandLine.ToList().IndexOf(option) + 1];
}
