using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeImage.IntegrationTests.Image;

[CollectionDefinition(Name)]
public sealed class ImageLayoutCollection : ICollectionFixture<BootCheckImageFixture>
{
    public const string Name = "image layout";
}

/// <summary>
/// The shared generic-x86_64 image read back by independent tools: sfdisk for the GPT, fsck.vfat
/// and mtools for the ESP, unsquashfs for root A, cpio for the initramfs. The test profile only
/// adds an overlay to generic-x86_64, so the layout is generic-x86_64's.
/// </summary>
[Collection(ImageLayoutCollection.Name)]
public sealed partial class ImageLayoutTests(BootCheckImageFixture fixture, ITestOutputHelper output) : IDisposable
{
    private static readonly string Golden = Path.Combine(Cli.RepositoryRoot, "tests", "EdgeImage.IntegrationTests", "Image", "golden", "generic-x86_64.sfdisk.json");

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeimage-layout-");

    private BuiltImage Image => fixture.Image;

    [Fact]
    public void The_whole_build_ran_unprivileged_and_left_only_the_image_and_its_manifest()
    {
        output.WriteLine($"built as uid {Image.BuilderUid} in {Image.Elapsed.TotalSeconds:0}s");
        output.WriteLine(Image.Build.Stderr.Split('\n').LastOrDefault(l => l.Contains("stages:", StringComparison.Ordinal)) ?? "");
        if (UnprivilegedCli.Shared.DropsPrivileges)
        {
            Assert.Equal(UnprivilegedCli.NobodyUid, Image.BuilderUid);
        }
        Assert.NotEqual(0, Image.BuilderUid);
        Assert.Equal(Image.BuilderUid, UnprivilegedCli.OwnerOf(Image.ImagePath));
        Assert.Equal(Image.BuilderUid, UnprivilegedCli.OwnerOf(Path.Combine(Image.Directory, ImageBuild.ManifestName)));
        Assert.Equal([ImageBuild.ImageName, ImageBuild.ManifestName], Directory.EnumerateFileSystemEntries(Image.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateDirectories(Path.GetDirectoryName(Image.Directory)!, ".edgeimage-work-*"));
        Assert.Equal("generic-x86_64-boot-check", Image.Manifest.Profile);
        Assert.Equal(BootCheckImage.SourceDateEpoch, Image.Manifest.SourceDateEpoch);
    }

    [Fact]
    public void Sfdisk_reads_the_golden_partition_table_with_the_manifests_GUIDs()
    {
        var json = TrixieDebs.Run("sh", "-c", $"cd '{Image.Directory}' && sfdisk --json {ImageBuild.ImageName}");
        var table = JsonNode.Parse(json)!["partitiontable"]!;

        // GUIDs derive from the profile name and SOURCE_DATE_EPOCH, which is the time of the run:
        // they are compared with the manifest, then masked for the golden comparison.
        Assert.Equal(Image.Manifest.DiskGuid, table["id"]!.GetValue<string>(), ignoreCase: true);
        table["id"] = "<disk GUID of the manifest>";
        foreach (var partition in table["partitions"]!.AsArray())
        {
            var name = partition!["name"]!.GetValue<string>();
            Assert.Equal(Image.Partition(name).Uuid, partition["uuid"]!.GetValue<string>(), ignoreCase: true);
            Assert.Equal(Image.Partition(name).Type, partition["type"]!.GetValue<string>(), ignoreCase: true);
            partition["uuid"] = "<partition GUID of the manifest>";
        }
        var actual = JsonNode.Parse(json)!;
        actual["partitiontable"] = table.DeepClone();
        var expected = JsonNode.Parse(File.ReadAllText(Golden))!;
        Assert.True(JsonNode.DeepEquals(expected, actual),
            $"sfdisk --json differs from {Golden}; with GUIDs masked it reads:\n{actual.ToJsonString(new JsonSerializerOptions { WriteIndented = true })}");
        Assert.Equal(Image.Manifest.DiskSize, new FileInfo(Image.ImagePath).Length);
    }

    [Fact]
    public void The_ESP_is_a_clean_FAT_holding_systemd_boot_and_counted_entries_for_both_slots()
    {
        var esp = ExtractEsp();

        var fsck = TrixieDebs.Run("fsck.vfat", "-n", esp);
        output.WriteLine(fsck);
        Assert.DoesNotContain("differ", fsck, StringComparison.OrdinalIgnoreCase);
        var files = TrixieDebs.Run("mdir", "-i", esp, "-/", "-b", "::").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var file in new[] { "EFI/BOOT/BOOTX64.EFI", "loader/loader.conf", "loader/entries/edge-a+3.conf", "loader/entries/edge-b+3.conf", "edge/a/vmlinuz", "edge/a/initrd", "edge/b/vmlinuz", "edge/b/initrd" })
        {
            Assert.Contains("::/" + file, files);
        }
        var entryA = TrixieDebs.Run("mtype", "-i", esp, "::/loader/entries/edge-a+3.conf");
        Assert.Contains("linux /edge/a/vmlinuz", entryA);
        Assert.Contains("edgeimage.slot=a", entryA);
        var entryB = TrixieDebs.Run("mtype", "-i", esp, "::/loader/entries/edge-b+3.conf");
        Assert.Contains("edgeimage.slot=b", entryB);
        // The disk the initramfs takes root and data from, as blkid prints the GPT disk GUID.
        var diskGuid = Image.Manifest.DiskGuid;
        Assert.Equal(diskGuid.ToLowerInvariant(), diskGuid);
        Assert.Contains($"edgeimage.disk=PTUUID={diskGuid} ", entryA);
        Assert.Contains($"edgeimage.disk=PTUUID={diskGuid} ", entryB);
        // No `default` line: it would pin slot A even after its boot counter ran out (EfiAbFallbackTests).
        Assert.DoesNotContain("\ndefault ", "\n" + TrixieDebs.Run("mtype", "-i", esp, "::/loader/loader.conf"));
        // The loader is systemd-boot's own binary, which names itself in its data.
        var loader = Path.Combine(_work.FullName, "BOOTX64.EFI");
        TrixieDebs.Run("mcopy", "-i", esp, "::/EFI/BOOT/BOOTX64.EFI", loader);
        Assert.Equal("MZ", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(loader), 0, 2));
        Assert.Contains("systemd-boot", System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(loader)));
    }

    [Fact]
    public void Root_A_is_a_squashfs_owned_by_root_with_no_file_of_the_unprivileged_builder()
    {
        var rootA = Image.Partition("root-a");
        Assert.Equal(rootA.Sha256, Sha256Of(Image.ImagePath, rootA.Offset, Image.Manifest.Sizes.Root));

        var listing = TrixieDebs.Run("unsquashfs", "-lln", "-o", rootA.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture), Image.ImagePath)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(" squashfs-root", StringComparison.Ordinal))
            .ToList();
        string Line(string path) => Assert.Single(listing, l => l.EndsWith(" squashfs-root" + path, StringComparison.Ordinal) || l.Contains(" squashfs-root" + path + " -> ", StringComparison.Ordinal));

        // A whole system, though without a package manager and with only the allowed kernel modules.
        Assert.True(listing.Count > 2000, $"only {listing.Count} entries");
        Assert.StartsWith("-rwxr-xr-x 0/0 ", Line("/usr/lib/systemd/systemd"));
        var owners = listing.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).ToHashSet(StringComparer.Ordinal);
        output.WriteLine($"{listing.Count} entries; owners: {string.Join(", ", owners.Order(StringComparer.Ordinal))}");
        Assert.DoesNotContain(owners, o => o.Split('/').Contains(UnprivilegedCli.NobodyUid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.DoesNotContain(owners, o => o.Split('/').Contains(Image.BuilderUid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // The test overlay is in, root-owned, its script executable and its unit enabled.
        Assert.StartsWith("-rwxr-xr-x 0/0 ", Line("/usr/lib/edgeimage-boot-check/boot-check"));
        Assert.StartsWith("-rw-r--r-- 0/0 ", Line("/usr/lib/systemd/system/edgeimage-boot-check.service"));
        Assert.EndsWith("-> /usr/lib/systemd/system/edgeimage-boot-check.service", Line("/etc/systemd/system/multi-user.target.wants/edgeimage-boot-check.service"));
        // Mount points of the immutable layout.
        Assert.StartsWith("d", Line("/data"));
        Assert.StartsWith("d", Line("/efi"));
        // Immutable: no package manager or perl, and the units that would fail or wait without them masked.
        Assert.DoesNotContain(listing, l => l.EndsWith(" squashfs-root/usr/bin/dpkg", StringComparison.Ordinal) || l.EndsWith(" squashfs-root/usr/bin/apt", StringComparison.Ordinal) || l.EndsWith(" squashfs-root/usr/bin/perl", StringComparison.Ordinal));
        Assert.StartsWith("-rwxr-xr-x 0/0 ", Line("/usr/bin/openssl"));
        Assert.EndsWith("-> /dev/null", Line("/etc/systemd/system/ldconfig.service"));
        Assert.EndsWith("-> /dev/null", Line("/etc/systemd/system/e2scrub_reap.service"));
        // The login prompts do not wait for the network: systemd-user-sessions is masked and
        // nothing creates the /run/nologin it would lift.
        Assert.EndsWith("-> /dev/null", Line("/etc/systemd/system/systemd-user-sessions.service"));
        Assert.DoesNotContain(listing, l => l.EndsWith(" squashfs-root/usr/lib/tmpfiles.d/systemd-nologin.conf", StringComparison.Ordinal));
        // udev's coldplug replays devices, not every bus, driver and module of sysfs.
        Assert.StartsWith("-rw-r--r-- 0/0 ", Line("/usr/lib/systemd/system/systemd-udev-trigger.service.d/edgeimage-devices.conf"));
        // ...and of the devices, not the virtual consoles, but the serial ports the getty waits for.
        var dropIn = TrixieDebs.Run("unsquashfs", "-cat", "-o", rootA.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture), Image.ImagePath,
            "/usr/lib/systemd/system/systemd-udev-trigger.service.d/edgeimage-devices.conf");
        Assert.Contains("--type=devices --action=add --prioritized-subsystem=block,tpmrm,net,input --subsystem-nomatch=tty --subsystem-nomatch=vc ", dropIn);
        // The serial ports go first: the serial getty, and with it multi-user.target, waits for its port.
        Assert.True(dropIn.IndexOf("--subsystem-match=tty --sysname-match=tty[!0-9]* --sysname-match=hvc*\n", StringComparison.Ordinal)
            is var serial and > 0 && serial < dropIn.IndexOf("--prioritized-subsystem=", StringComparison.Ordinal), dropIn);
        Assert.EndsWith("-> /dev/null", Line("/etc/systemd/system/systemd-tmpfiles-setup-dev-early.service"));
    }

    [Fact]
    public void Root_A_has_timesyncd_enabled_and_dropbear_behind_a_socket_that_waits_for_a_seeded_key()
    {
        var offset = Image.Partition("root-a").Offset.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var listing = TrixieDebs.Run("unsquashfs", "-lln", "-o", offset, Image.ImagePath)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(" squashfs-root", StringComparison.Ordinal))
            .ToList();
        string Line(string path) => Assert.Single(listing, l => l.EndsWith(" squashfs-root" + path, StringComparison.Ordinal) || l.Contains(" squashfs-root" + path + " -> ", StringComparison.Ordinal));
        string Cat(string path) => TrixieDebs.Run("unsquashfs", "-cat", "-o", offset, Image.ImagePath, path);

        // NTP: Debian's preset enables timesyncd; it runs as a static sysusers.d user.
        Assert.StartsWith("-rwxr-xr-x 0/0 ", Line("/usr/lib/systemd/systemd-timesyncd"));
        Assert.EndsWith("-> /usr/lib/systemd/system/systemd-timesyncd.service", Line("/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service"));
        Assert.DoesNotContain(listing, l => l.Contains(" squashfs-root/etc/systemd/system/sysinit.target.wants/systemd-time-wait-sync.service", StringComparison.Ordinal));
        Assert.Contains("User=systemd-timesync\n", Cat("/usr/lib/systemd/system/systemd-timesyncd.service"));
        var passwd = Cat("/etc/passwd");
        Assert.Matches(@"(?m)^systemd-timesync:x:\d+:\d+:[^:]*:/:/usr/sbin/nologin$", passwd);
        // SSH: dropbear and its libraries, not OpenSSH; enabled through its socket, which listens only
        // once the seed installed a key.
        Assert.StartsWith("-rwxr-xr-x 0/0 ", Line("/usr/sbin/dropbear"));
        Assert.DoesNotContain(listing, l => l.EndsWith(" squashfs-root/usr/sbin/sshd", StringComparison.Ordinal));
        Assert.DoesNotContain(listing, l => l.EndsWith(" squashfs-root/usr/bin/dbclient", StringComparison.Ordinal));
        Assert.EndsWith("-> /usr/lib/systemd/system/edgeimage-sshd.socket", Line("/etc/systemd/system/sockets.target.wants/edgeimage-sshd.socket"));
        var socket = Cat("/usr/lib/systemd/system/edgeimage-sshd.socket");
        Assert.Contains("\nConditionFileNotEmpty=/etc/dropbear/authorized_keys\n", socket);
        Assert.Contains("\nListenStream=22\n", socket);
        Assert.Contains("\nExecStart=/usr/sbin/dropbear -i -s -R -D /etc/dropbear\n", Cat("/usr/lib/systemd/system/edgeimage-sshd@.service"));
        // Root logs in with a shell the image has and /etc/shells lists (dropbear checks both).
        Assert.Matches("(?m)^root:x:0:0:root:/root:/bin/sh$", passwd);
        Assert.Contains("\n/bin/sh\n", Cat("/etc/shells"));
    }

    [Fact]
    public void The_initramfs_holds_init_busybox_a_console_device_the_data_tools_and_the_root_modules()
    {
        var esp = ExtractEsp();
        var initrdA = Path.Combine(_work.FullName, "initrd-a");
        var initrdB = Path.Combine(_work.FullName, "initrd-b");
        TrixieDebs.Run("mcopy", "-i", esp, "::/edge/a/initrd", initrdA);
        TrixieDebs.Run("mcopy", "-i", esp, "::/edge/b/initrd", initrdB);
        Assert.Equal(Image.Manifest.Sizes.Initramfs, new FileInfo(initrdA).Length);
        Assert.Equal(File.ReadAllBytes(initrdA), File.ReadAllBytes(initrdB));

        var listing = TrixieDebs.Run("bash", "-c", $"set -o pipefail; zstd -dc '{initrdA}' | cpio -itv --numeric-uid-gid --quiet")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string Line(string path) => Assert.Single(listing, l => l.EndsWith(" " + path, StringComparison.Ordinal));

        Assert.Matches(@"^-rwxr-xr-x\s+1\s+0\s+0\s", Line("init"));
        Assert.Matches(@"^-rwxr-xr-x\s+1\s+0\s+0\s", Line("bin/busybox"));
        Assert.Matches(@"^crw-------\s+1\s+0\s+0\s+5,\s+1\s", Line("dev/console"));
        Assert.Matches(@"^crw-rw-rw-\s+1\s+0\s+0\s+1,\s+3\s", Line("dev/null"));
        foreach (var tool in new[] { "mke2fs", "e2fsck", "resize2fs", "sfdisk", "blkid" })
        {
            Assert.Matches(@"^-rwxr-xr-x\s", Line("usr/lib/edgeimage/bin/" + tool));
        }
        foreach (var module in new[] { "squashfs", "overlay", "ext4", "virtio_blk", "nvme", "vmd", "ahci", "sdhci_acpi", "fat", "vfat", "nls_cp437", "nls_ascii" })
        {
            Line($"lib/modules/{module}.ko");
        }
        // vmd (NVMe behind Intel VMD) and sdhci_acpi (eMMC in ACPI) load by the modalias of their
        // device, not on every boot.
        var table = TrixieDebs.Run("bash", "-c", $"set -o pipefail; zstd -dc '{initrdA}' | cpio -i --to-stdout --quiet etc/initrd-modalias");
        var always = TrixieDebs.Run("bash", "-c", $"set -o pipefail; zstd -dc '{initrdA}' | cpio -i --to-stdout --quiet etc/initrd-modules-always").Split('\n');
        Assert.Contains("pci:v00008086d0000467Fsv*sd*bc*sc*i*", table);
        Assert.Contains(") load vmd ;;", table);
        Assert.Contains("acpi*:80860F14:*", table);
        Assert.Contains(" sdhci_acpi ;;", table);
        Assert.DoesNotContain("vmd", always);
        // The boot partition's FAT loads on every boot, after the FAT core it depends on.
        Assert.True(Array.IndexOf(always, "fat") >= 0 && Array.IndexOf(always, "fat") < Array.IndexOf(always, "vfat"), string.Join(' ', always));
        Assert.Contains("nls_cp437", always);
        Assert.Contains("nls_ascii", always);
        Assert.DoesNotContain("sdhci_acpi", always);
        Assert.All(listing, l => Assert.Matches(OwnedByRoot(), l));
        // What boots is the init of this repository, byte for byte.
        var init = TrixieDebs.Run("bash", "-c", $"set -o pipefail; zstd -dc '{initrdA}' | cpio -i --to-stdout --quiet init");
        Assert.Equal(File.ReadAllText(Path.Combine(Cli.RepositoryRoot, "builder", "EdgeImage", "Initramfs", "init")), init);
        output.WriteLine($"{listing.Length} entries, {Image.Manifest.Sizes.Initramfs >> 10} KiB; modules: {string.Join(' ', Image.Manifest.InitramfsModules)}");
    }

    public void Dispose() => _work.Delete(recursive: true);

    /// <summary>The ESP cut out of the image at the manifest's offset, checked against the manifest's digest.</summary>
    private string ExtractEsp()
    {
        var partition = Image.Partition("esp");
        var esp = Path.Combine(_work.FullName, "esp.img");
        using (var image = File.OpenRead(Image.ImagePath))
        using (var target = File.Create(esp))
        {
            image.Position = partition.Offset;
            CopyExactly(image, target, partition.Size);
        }
        Assert.Equal(partition.Sha256, Sha256Of(esp, 0, partition.Size));
        return esp;
    }

    internal static string Sha256Of(string path, long offset, long length)
    {
        using var file = File.OpenRead(path);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        file.Position = offset;
        var buffer = new byte[1 << 20];
        for (var left = length; left > 0;)
        {
            var read = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            Assert.True(read > 0, $"{path} ends before {offset + length}");
            sha.AppendData(buffer, 0, read);
            left -= read;
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static void CopyExactly(Stream source, Stream target, long length)
    {
        var buffer = new byte[1 << 20];
        for (var left = length; left > 0;)
        {
            var read = source.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            Assert.True(read > 0, "the image ends inside the partition");
            target.Write(buffer, 0, read);
            left -= read;
        }
    }

    // cpio -tv --numeric-uid-gid: mode, links, uid, gid, ...
    [GeneratedRegex(@"^\S+\s+\d+\s+0\s+0\s")]
    private static partial Regex OwnedByRoot();
}
