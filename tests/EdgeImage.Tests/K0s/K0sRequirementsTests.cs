using EdgeImage.K0s;
using EdgeImage.Kernel;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.K0s;

public sealed class K0sRequirementsTests : IDisposable
{
    private const string Version = "6.12.0-test-amd64";

    private readonly string _dir = Directory.CreateTempSubdirectory("eig-k0sreq-").FullName;
    private readonly RecordingBuildLog _log = new();

    /// <summary>A kernel config with every option k0s needs: the bool ones built in, the rest as modules, as Debian builds them.</summary>
    private static string FullConfig() => string.Join("\n",
        K0sRequirements.Required.Select(o => $"CONFIG_{o.Name}={(o.Module is null ? "y" : "m")}")
            .Concat(K0sRequirements.Recommended.Select(o => $"CONFIG_{o.Name}=y"))
            .Prepend("# Linux/x86 6.12.0 Kernel Configuration")) + "\n";

    private static KernelInstall Kernel(IEnumerable<string> modules) => new()
    {
        Version = Version,
        ImagePath = $"/boot/vmlinuz-{Version}",
        ModulesDirectory = $"/usr/lib/modules/{Version}",
        Modules = modules.ToDictionary(m => m, m => $"kernel/{m}.ko.xz", StringComparer.Ordinal),
        Dependencies = new Dictionary<string, IReadOnlyList<string>>(),
        SoftPre = new Dictionary<string, IReadOnlyList<string>>(),
        Builtin = new HashSet<string>(StringComparer.Ordinal),
    };

    private static readonly KernelInstall AllModules = Kernel(K0sRequirements.Modules);

    private static Profile Profile(int dataMiB = 2048) => new()
    {
        Name = "edge",
        Arch = "amd64",
        Board = "generic-efi",
        SourcePath = "profiles/edge.yaml",
        Kernel = new KernelSpec { Package = "linux-image-amd64" },
        Partitions = new PartitionSizes { Data = dataMiB },
        Locations = new Dictionary<string, string> { ["kernel"] = "profiles/edge.yaml:7", ["partitions"] = "profiles/edge.yaml:9" },
    };

    private RootfsTree Tree(string config)
    {
        var tree = new RootfsTree(Path.Combine(_dir, "staging"));
        tree.WriteFile($"/boot/config-{Version}", config, 0);
        return tree;
    }

    [Fact]
    public void Kernel_with_every_option_and_module_passes()
    {
        using var tree = Tree(FullConfig());

        K0sRequirements.Check(tree, AllModules, Profile(), 0, _log);

        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Missing_option_fails_naming_the_option_the_kernel_and_the_profile()
    {
        using var tree = Tree(FullConfig().Replace("CONFIG_OVERLAY_FS=m\n", "# CONFIG_OVERLAY_FS is not set\n").Replace("CONFIG_PID_NS=y\n", ""));

        var error = Assert.Throws<EdgeImageException>(() => K0sRequirements.Check(tree, AllModules, Profile(), 0, _log));

        Assert.Equal(ExitCodes.InvalidProfile, error.ExitCode);
        Assert.Contains($"kernel {Version} (linux-image-amd64) cannot run a k0s worker", error.Message);
        Assert.Contains("CONFIG_PID_NS is not set (PID namespaces)", error.Message);
        Assert.Contains("CONFIG_OVERLAY_FS is not set (overlayfs, containerd's snapshotter)", error.Message);
        Assert.DoesNotContain("CONFIG_NET_NS", error.Message);
        Assert.Contains("profiles/edge.yaml:7", error.Hint);
    }

    [Fact]
    public void Option_built_as_a_module_that_was_pruned_from_the_image_fails()
    {
        using var tree = Tree(FullConfig());

        var error = Assert.Throws<EdgeImageException>(() =>
            K0sRequirements.Check(tree, Kernel(K0sRequirements.Modules.Where(m => m != "br_netfilter")), Profile(), 0, _log));

        Assert.Contains("CONFIG_BRIDGE_NETFILTER=m (br_netfilter, so bridged pod traffic passes iptables) but its module br_netfilter is not in the image", error.Message);
        Assert.Contains("kernel.exclude_modules", error.Hint);
    }

    [Fact]
    public void Redirect_target_may_come_from_the_older_ip_nf_option()
    {
        using var tree = Tree(FullConfig().Replace("CONFIG_NETFILTER_XT_TARGET_REDIRECT=m\n", "") + "CONFIG_IP_NF_TARGET_REDIRECT=y\n");

        K0sRequirements.Check(tree, AllModules, Profile(), 0, _log);
    }

    [Fact]
    public void Missing_recommended_option_is_a_warning_only()
    {
        using var tree = Tree(FullConfig().Replace("CONFIG_USER_NS=y\n", ""));

        K0sRequirements.Check(tree, AllModules, Profile(), 0, _log);

        Assert.Contains(_log.Warnings, w => w.Contains("CONFIG_USER_NS is not set", StringComparison.Ordinal));
    }

    [Fact]
    public void Data_partition_smaller_than_a_worker_plus_its_images_fails_with_the_size_to_set()
    {
        using var tree = Tree(FullConfig());

        var error = Assert.Throws<EdgeImageException>(() => K0sRequirements.Check(tree, AllModules, Profile(dataMiB: 1600), 100, _log));

        Assert.Contains("data partition of edge (1600 MiB) is smaller than a k0s worker needs (1626 MiB", error.Message);
        Assert.Contains("`partitions.data` in profiles/edge.yaml:9 to at least 1626", error.Hint);
    }

    [Fact]
    public void Kernel_without_its_config_file_cannot_be_checked()
    {
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        var error = Assert.Throws<EdgeImageException>(() => K0sRequirements.Check(tree, AllModules, Profile(), 0, _log));

        Assert.Contains($"no /boot/config-{Version}", error.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
