using EdgeImage.Filesystems;
using EdgeImage.Rootfs;

namespace EdgeImage.Boot;

/// <summary>The kernel and initramfs one A/B slot boots.</summary>
public sealed record SlotBootFiles(string Slot, byte[] Kernel, byte[] Initramfs);

/// <summary>
/// UEFI boot with systemd-boot, the loader of Debian's systemd-boot-efi package. Each slot has its
/// own kernel and initramfs on the ESP (an OTA update replaces a slot's root and its kernel
/// together) and a Boot Loader Specification entry named with a boot counter ("+3"): systemd-boot
/// decrements it on every attempt, systemd-bless-boot drops it once the system came up, and an
/// entry whose counter reached zero is sorted last, which is how a bad update falls back.
/// loader.conf names no `default`: systemd-boot matches a default pattern against the entries
/// without looking at their counters (systemd 257, config_select_default_entry), so `default edge-a*`
/// would boot an exhausted slot A for ever. Without one it boots the first entry in its sort order,
/// where exhausted entries come last and otherwise the lower sort-key wins: slot A ("edge-a") on a
/// new image. Switching slots means giving the other entry the lower sort-key.
/// </summary>
public static class SystemdBoot
{
    public const string Package = "systemd-boot-efi";

    public const int BootTries = 3;

    public static string EfiSuffix(string arch) => arch switch
    {
        "amd64" => "x64",
        "arm64" => "aa64",
        "armhf" => "arm",
        _ => throw new EdgeImageException($"no UEFI loader for architecture {arch}", "use amd64, arm64 or armhf"),
    };

    /// <summary>Files of the ESP, with the loader taken from the systemd-boot-efi .deb (unpacked into its own tree, never into the rootfs).</summary>
    public static IReadOnlyList<FatFile> EspFiles(RootfsTree loaderPackage, string arch, IReadOnlyList<SlotBootFiles> slots, string commandLine)
    {
        var suffix = EfiSuffix(arch);
        var loaderPath = $"/usr/lib/systemd/boot/efi/systemd-boot{suffix}.efi";
        var loader = loaderPackage[loaderPackage.Resolve(loaderPath, followFinal: true, loaderPath)] is { Kind: RootfsEntryKind.File } entry
            ? loaderPackage.ReadAllBytes(entry)
            : throw new EdgeImageException($"{Package} has no {loaderPath}", $"the {Package} package of this suite does not ship a loader for {arch}");

        var files = new List<FatFile>
        {
            // The removable-media path: firmware boots it without any NVRAM boot entry, which is
            // what a freshly flashed disk or a QEMU run has.
            new($"/EFI/BOOT/BOOT{suffix.ToUpperInvariant()}.EFI", loader),
            new($"/EFI/systemd/systemd-boot{suffix}.efi", loader),
            new("/loader/loader.conf", Text(LoaderConf)),
        };
        foreach (var slot in slots)
        {
            files.Add(new($"/edge/{slot.Slot}/vmlinuz", slot.Kernel));
            files.Add(new($"/edge/{slot.Slot}/initrd", slot.Initramfs));
            files.Add(new($"/loader/entries/{EntryName(slot.Slot)}", Text(Entry(slot.Slot, commandLine))));
        }
        return files;
    }

    public static string EntryName(string slot) => $"edge-{slot}+{BootTries}.conf";

    public static string LoaderConf => """
        # EdgeImage: boot the first entry at once. Entries are ordered by sort-key, those whose boot
        # counter ran out last; no `default`, which would pin a slot even after its tries ran out.
        timeout 0
        editor no
        console-mode keep

        """;

    public static string Entry(string slot, string commandLine) => $"""
        title EdgeImage slot {slot.ToUpperInvariant()}
        sort-key edge-{slot}
        linux /edge/{slot}/vmlinuz
        initrd /edge/{slot}/initrd
        options edgeimage.slot={slot} ro {commandLine}

        """;

    private static byte[] Text(string text) => System.Text.Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\n"));
}
