using EdgeImage.Profiles;

namespace EdgeImage.Tests.Profiles;

public sealed class ProfileWriterTests : IDisposable
{
    private readonly ProfileFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData("generic-x86_64")]
    [InlineData("rpi-armv7")]
    public void Written_effective_profile_loads_back_to_the_same_values(string name)
    {
        var original = new ProfileCatalog(Checkout.Profiles, "the checkout").Load(name);
        var yaml = ProfileWriter.ToYaml(original);

        var reloaded = ProfileLoader.Load(_files.Write(name, yaml));

        Assert.Equal(Values(yaml), Values(ProfileWriter.ToYaml(reloaded)));
        Assert.Equal(original.Packages, reloaded.Packages);
        Assert.Equal(original.Kernel.CommandLine, reloaded.Kernel.CommandLine);
        Assert.Equal(original.Partitions, reloaded.Partitions);
    }

    [Fact]
    public void Each_key_is_preceded_by_the_file_that_set_it_or_default()
    {
        _files.Write("base/common", "name: common\npackages: [udev]\n");
        var leaf = _files.Write("edge", "name: edge\nextends: base/common\narch: arm64\nboard: b\n");

        var yaml = ProfileWriter.ToYaml(ProfileLoader.Load(leaf));

        Assert.Contains($"# set in {Path.Combine(_files.Directory, "base", "common.yaml")}:2\npackages:\n  - udev\n", yaml);
        Assert.Contains($"# set in {leaf}:3\narch: arm64\n", yaml);
        Assert.Contains("# default\nsuite: trixie\n", yaml);
        Assert.DoesNotContain("extends:", yaml);
    }

    [Fact]
    public void Strings_yaml_would_misread_are_quoted()
    {
        var leaf = _files.Write("edge", """
            name: edge
            description: "yes"
            arch: arm64
            board: b
            overlays: ["a: b", "#x", "[y]", "1.5"]
            kernel:
              cmdline: 'console=ttyS0,115200 quiet "x"'
            k0s:
              version: v1.34.1+k0s.0
              worker:
                labels: {"role": "edge", "zone": "true"}
            """);
        var original = ProfileLoader.Load(leaf);

        var reloaded = ProfileLoader.Load(_files.Write("again/edge", ProfileWriter.ToYaml(original)));

        Assert.Equal("yes", reloaded.Description);
        Assert.Equal(["a: b", "#x", "[y]", "1.5"], reloaded.Overlays);
        Assert.Equal("console=ttyS0,115200 quiet \"x\"", reloaded.Kernel.CommandLine);
        Assert.Equal("true", reloaded.K0s!.Worker.Labels["zone"]);
    }

    private static string Values(string yaml) => string.Join("\n", yaml.Split('\n').Where(l => !l.StartsWith('#')));
}
