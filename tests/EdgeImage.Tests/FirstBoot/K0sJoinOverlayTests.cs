using EdgeImage.Overlays;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tests.Profiles;

namespace EdgeImage.Tests.FirstBoot;

/// <summary>The shipped first-boot overlay (overlays/k0s-join) as each shipped profile lays it over a root.</summary>
public sealed class K0sJoinOverlayTests : IDisposable
{
    private static readonly ProfileCatalog Catalog = new(Checkout.Profiles, "the checkout");

    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-k0sjoin-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("generic-x86_64", "ESP")]
    [InlineData("generic-aarch64", "ESP")]
    [InlineData("rpi-armv7", EdgeImage.Boot.RaspberryPiBoard.BootLabel)]
    [InlineData("rpi4-aarch64", EdgeImage.Boot.RaspberryPiBoard.BootLabel)]
    public void Each_board_finds_its_boot_FAT_by_the_label_the_builder_gives_it(string name, string label)
    {
        using var tree = new RootfsTree(Path.Combine(_dir, name));

        Overlay.Apply(tree, Catalog.Load(name), 1_700_000_000);

        Assert.Equal(label + "\n", tree.ReadText("/usr/lib/edgeimage/boot-label"));
    }

    [Fact]
    public void The_join_service_is_enabled_executable_and_knows_the_build_time()
    {
        using var tree = new RootfsTree(Path.Combine(_dir, "x"));

        Overlay.Apply(tree, Catalog.Load("generic-x86_64"), 1_700_000_000);

        Assert.Equal("1700000000\n", tree.ReadText("/usr/lib/edgeimage/build-epoch"));
        Assert.Equal(0b111_101_101, tree["/usr/lib/edgeimage/k0s-join"]!.Mode);
        Assert.Equal("/usr/lib/systemd/system/edgeimage-join.service", tree["/etc/systemd/system/multi-user.target.wants/edgeimage-join.service"]!.LinkTarget);
        Assert.Contains("ExecStart=/usr/lib/edgeimage/k0s-join", tree.ReadText("/usr/lib/systemd/system/edgeimage-join.service"));
    }

    [Fact]
    public void The_join_script_is_valid_POSIX_shell_for_dash()
    {
        var script = Path.Combine(Checkout.Root, "overlays", "k0s-join", "usr", "lib", "edgeimage", "k0s-join");

        using var check = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dash", ["-n", script]) { RedirectStandardError = true })!;
        var errors = check.StandardError.ReadToEnd();
        check.WaitForExit();

        Assert.True(check.ExitCode == 0, errors);
        Assert.StartsWith("#!/bin/sh\n", File.ReadAllText(script));
    }
}
