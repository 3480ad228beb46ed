using EdgeImage.Packages;

namespace EdgeImage.Tests.Packages;

public class ReleaseFileTests
{
    private const string Release = """
        Origin: Debian
        Suite: testing
        Codename: trixie
        Date: Sat, 10 May 2025 09:04:51 UTC
        Valid-Until: Sat, 17 May 2025 09:04:51 +0200
        Acquire-By-Hash: yes
        Architectures: all amd64 arm64 armhf
        Components: main contrib
        SHA256:
         0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF   1234 main/binary-amd64/Packages.xz
         fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210 56789012 main/binary-amd64/Packages

        """;

    [Fact]
    public void Reads_suite_dates_architectures_and_sha256_entries()
    {
        var release = ReleaseFile.Parse(Release, "Release");

        Assert.True(release.Names("trixie"));
        Assert.True(release.Names("testing"));
        Assert.False(release.Names("bookworm"));
        Assert.Equal(new DateTimeOffset(2025, 5, 10, 9, 4, 51, TimeSpan.Zero), release.Date);
        Assert.Equal(new DateTimeOffset(2025, 5, 17, 7, 4, 51, TimeSpan.Zero), release.ValidUntil!.Value.ToUniversalTime());
        Assert.True(release.AcquireByHash);
        Assert.Equal(["all", "amd64", "arm64", "armhf"], release.Architectures);
        var xz = release.Files["main/binary-amd64/Packages.xz"];
        Assert.Equal(1234, xz.Size);
        Assert.Equal("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", xz.Sha256);
        Assert.Equal(56789012, release.Files["main/binary-amd64/Packages"].Size);
    }

    [Fact]
    public void Refuses_a_Release_without_SHA256_sums()
    {
        var e = Assert.Throws<EdgeImageException>(() => ReleaseFile.Parse("Suite: trixie\nMD5Sum:\n 00 1 x\n", "dists/trixie/InRelease"));

        Assert.Contains("dists/trixie/InRelease: Release has no SHA256 section", e.Message);
    }

    [Fact]
    public void Refuses_an_unreadable_Valid_Until()
    {
        var e = Assert.Throws<EdgeImageException>(() => ReleaseFile.Parse(Release.Replace("Sat, 17 May 2025 09:04:51 +0200", "soon"), "Release"));

        Assert.Contains("cannot read the Valid-Until date 'soon'", e.Message);
    }
}
