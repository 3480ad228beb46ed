using EdgeImage.Elf;

namespace EdgeImage.Tests;

public class ElfFileTests
{
    [Fact]
    public void Reads_machine_interpreter_and_needed_libraries_of_a_host_binary()
    {
        var elf = ElfFile.TryRead(File.ReadAllBytes("/usr/bin/ls"))!;

        Assert.Equal("amd64", elf.DebianArchitecture);
        Assert.Equal("/lib64/ld-linux-x86-64.so.2", elf.Interpreter);
        Assert.Contains("libc.so.6", elf.Needed);
        Assert.Equal(ExpectedNeeded("/usr/bin/ls"), elf.Needed.Order().ToList());
    }

    [Fact]
    public void A_static_binary_has_no_interpreter_and_no_needed_libraries()
    {
        // From busybox-static, which `make test` installs.
        var elf = ElfFile.TryRead(File.ReadAllBytes("/bin/busybox"))!;

        Assert.Null(elf.Interpreter);
        Assert.Empty(elf.Needed);
    }

    [Fact]
    public void Text_is_not_an_ELF_file() => Assert.Null(ElfFile.TryRead("#!/bin/sh\necho not elf\n"u8.ToArray().Concat(new byte[64]).ToArray()));

    [Fact]
    public void Finds_a_named_section()
    {
        var elf = ElfFile.TryRead(File.ReadAllBytes("/usr/bin/ls"))!;

        Assert.StartsWith("/lib64/ld-linux", System.Text.Encoding.ASCII.GetString(elf.Section(".interp")));
        Assert.True(elf.Section(".no-such-section").IsEmpty);
    }

    // readelf (binutils) reads the dynamic section independently of this reader.
    private static List<string> ExpectedNeeded(string binary)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("readelf", ["-d", binary]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return System.Text.RegularExpressions.Regex.Matches(output, @"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")
            .Select(m => m.Groups[1].Value).Order().ToList();
    }
}
