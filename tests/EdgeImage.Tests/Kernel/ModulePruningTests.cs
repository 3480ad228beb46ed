using System.Text;
using EdgeImage.Kernel;
using EdgeImage.Rootfs;

namespace EdgeImage.Tests.Kernel;

public sealed class ModulePruningTests : IDisposable
{
    private const string Modules = "/usr/lib/modules/6.12.0-test";
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-modprune-").FullName;
    private readonly RootfsTree _tree;

    public ModulePruningTests() => _tree = new RootfsTree(Path.Combine(_dir, "staging"));

    public void Dispose()
    {
        _tree.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A synthetic module: not an ELF file, only the NUL-separated .modinfo tags the pruner reads.</summary>
    private void Module(string relative, string modinfo = "") =>
        _tree.WriteFile($"{Modules}/kernel/{relative}", Encoding.ASCII.GetBytes($"\x7f" + "ELF-synthetic\0license=GPL\0" + modinfo.Replace(';', '\0') + "\0vermagic=6.12\0"), 1);

    private List<string> Remaining() =>
        _tree.Sorted().Where(e => e.Kind == RootfsEntryKind.File).Select(e => e.Path[(Modules.Length + "/kernel/".Length)..]).ToList();

    [Fact]
    public void Excluded_subtrees_go_whole_and_their_emptied_directories_with_them()
    {
        Module("sound/core/snd.ko");
        Module("sound/pci/hda/snd-hda-intel.ko", "depends=snd");
        Module("drivers/gpu/drm/drm.ko");
        Module("drivers/net/ethernet/intel/e1000e/e1000e.ko");
        Module("fs/ext4/ext4.ko");

        var result = ModulePruning.Apply(_tree, Modules, ["sound", "drivers/gpu"], []);

        Assert.Equal(["drivers/net/ethernet/intel/e1000e/e1000e.ko", "fs/ext4/ext4.ko"], Remaining());
        Assert.Null(_tree[$"{Modules}/kernel/sound"]);
        Assert.Null(_tree[$"{Modules}/kernel/drivers/gpu/drm"]);
        Assert.NotNull(_tree[$"{Modules}/kernel/drivers"]);
        Assert.Equal(3, result.Files);
        Assert.Empty(result.Protected);
    }

    [Fact]
    public void Dependencies_kept_in_the_modinfo_cache_are_keyed_by_the_module_bytes()
    {
        var modinfo = new DerivedCache(Path.Combine(_dir, "cache"), "modinfo", ".deps");
        Module("net/bridge/br_netfilter.ko", "depends=bridge");
        Module("net/bridge/bridge.ko");
        Module("net/sched/sch_cake.ko");

        ModulePruning.Apply(_tree, Modules, ["net"], ["br-netfilter"], modinfo: modinfo);
        Assert.Equal(["net/bridge/br_netfilter.ko", "net/bridge/bridge.ko"], Remaining());
        var brNetfilter = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            Encoding.ASCII.GetBytes("\x7f" + "ELF-synthetic\0license=GPL\0depends=bridge\0vermagic=6.12\0")));
        using (var entry = Assert.IsAssignableFrom<Stream>(modinfo.TryOpen(brNetfilter)))
        {
            Assert.Equal("bridge\n", new StreamReader(entry).ReadToEnd());
        }

