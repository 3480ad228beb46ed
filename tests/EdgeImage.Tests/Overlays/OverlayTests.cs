using EdgeImage.Overlays;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;

namespace EdgeImage.Tests.Overlays;

public sealed class OverlayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-overlay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Profile ProfileAt(string file, params string[] overlays) => new()
    {
        Name = "test",
        Arch = "amd64",
        Board = "generic-efi",
        SourcePath = file,
        Overlays = overlays,
        Locations = new Dictionary<string, string> { ["overlays"] = $"{file}:7" },
    };

    [Fact]
    public void Files_templates_and_symlinks_land_in_the_tree_owned_by_root_with_normalized_modes()
    {
        var overlay = Path.Combine(_dir, "overlays", "first-boot");
        Directory.CreateDirectory(Path.Combine(overlay, "usr/lib/edgeimage"));
        Directory.CreateDirectory(Path.Combine(overlay, "etc/systemd/system/multi-user.target.wants"));
        File.WriteAllText(Path.Combine(overlay, "usr/lib/edgeimage/run"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(overlay, "usr/lib/edgeimage/run"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(overlay, "etc/edge.conf.scriban"), "arch={{ profile.Arch }} name={{ profile.Name }}\n");
        File.CreateSymbolicLink(Path.Combine(overlay, "etc/systemd/system/multi-user.target.wants/x.service"), "/usr/lib/systemd/system/x.service");
        Directory.CreateDirectory(Path.Combine(_dir, "profiles"));
        var profile = ProfileAt(Path.Combine(_dir, "profiles", "test.yaml"), "first-boot");
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        Overlay.Apply(tree, profile, 1234);

        var run = tree["/usr/lib/edgeimage/run"]!;
        Assert.Equal(0b111_101_101, run.Mode);
        Assert.Equal((0, 0, 1234L), (run.Uid, run.Gid, run.MTime));
        Assert.Equal("arch=amd64 name=test\n", tree.ReadText("/etc/edge.conf"));
        Assert.Null(tree["/etc/edge.conf.scriban"]);
        Assert.Equal(0b110_100_100, tree["/etc/edge.conf"]!.Mode);
        Assert.Equal("/usr/lib/systemd/system/x.service", tree["/etc/systemd/system/multi-user.target.wants/x.service"]!.LinkTarget);
    }

    [Fact]
    public void Templates_see_the_build_time_as_source_date_epoch()
    {
        var overlay = Path.Combine(_dir, "overlays", "epoch");
        Directory.CreateDirectory(Path.Combine(overlay, "usr"));
        File.WriteAllText(Path.Combine(overlay, "usr", "build-epoch.scriban"), "{{ source_date_epoch }}\n");
        Directory.CreateDirectory(Path.Combine(_dir, "profiles"));
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        Overlay.Apply(tree, ProfileAt(Path.Combine(_dir, "profiles", "test.yaml"), "epoch"), 1_700_000_123);

        Assert.Equal("1700000123\n", tree.ReadText("/usr/build-epoch"));
    }

    [Fact]
    public void An_overlay_given_as_a_path_is_relative_to_the_profile_that_lists_it()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "tests", "check", "etc"));
        File.WriteAllText(Path.Combine(_dir, "tests", "check", "etc", "marker"), "x");
        Directory.CreateDirectory(Path.Combine(_dir, "tests", "profiles"));
        var profile = ProfileAt(Path.Combine(_dir, "tests", "profiles", "t.yaml"), "../check");
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        Overlay.Apply(tree, profile, 1);

        Assert.Equal("x", tree.ReadText("/etc/marker"));
    }

    [Fact]
    public void A_missing_overlay_names_the_profile_line_that_lists_it()
    {
        var profile = ProfileAt(Path.Combine(_dir, "profiles", "test.yaml"), "nope");
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        var e = Assert.Throws<EdgeImageException>(() => Overlay.Apply(tree, profile, 1));

        Assert.Contains("overlay 'nope'", e.Message);
        Assert.Contains("test.yaml:7", e.Message);
        Assert.Equal(ExitCodes.InvalidProfile, e.ExitCode);
    }

    [Fact]
    public void A_template_error_names_the_file()
    {
        var overlay = Path.Combine(_dir, "overlays", "bad");
        Directory.CreateDirectory(overlay);
        File.WriteAllText(Path.Combine(overlay, "x.scriban"), "{{ if }}");
        var profile = ProfileAt(Path.Combine(_dir, "profiles", "test.yaml"), "bad");
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        var e = Assert.Throws<EdgeImageException>(() => Overlay.Apply(tree, profile, 1));

        Assert.Contains("x.scriban", e.Message);
    }
}
