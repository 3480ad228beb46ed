using System.Text;
using EdgeImage.Initramfs;

namespace EdgeImage.Tests.Initramfs;

/// <summary>
/// Runs steps of the initramfs init script (builder/EdgeImage/Initramfs/init) in the host's busybox
/// sh against a fake machine: a sysfs tree of disks and partitions laid out as the kernel lays it
/// out (/sys/class/block/X links to the device under /sys/devices, a partition's directory sits
/// in its disk's), partitions as sparse files (reading as zeros until a test writes the builder's
/// fresh-data marker or old bytes into them), and stand-ins for the image's blkid, e2fsck, mke2fs, resize2fs and sfdisk that
/// log every call. init defines its steps as functions and runs main only as process 1, so
/// sourcing it here runs nothing; the rig then points $sys, $dev, $tools and $initrd at the fake tree.
/// fail() is replaced by one that exits 70 (the real one reboots the machine through sysrq).
/// </summary>
internal sealed class InitScriptRig : IDisposable
{
    /// <summary>The exit code of the rig's fail().</summary>
    public const int Failed = 70;

    private readonly TempDirectory _dir = new();
    private readonly string _init;

    public InitScriptRig()
    {
        foreach (var path in new[] { "sys/class/block", "sys/devices", "sys/module", "dev", "tools", "etc", "lib/modules" })
        {
            Directory.CreateDirectory(Path.Combine(Root, path));
        }
        File.WriteAllText(Path.Combine(Root, "blkid.tab"), "");
        File.WriteAllText(Path.Combine(Root, "calls"), "");
        File.WriteAllText(Path.Combine(Root, "etc/initrd-modules"), "");
        _init = Path.Combine(Root, "init");
        File.WriteAllBytes(_init, InitramfsBuilder.ReadInitScript());
        foreach (var tool in new[] { "e2fsck", "mke2fs", "resize2fs", "sfdisk" })
        {
            StandIn(tool, $"""
                # Stand-in for the image's {tool}: logs the call; exits with the code in {tool}.exit (default 0).
                echo "{tool} $*" >> "{Root}/calls"
                echo "stand-in {tool}: done"
                exit "$(cat "{Root}/{tool}.exit" 2>/dev/null || echo 0)"
                """);
        }
        StandIn("blkid", $$"""
            # Stand-in for util-linux blkid: answers from blkid.tab, lines "DEVICE TAG=VALUE", for the
            # three ways init calls it: -t TOKEN DEVICE (does DEVICE have TOKEN), -o device -t TOKEN
            # (every device with TOKEN) and -p -o value -s TAG DEVICE (DEVICE's TAG). Exit 2, as
            # blkid's, when nothing matches.
            echo "blkid $*" >> "{{Root}}/calls"
            tab="{{Root}}/blkid.tab"
            token= tag= device=
            while [ $# -gt 0 ]; do
                case "$1" in
                    -o|-s) [ "$1" = -s ] && tag=$2; shift ;;
                    -t) token=$2; shift ;;
                    -l|-p) ;;
                    *) device=$1 ;;
                esac
                shift
            done
            if [ -n "$device" ] && [ -n "$token" ]; then
                grep -qxF "$device $token" "$tab" || exit 2
            elif [ -n "$token" ]; then
                found=$(while read -r d t; do [ "$t" = "$token" ] && echo "$d"; done < "$tab")
                [ -n "$found" ] || exit 2
                echo "$found"
            else
                found=$(while read -r d t; do [ "$d" = "$device" ] && [ "${t%%=*}" = "$tag" ] && echo "${t#*=}"; done < "$tab")
                [ -n "$found" ] || exit 2
                echo "$found"
            fi
            """);
    }

    public string Root => _dir.Path;

    /// <summary>A partition's device file, as init sees it under $dev.</summary>
    public string Device(string name) => Path.Combine(Root, "dev", name);