        // The same name with other bytes (a newer kernel's module) is read afresh, not served the old answer.
        using var newer = new RootfsTree(Path.Combine(_dir, "newer"));
        newer.WriteFile($"{Modules}/kernel/net/bridge/br_netfilter.ko", Encoding.ASCII.GetBytes("\x7f" + "ELF-synthetic\0depends=bridge,stp\0"), 1);
        newer.WriteFile($"{Modules}/kernel/net/bridge/bridge.ko", Encoding.ASCII.GetBytes("\x7fELF-bridge\0"), 1);
        newer.WriteFile($"{Modules}/kernel/net/802/stp.ko", Encoding.ASCII.GetBytes("\x7fELF-stp\0"), 1);
        var result = ModulePruning.Apply(newer, Modules, ["net"], ["br-netfilter"], modinfo: modinfo);
        Assert.Equal(0, result.Files);
        Assert.NotNull(newer[$"{Modules}/kernel/net/802/stp.ko"]);
    }

    [Fact]
    public void Modules_the_image_needs_stay_with_their_dependencies_and_softdeps_even_when_a_glob_matches()
    {
        Module("net/bridge/br_netfilter.ko", "depends=bridge");
        Module("net/bridge/bridge.ko", "depends=stp,llc");
        Module("net/802/stp.ko", "depends=llc");
        Module("net/llc/llc.ko");
        Module("fs/ext4/ext4.ko", "depends=jbd2;softdep=pre: mbcache");
        Module("fs/jbd2/jbd2.ko");
        Module("fs/mbcache.ko");
        Module("fs/xfs/xfs.ko");
        Module("net/sched/sch_cake.ko");

        var result = ModulePruning.Apply(_tree, Modules, ["net", "fs"], ["br-netfilter", "ext4"]);

        Assert.Equal(
            ["fs/ext4/ext4.ko", "fs/jbd2/jbd2.ko", "fs/mbcache.ko", "net/802/stp.ko", "net/bridge/br_netfilter.ko", "net/bridge/bridge.ko", "net/llc/llc.ko"],
            Remaining());
        Assert.Equal(["ext4", "jbd2", "mbcache", "stp", "br_netfilter", "bridge", "llc"], result.Protected);
    }

    [Fact]
    public void An_allowlist_keeps_only_its_subtrees_and_what_their_modules_depend_on_and_the_exclude_list_still_applies()
    {
        Module("drivers/net/ethernet/intel/e1000e/e1000e.ko", "depends=ptp");
        Module("drivers/net/ethernet/intel/ice/ice.ko", "depends=ptp");
        Module("drivers/net/ethernet/mellanox/mlx5/mlx5_core.ko");
        Module("drivers/ptp/ptp.ko", "depends=pps_core");
        Module("drivers/pps/pps_core.ko");
        Module("drivers/gpu/drm/drm.ko");
        Module("fs/ext4/ext4.ko");
        Module("fs/xfs/xfs.ko");

        var result = ModulePruning.Apply(_tree, Modules, ["drivers/net/ethernet/intel/ice"], ["ext4"],
            include: ["drivers/net/ethernet/intel"]);

        Assert.Equal(["drivers/net/ethernet/intel/e1000e/e1000e.ko", "drivers/pps/pps_core.ko", "drivers/ptp/ptp.ko", "fs/ext4/ext4.ko"], Remaining());
        Assert.Equal(["pps_core", "ptp", "ext4"], result.Protected);
        Assert.Equal(4, result.Files);
        Assert.Null(_tree[$"{Modules}/kernel/drivers/gpu"]);
        Assert.Null(_tree[$"{Modules}/kernel/drivers/net/ethernet/mellanox"]);
        Assert.Null(_tree[$"{Modules}/kernel/fs/xfs"]);
        Assert.NotNull(_tree[$"{Modules}/kernel/drivers/net/ethernet/intel/e1000e"]);
    }

    [Fact]
    public void Dependencies_are_read_from_modinfo_tags_only()
    {
        var bytes = Encoding.ASCII.GetBytes("\x7f" + "ELF code mentions depends=nothing\0depends=a,b-c\0softdep=pre: d e post: f\0name=x\0");

        Assert.Equal(["a", "b-c", "d", "e", "f"], ModulePruning.Dependencies(bytes));
    }

    [Fact]
    public void Without_globs_nothing_is_read_or_removed()
    {
        Module("sound/core/snd.ko");

        var result = ModulePruning.Apply(_tree, Modules, [], ["snd"]);

        Assert.Equal((0, 0L), (result.Files, result.Bytes));
        Assert.Empty(result.Protected);
        Assert.Equal(["sound/core/snd.ko"], Remaining());
    }
}
