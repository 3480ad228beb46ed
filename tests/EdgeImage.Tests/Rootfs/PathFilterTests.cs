using EdgeImage.Rootfs;

namespace EdgeImage.Tests.Rootfs;

public sealed class PathFilterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-pathfilter-").FullName;
    private readonly RootfsTree _tree;

    public PathFilterTests() => _tree = new RootfsTree(Path.Combine(_dir, "staging"));

    public void Dispose()
    {
        _tree.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("/usr/share/doc/*", "/usr/share/doc/bash/README.gz", true)]
    [InlineData("/usr/share/doc/*", "/usr/share/doc", false)]
    [InlineData("/usr/share/doc/*/copyright", "/usr/share/doc/bash/copyright", true)]
    [InlineData("/usr/share/doc/*/copyright", "/usr/share/doc/bash/examples/copyright", true)]
    [InlineData("/usr/share/doc/*/copyright", "/usr/share/doc/bash/copyright.gz", false)]
    [InlineData("/usr/share/locale/??/*", "/usr/share/locale/de/LC_MESSAGES/bash.mo", true)]
    [InlineData("/usr/share/locale/??/*", "/usr/share/locale/pt_BR/LC_MESSAGES/bash.mo", false)]
    [InlineData("*.ko.xz", "/usr/lib/modules/6.12/kernel/sound/snd.ko.xz", true)]
    public void Globs_match_whole_paths_and_star_crosses_slashes_as_in_dpkg_path_exclude(string glob, string path, bool expected) =>
        Assert.Equal(expected, Glob.Matches(glob, path));

    [Fact]
    public void Exclude_removes_docs_and_manuals_but_keeps_copyright_files_and_the_directories_that_hold_them()
    {
        _tree.WriteFile("/usr/share/doc/bash/README.gz", "readme", 1);
        _tree.WriteFile("/usr/share/doc/bash/copyright", "GPL", 1);
        _tree.WriteFile("/usr/share/doc/libfoo/changelog.gz", "log", 1);
        _tree.WriteSymlink("/usr/share/doc/libbar", "libfoo", 1);
        _tree.WriteFile("/usr/share/man/man1/bash.1.gz", "manual", 1);
        _tree.WriteFile("/usr/bin/bash", "ELF", 1);
        var filter = new PathFilter(["/usr/share/doc/*", "/usr/share/man/*"], ["/usr/share/doc/*/copyright"]);

        var result = filter.Apply(_tree, 7);

        var paths = _tree.Sorted().Select(e => e.Path).ToList();
        Assert.Contains("/usr/share/doc/bash/copyright", paths);
        Assert.Contains("/usr/share/doc/bash", paths);
        Assert.Contains("/usr/share/man", paths);
        Assert.Contains("/usr/bin/bash", paths);
        Assert.DoesNotContain("/usr/share/doc/bash/README.gz", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/usr/share/doc/libfoo", StringComparison.Ordinal) || p.StartsWith("/usr/share/man/", StringComparison.Ordinal));
        Assert.DoesNotContain("/usr/share/doc/libbar", paths);
        // README, libfoo/ and its changelog, the libbar link, man1/ and bash.1.gz.
        Assert.Equal(new PruneResult(6, "readme".Length + "log".Length + "manual".Length), result);
    }

    [Fact]
    public void Exclude_is_recorded_for_dpkg_so_later_package_installs_honour_it()
    {
        _tree.WriteFile("/usr/share/doc/bash/README.gz", "readme", 1);

        new PathFilter(["/usr/share/doc/*"], ["/usr/share/doc/*/copyright"]).Apply(_tree, 7);

        Assert.Equal(
            "# Written by edgeimage from the profile's exclude: and exclude_keep: lists.\n" +
            "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n",
            _tree.ReadText(PathFilter.DpkgConfigPath));
        Assert.Equal(7, _tree[PathFilter.DpkgConfigPath]!.MTime);
    }

    [Fact]
    public void An_empty_filter_leaves_the_tree_untouched()
    {
        _tree.WriteFile("/usr/share/doc/bash/README.gz", "readme", 1);
        var before = _tree.Count;

        Assert.Equal(new PruneResult(0, 0), new PathFilter([], []).Apply(_tree, 7));
        Assert.Equal(before, _tree.Count);
        Assert.Null(_tree[PathFilter.DpkgConfigPath]);
    }
}