    /// <summary>Adds a whole disk (its sysfs directory under a controller of its own) and its device file.</summary>
    public void AddDisk(string name, long sectors, string? ptuuid = null)
    {
        var directory = Path.Combine(Root, "sys/devices", "controller-" + name, "block", name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "size"), $"{sectors}\n");
        File.WriteAllText(Path.Combine(directory, "uevent"), $"MAJOR=8\nMINOR=0\nDEVNAME={name}\nDEVTYPE=disk\n");
        File.CreateSymbolicLink(Path.Combine(Root, "sys/class/block", name), directory);
        using (var device = File.Create(Device(name)))
        {
            device.SetLength(sectors * 512);
        }
        if (ptuuid is not null)
        {
            Tag(name, "PTUUID=" + ptuuid);
        }
    }

    /// <summary>
    /// Adds partition <paramref name="number"/> of <paramref name="disk"/>: its sysfs directory inside
    /// the disk's (with PARTNAME in uevent when it has a GPT name) and a device file of zeros.
    /// </summary>
    public void AddPartition(string disk, string name, int number, long start, long sectors, string? partName = null, string? partUuid = null)
    {
        var directory = Path.Combine(new DirectoryInfo(Path.Combine(Root, "sys/class/block", disk)).LinkTarget!, name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "partition"), $"{number}\n");
        File.WriteAllText(Path.Combine(directory, "start"), $"{start}\n");
        File.WriteAllText(Path.Combine(directory, "size"), $"{sectors}\n");
        File.WriteAllText(Path.Combine(directory, "dev"), $"8:{number}\n");
        File.WriteAllText(Path.Combine(directory, "uevent"),
            $"MAJOR=8\nMINOR={number}\nDEVNAME={name}\nDEVTYPE=partition\nPARTN={number}\n" + (partName is null ? "" : $"PARTNAME={partName}\n"));
        File.CreateSymbolicLink(Path.Combine(Root, "sys/class/block", name), directory);
        using (var device = File.Create(Device(name)))
        {
            device.SetLength(sectors * 512);
        }
        if (partUuid is not null)
        {
            Tag(name, "PARTUUID=" + partUuid);
        }
    }

    /// <summary>Gives a partition another size (sysfs and device file); it still reads as zeros.</summary>
    public void ResizePartition(string name, long sectors)
    {
        File.WriteAllText(Path.Combine(Root, "sys/class/block", name, "size"), $"{sectors}\n");
        using var device = new FileStream(Device(name), FileMode.Open, FileAccess.Write);
        device.SetLength(sectors * 512);
    }

    /// <summary>What the stand-in blkid reports for a device, e.g. LABEL=edge-data.</summary>
    public void Tag(string device, string token) =>
        File.AppendAllText(Path.Combine(Root, "blkid.tab"), $"{Device(device)} {token}\n");

    /// <summary>Writes the builder's fresh-data marker for the disk <paramref name="diskId"/> at the start of a partition.</summary>
    public void WriteMarker(string device, string diskId) => WriteAt(device, 0, EdgeImage.Boot.BoardDisk.DataMarker(diskId));

    public void WriteAt(string device, long offset, byte[] bytes)
    {
        using var file = new FileStream(Device(device), FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(bytes);
    }

    /// <summary>The exit code the named stand-in tool returns from now on.</summary>
    public void ExitCode(string tool, int code) => File.WriteAllText(Path.Combine(Root, tool + ".exit"), $"{code}\n");

    /// <summary>Every stand-in call so far ("tool args"), the rig's directory shown as nothing (/dev/sda4).</summary>
    public IReadOnlyList<string> Calls =>
        File.ReadAllLines(Path.Combine(Root, "calls")).Select(Unroot).ToList();

    /// <summary>
    /// Sources init, points it at the fake machine and runs <paramref name="body"/> (shell). Output
    /// has the rig's directory shown as nothing, so /dev/sda4 reads as on the machine.
    /// </summary>
    public HostTool.Result Run(string body)
    {
        var script = $$"""
            . "$1"
            sys="{{Root}}/sys" dev="{{Root}}/dev" tools="{{Root}}/tools" initrd="{{Root}}"
            fail() { log "FATAL: $*"; exit {{Failed}}; }
            blockdev() { echo "blockdev $*" >> "{{Root}}/calls"; }
            {{body}}
            """;
        var result = HostTool.RunAllowingFailure("busybox", "busybox-static", ["sh", "-c", script, "sh", _init], workDir: Root);
        return result with { Stdout = Encoding.UTF8.GetBytes(Unroot(result.Text)), Stderr = Unroot(result.Stderr) };
    }

    private string Unroot(string text) => text.Replace(Root, "", StringComparison.Ordinal);

    private void StandIn(string tool, string body)
    {
        var path = Path.Combine(Root, "tools", tool);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => _dir.Dispose();
}
