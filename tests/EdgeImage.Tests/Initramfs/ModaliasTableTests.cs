using System.Text;
using EdgeImage.Initramfs;
using EdgeImage.Kernel;

namespace EdgeImage.Tests.Initramfs;

public class ModaliasTableTests
{
    private static readonly KernelInstall Kernel = new()
    {
        Version = "6.12.0-test",
        ImagePath = "/boot/vmlinuz-6.12.0-test",
        ModulesDirectory = "/usr/lib/modules/6.12.0-test",
        Modules = new Dictionary<string, string>
        {
            ["libata"] = "kernel/drivers/ata/libata.ko.xz",
            ["libahci"] = "kernel/drivers/ata/libahci.ko.xz",
            ["ahci"] = "kernel/drivers/ata/ahci.ko.xz",
            ["scsi_mod"] = "kernel/drivers/scsi/scsi_mod.ko.xz",
            ["sd_mod"] = "kernel/drivers/scsi/sd_mod.ko.xz",
            ["nvme_core"] = "kernel/drivers/nvme/host/nvme-core.ko.xz",
            ["nvme"] = "kernel/drivers/nvme/host/nvme.ko.xz",
            ["virtio_blk"] = "kernel/drivers/block/virtio_blk.ko.xz",
            ["odd"] = "kernel/drivers/misc/odd.ko.xz",
        },
        Dependencies = new Dictionary<string, IReadOnlyList<string>>
        {
            ["kernel/drivers/ata/libahci.ko.xz"] = ["kernel/drivers/ata/libata.ko.xz"],
            ["kernel/drivers/ata/ahci.ko.xz"] = ["kernel/drivers/ata/libahci.ko.xz", "kernel/drivers/ata/libata.ko.xz"],
            ["kernel/drivers/scsi/sd_mod.ko.xz"] = ["kernel/drivers/scsi/scsi_mod.ko.xz"],
            ["kernel/drivers/nvme/host/nvme.ko.xz"] = ["kernel/drivers/nvme/host/nvme-core.ko.xz"],
        },
        SoftPre = new Dictionary<string, IReadOnlyList<string>>(),
        Builtin = new HashSet<string>(),
    };

    // As depmod writes it: alias PATTERN MODULE, several per module, buses mixed.
    private const string Aliases = """
        # Aliases extracted from modules themselves.
        alias pci:v*d*sv*sd*bc01sc06i01* ahci
        alias pci:v00008086d00002922sv*sd*bc*sc*i* ahci
        alias scsi:t-0x00* sd_mod
        alias scsi:t-0x0E* sd_mod
        alias pci:v*d*sv*sd*bc01sc08i02* nvme
        alias virtio:d00000002v* virtio_blk
        alias acpi*:ODD(0001):* odd
        alias pci:v000010ECd00008168sv*sd*bc*sc*i* r8169

        """;

    private static readonly string[] Drivers = ["virtio_blk", "nvme", "ahci", "sd_mod", "odd", "scsi_mod"];

    [Fact]
    public void Only_drivers_with_an_alias_are_tabled()
    {
        var table = ModaliasTable.Generate(Kernel, Aliases, Drivers, "generic-x86_64.yaml:7");

        Assert.Equal(["ahci", "nvme", "odd", "sd_mod", "virtio_blk"], table.Drivers);
        // r8169 has an alias but is not one of the drivers asked for.
        Assert.DoesNotContain("r8169", table.Script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", "libata libahci ahci")]
    [InlineData("pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02", "nvme_core nvme")]
    [InlineData("virtio:d00000002v00001AF4", "virtio_blk")]
    [InlineData("scsi:t-0x00", "scsi_mod sd_mod")]
    [InlineData("acpi:ODD(0001):", "odd")]
    [InlineData("pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", "")]
    [InlineData("platform:serial8250", "")]
    public void A_device_loads_the_drivers_of_its_modalias_dependencies_first_as_the_initramfs_shell_runs_it(string modalias, string loaded)
    {
        var table = ModaliasTable.Generate(Kernel, Aliases, Drivers, "generic-x86_64.yaml:7");
        // The table runs in the initramfs's busybox sh; here load() prints what init would insmod.
        var script = table.Script + "load() { echo \"$@\"; }\nmodalias_match \"$1\"\n";

        var result = HostTool.Run("busybox", "busybox-static", ["sh", "-c", script, "sh", modalias]);

        Assert.Equal(loaded, result.Text.Trim());
    }

    [Theory]
    [InlineData("pci:v*d*sv*sd*bc01sc06i01*", "pci:v*d*sv*sd*bc01sc06i01*")]
    [InlineData("of:N*T*Cbrcm,bcm2835-sdhost", "of:N*T*Cbrcm,bcm2835-sdhost")]
    [InlineData("usb:v[0-9]*", "usb:v[0-9]*")]
    [InlineData("acpi*:ODD(0001) x|y;$z:*", @"acpi*:ODD\(0001\)\ x\|y\;\$z:*")]
    public void Patterns_keep_their_globs_and_lose_shell_syntax(string pattern, string escaped) =>
        Assert.Equal(escaped, ModaliasTable.Escape(pattern));
}
