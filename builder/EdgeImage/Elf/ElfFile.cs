using System.Buffers.Binary;
using System.Text;

namespace EdgeImage.Elf;

/// <summary>
/// Just enough of ELF to answer what an image builder asks of a binary without running it: which
/// machine it is for, which interpreter and shared libraries it needs (to copy a program into the
/// initramfs with its library closure), and a section's bytes (a kernel module's .modinfo).
/// Foreign-architecture binaries are read the same way, which is the point: no ldd, no qemu-user.
/// </summary>
public sealed class ElfFile
{
    public const ushort MachineX86_64 = 62;
    public const ushort MachineArm = 40;
    public const ushort MachineAArch64 = 183;

    private const uint PtLoad = 1, PtDynamic = 2, PtInterp = 3;
    private const long DtNeeded = 1, DtStrtab = 5;

    private readonly byte[] _data;

    private ElfFile(byte[] data, bool is64, bool littleEndian, ushort machine)
    {
        _data = data;
        Is64Bit = is64;
        LittleEndian = littleEndian;
        Machine = machine;
    }

    public bool Is64Bit { get; }

    public bool LittleEndian { get; }

    public ushort Machine { get; }

    /// <summary>The Debian architecture this binary runs on (amd64, arm64, armhf), or null for others.</summary>
    public string? DebianArchitecture => (Machine, Is64Bit) switch
    {
        (MachineX86_64, true) => "amd64",
        (MachineAArch64, true) => "arm64",
        (MachineArm, false) => "armhf",
        _ => null,
    };

    /// <summary>Null when the bytes are not an ELF file.</summary>
    public static ElfFile? TryRead(byte[] data)
    {
        if (data.Length < 52 || data[0] != 0x7f || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
        {
            return null;
        }
        var is64 = data[4] == 2;
        var little = data[5] == 1;
        var machine = little ? BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(18)) : BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(18));
        return new ElfFile(data, is64, little, machine);
    }

    /// <summary>The program interpreter (dynamic loader) path, or null for static binaries.</summary>
    public string? Interpreter =>
        ProgramHeaders().Where(p => p.Type == PtInterp).Select(p => CString((int)p.Offset)).FirstOrDefault();

    /// <summary>DT_NEEDED sonames in file order.</summary>
    public IReadOnlyList<string> Needed
    {
        get
        {
            var headers = ProgramHeaders().ToList();
            var dynamic = headers.FirstOrDefault(p => p.Type == PtDynamic);
            if (dynamic.Type != PtDynamic)
            {
                return [];
            }
            var entries = new List<(long Tag, ulong Value)>();
            var size = Is64Bit ? 16 : 8;
            for (var at = (long)dynamic.Offset; at + size <= (long)(dynamic.Offset + dynamic.FileSize); at += size)
            {
                var tag = Is64Bit ? (long)U64(at) : (int)U32(at);
                var value = Is64Bit ? U64(at + 8) : U32(at + 4);
                if (tag == 0)
                {
                    break;
                }
                entries.Add((tag, value));
            }
            var strtabAddress = entries.FirstOrDefault(e => e.Tag == DtStrtab).Value;
            // DT_STRTAB holds a virtual address; map it to a file offset through the loadable segments.
            var load = headers.FirstOrDefault(p => p.Type == PtLoad && strtabAddress >= p.VirtualAddress && strtabAddress < p.VirtualAddress + p.FileSize);
            if (load.Type != PtLoad)
            {
                return [];
            }
            var strtab = (long)(strtabAddress - load.VirtualAddress + load.Offset);
            return entries.Where(e => e.Tag == DtNeeded).Select(e => CString((int)(strtab + (long)e.Value))).ToList();
        }
    }

    /// <summary>The bytes of a named section, or null when there is none.</summary>
    public ReadOnlySpan<byte> Section(string name)
    {
        var shoff = (long)(Is64Bit ? U64(0x28) : U32(0x20));
        var shentsize = U16(Is64Bit ? 0x3A : 0x2E);
        var shnum = U16(Is64Bit ? 0x3C : 0x30);
        var shstrndx = U16(Is64Bit ? 0x3E : 0x32);
        if (shoff == 0 || shstrndx >= shnum)
        {
            return default;
        }
        (uint Name, ulong Offset, ulong Size) Header(int i)
        {
            var at = shoff + (long)i * shentsize;
            return Is64Bit
                ? (U32(at), U64(at + 0x18), U64(at + 0x20))
                : (U32(at), U32(at + 0x10), U32(at + 0x14));
        }
        var names = Header(shstrndx);
        for (var i = 0; i < shnum; i++)
        {
            var h = Header(i);
            if (CString((int)names.Offset + (int)h.Name) == name)
            {
                return _data.AsSpan((int)h.Offset, (int)h.Size);
            }
        }
        return default;
    }

    private IEnumerable<(uint Type, ulong Offset, ulong VirtualAddress, ulong FileSize)> ProgramHeaders()
    {
        var phoff = (long)(Is64Bit ? U64(0x20) : U32(0x1C));
        var phentsize = U16(Is64Bit ? 0x36 : 0x2A);
        var phnum = U16(Is64Bit ? 0x38 : 0x2C);
        for (var i = 0; i < phnum; i++)
        {
            var at = phoff + (long)i * phentsize;
            yield return Is64Bit
                ? (U32(at), U64(at + 0x08), U64(at + 0x10), U64(at + 0x20))
                : (U32(at), U32(at + 0x04), U32(at + 0x08), U32(at + 0x10));
        }
    }

    private ushort U16(long at) => LittleEndian
        ? BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan((int)at))
        : BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan((int)at));

    private uint U32(long at) => LittleEndian
        ? BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan((int)at))
        : BinaryPrimitives.ReadUInt32BigEndian(_data.AsSpan((int)at));

    private ulong U64(long at) => LittleEndian
        ? BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan((int)at))
        : BinaryPrimitives.ReadUInt64BigEndian(_data.AsSpan((int)at));

    private string CString(int at)
    {
        var end = Array.IndexOf(_data, (byte)0, at);
        return Encoding.UTF8.GetString(_data, at, (end < 0 ? _data.Length : end) - at);
    }
}
