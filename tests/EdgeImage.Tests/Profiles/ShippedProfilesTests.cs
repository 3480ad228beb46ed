using EdgeImage.Profiles;

namespace EdgeImage.Tests.Profiles;

public class ShippedProfilesTests
{
    private static readonly ProfileCatalog Catalog = new(Checkout.Profiles, "the checkout");

    [Fact]
    public void The_catalog_lists_the_four_shipped_profiles_and_hides_the_base()
    {
        Assert.Equal(["generic-aarch64", "generic-x86_64", "rpi-armv7", "rpi4-aarch64"], Catalog.Names());
    }

    [Fact]
    public void Every_yaml_file_under_profiles_loads_or_is_a_base_its_profiles_extend()
    {
        var listings = Catalog.List();
        Assert.All(listings, l => Assert.True(l.Error is null, $"{l.Name}: {l.Error?.Message}"));
        var used = listings.SelectMany(l => l.Profile!.SourceChain).Select(Path.GetFullPath).ToHashSet();
        foreach (var file in Directory.EnumerateFiles(Checkout.Profiles, "*.yaml", SearchOption.AllDirectories))
        {
            Assert.Contains(Path.GetFullPath(file), used);
        }
    }

    [Theory]
    [InlineData("generic-x86_64", "amd64", "linux-image-amd64", "generic-efi", "main")]
    [InlineData("generic-aarch64", "arm64", "linux-image-arm64", "generic-efi", "main")]
    [InlineData("rpi-armv7", "armhf", "linux-image-armmp", "rpi-armv7", "main non-free-firmware")]
    [InlineData("rpi4-aarch64", "arm64", "linux-image-arm64", "rpi4-aarch64", "main non-free-firmware")]
    public void Shipped_profile_has_its_arch_kernel_board_and_the_common_base(string name, string arch, string kernel, string board, string components)
    {
        var profile = Catalog.Load(name);

        Assert.Equal((name, arch, kernel, board), (profile.Name, profile.Arch, profile.Kernel.Package, profile.Board));
        Assert.Equal(components.Split(' '), profile.Components);
        Assert.Equal("trixie", profile.Suite);
        // An immutable image carries no package manager: no required set, only what a node runs.
        Assert.False(profile.IncludeRequired);
        Assert.Equal(
            ["systemd", "systemd-sysv", "udev", "kmod", "base-files", "base-passwd", "dash", "coreutils", "util-linux", "mount", "findutils",
             "grep", "sed", "gzip", "busybox-static", "e2fsprogs", "fdisk", "iproute2", "ca-certificates", "openssl",
             "systemd-timesyncd", "dropbear-bin", "tiny-initramfs"],
            profile.Packages);
        // Every board runs the first-boot join; the Pi boards also reset their U-Boot slot counter after a good boot.
        Assert.Equal(board.StartsWith("rpi", StringComparison.Ordinal) ? ["k0s-join", "u-boot-ab"] : ["k0s-join"], profile.Overlays);
        Assert.True(File.Exists(Path.Combine(EdgeImage.Overlays.Overlay.Locate(profile, "k0s-join"), "usr", "lib", "edgeimage", "k0s-join")));
        Assert.Null(profile.Mirror);
        Assert.False(string.IsNullOrWhiteSpace(profile.Description));
        Assert.Equal("v1.34.1+k0s.0", profile.K0s?.Version);
        Assert.Empty(profile.K0s!.Images);
        Assert.False(profile.Debug);
        Assert.EndsWith(Path.Combine("profiles", "base", "debian-trixie.yaml") + ":12", profile.Locate("packages"));
    }

    [Fact]
    public void No_shipped_profile_names_a_mirror()
    {
        foreach (var file in Directory.EnumerateFiles(Checkout.Profiles, "*.yaml", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain("mirror", File.ReadAllText(file));
        }
    }
}
