using System.Buffers.Binary;
using System.Runtime.Versioning;
using EdgeImage.Tools;

namespace EdgeImage.IntegrationTests.Qemu;

/// <summary>
/// A tiny initramfs for direct-kernel boots: busybox-static as the only program and a shell script
/// as /init, packed with cpio in the newc format the kernel unpacks.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class TestInitramfs
{
    private const string Busybox = "/bin/busybox";

    public static async Task<string> CreateAsync(string directory, string initScript)
    {
        RequireStaticBusybox();
        var tree = Path.Combine(directory, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "bin"));
        File.Copy(Busybox, Path.Combine(tree, "bin", "busybox"));
        var init = Path.Combine(tree, "init");
        await File.WriteAllTextAsync(init, "#!/bin/busybox sh\n" + initScript);
        File.SetUnixFileMode(init, (UnixFileMode)0b111_101_101);
        var output = Path.Combine(directory, "initrd.cpio");
        using var names = new MemoryStream("bin\nbin/busybox\ninit\n"u8.ToArray());
        await new HostTools().RunAsync("cpio", ["--quiet", "-o", "-H", "newc", "-O", output], names, workingDirectory: tree);
        return output;
    }

    /// <summary>
    /// The kernel runs /init with nothing else in the initramfs, so busybox must not need a dynamic
    /// loader: Debian's busybox package is dynamic, busybox-static is not.
    /// </summary>
    private static void RequireStaticBusybox()
    {
        if (!File.Exists(Busybox) || HasInterpreter(File.ReadAllBytes(Busybox)))
        {
            throw new EdgeImageException($"{Busybox} is missing or dynamically linked",
                "install the Debian package: apt-get install busybox-static", ExitCodes.MissingTool);
        }
    }

    /// <summary>True when the ELF64 little-endian file has a PT_INTERP program header.</summary>
    private static bool HasInterpreter(byte[] elf)
    {
        var programHeaders = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x20));
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x36));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x38));
        const uint PtInterp = 3;
        return Enumerable.Range(0, count)
            .Any(i => BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)programHeaders + i * entrySize)) == PtInterp);
    }
}
