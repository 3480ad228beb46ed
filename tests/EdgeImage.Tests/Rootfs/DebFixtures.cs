using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using EdgeImage.Packages;
using EdgeImage.Rootfs;
using EdgeImage.Testing;
using EdgeImage.Testing.Rootfs;

namespace EdgeImage.Tests.Rootfs;

/// <summary>
/// Builds .deb files for the tests: real ones with dpkg-deb, and hand-crafted ones (own ar + tar)
/// for archives dpkg-deb would refuse to build, such as malicious paths.
/// </summary>
internal sealed class DebFixtures : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("edgeimage-debs-");

    public string Dir => _dir.FullName;

    /// <summary>A package built by dpkg-deb from files the test lays out under a staging root.</summary>
    public PackageFile Build(string name, Action<string> layout, string extraControl = "", string compression = "xz", string[]? conffiles = null, string version = "1.0")
    {
        var root = Path.Combine(Dir, "src-" + name + "-" + compression);
        Directory.CreateDirectory(Path.Combine(root, "DEBIAN"));
        layout(root);
        File.WriteAllText(Path.Combine(root, "DEBIAN", "control"), Control(name, extraControl, version));
        if (conffiles is not null)
        {
            File.WriteAllText(Path.Combine(root, "DEBIAN", "conffiles"), string.Concat(conffiles.Select(c => c + "\n")));
        }
        var deb = Path.Combine(Dir, $"{name}_{version}_{compression}.deb");
        Run("dpkg-deb", "--root-owner-group", $"-Z{compression}", "--build", root, deb);
        return Describe(name, deb, extraControl, version);
    }

    /// <summary>A package written entry by entry, bypassing every check dpkg-deb would make.</summary>
    public PackageFile Craft(string name, IEnumerable<TarEntry> data, string extraControl = "", bool gnuArNames = false)
    {
        var control = new MemoryStream();
        using (var gz = new GZipStream(control, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gz, TarEntryFormat.Ustar, leaveOpen: true))
        {
            tar.WriteEntry(Entry("./control", Control(name, extraControl)));
        }
        var dataTar = new MemoryStream();
        using (var tar = new TarWriter(dataTar, TarEntryFormat.Gnu, leaveOpen: true))
        {
            foreach (var entry in data)
            {
                tar.WriteEntry(entry);
            }
        }
        var deb = Path.Combine(Dir, $"{name}_1.0_crafted.deb");
        using (var ar = System.IO.File.Create(deb))
        {
            ar.Write("!<arch>\n"u8);
            WriteMember(ar, gnuArNames ? "debian-binary/" : "debian-binary", "2.0\n"u8.ToArray());
            WriteMember(ar, gnuArNames ? "control.tar.gz/" : "control.tar.gz", control.ToArray());
            WriteMember(ar, gnuArNames ? "data.tar/" : "data.tar", dataTar.ToArray());
        }
        return Describe(name, deb, extraControl);
    }

    public static UstarTarEntry Entry(string name, string text, int mode = 0x1A4, int uid = 0, int gid = 0) =>
        new(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)),
            Mode = (UnixFileMode)mode,
            Uid = uid,
            Gid = gid,
            ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000),
        };

    public static UstarTarEntry Folder(string name) =>
        new(TarEntryType.Directory, name) { Mode = (UnixFileMode)0x1ED, ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000) };

    public static UstarTarEntry Link(TarEntryType type, string name, string target) =>
        new(type, name) { LinkName = target, Mode = (UnixFileMode)0x1FF, ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000) };

    private static void WriteMember(Stream ar, string name, byte[] data)
    {
        var header = $"{name,-16}{"0",-12}{"0",-6}{"0",-6}{"100644",-8}{data.Length,-10}`\n";
        ar.Write(Encoding.ASCII.GetBytes(header));
        ar.Write(data);
        if (data.Length % 2 == 1)
        {
            ar.WriteByte((byte)'\n');
        }
    }

    private static string Control(string name, string extra, string version = "1.0") =>
        $"Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: Test <t@example.org>\n{extra}Description: fixture {name}\n";

    private static PackageFile Describe(string name, string deb, string extra, string version = "1.0") =>
        LocalDeb.Describe(deb, ControlParagraph.ParseSingle(Control(name, extra, version)));

    public static string Run(string tool, params string[] args) => ExternalTool.Run(tool, args);

    public void Dispose() => _dir.Delete(recursive: true);
}
