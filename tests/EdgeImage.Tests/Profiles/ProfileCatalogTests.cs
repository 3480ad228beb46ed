using EdgeImage.Profiles;

namespace EdgeImage.Tests.Profiles;

public sealed class ProfileCatalogTests : IDisposable
{
    private readonly ProfileFiles _files = new();

    public void Dispose() => _files.Dispose();

    private string Dir(string name) => Directory.CreateDirectory(Path.Combine(_files.Directory, name)).FullName;

    [Fact]
    public void Option_wins_over_environment_which_wins_over_the_working_directory()
    {
        var option = Dir("option");
        var environment = Dir("environment");
        var work = Dir("work");
        Dir("work/profiles");

        Assert.Equal((option, "--profiles-dir"), Located(ProfileCatalog.Locate(option, environment, work, work)));
        Assert.Equal((environment, "EDGEIMAGE_PROFILES"), Located(ProfileCatalog.Locate(null, environment, work, work)));
        Assert.Equal((Path.Combine(work, "profiles"), "./profiles"), Located(ProfileCatalog.Locate(null, null, work, work)));
    }

    [Fact]
    public void Without_local_profiles_the_folder_with_the_schema_above_the_program_is_used()
    {
        var installed = Dir("repo/profiles");
        File.WriteAllText(Path.Combine(installed, "profile.schema.json"), "{}");
        Dir("repo/bin/Release/profiles");
        var program = Dir("repo/bin/Release/net10.0");

        Assert.Equal(installed, ProfileCatalog.Locate(null, "", Dir("elsewhere"), program).Directory);
    }

    [Fact]
    public void A_profiles_dir_that_does_not_exist_is_an_error_naming_where_it_came_from()
    {
        var e = Assert.Throws<EdgeImageException>(() => ProfileCatalog.Locate(null, Path.Combine(_files.Directory, "gone"), _files.Directory, _files.Directory));

        Assert.Contains("(from EDGEIMAGE_PROFILES) does not exist", e.Message);
        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
    }

    [Fact]
    public void Unknown_profile_lists_the_available_ones_but_not_bases()
    {
        _files.Write("base/common", "name: common\n");
        _files.Write("one", "name: one\nextends: base/common\narch: amd64\nboard: b\n");
        _files.Write("two", "name: two\narch: armhf\nboard: b\n");
        var catalog = new ProfileCatalog(_files.Directory, "test");

        var e = Assert.Throws<EdgeImageException>(() => catalog.Resolve("three"));

        Assert.Contains("unknown profile 'three'", e.Message);
        Assert.Equal("Available profiles: one, two. A path ending in .yaml works too.", e.Hint);
        Assert.Throws<EdgeImageException>(() => catalog.Resolve("base/common"));
        Assert.Equal("armhf", catalog.Load("two").Arch);
        Assert.Equal("amd64", catalog.Load(Path.Combine(_files.Directory, "one.yaml")).Arch);
    }

    [Fact]
    public void Listing_keeps_a_broken_profile_with_its_error_beside_the_good_ones()
    {
        _files.Write("good", "name: good\narch: arm64\nboard: b\n");
        _files.Write("bad", "name: bad\narch: mips\nboard: b\n");

        var listings = new ProfileCatalog(_files.Directory, "test").List();

        Assert.Equal(["bad", "good"], listings.Select(l => l.Name));
        Assert.Contains("'arch' must be one of", listings[0].Error?.Message);
        Assert.Equal("arm64", listings[1].Profile?.Arch);
    }

    private static (string, string) Located(ProfileCatalog catalog) => (catalog.Directory, catalog.Origin);
}
