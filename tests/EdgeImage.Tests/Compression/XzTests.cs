using EdgeImage.Compression;

namespace EdgeImage.Tests.Compression;

public class XzTests
{
    /// <summary>Compressible text and incompressible bytes, like a .deb's data.tar with .ko.xz inside, over several 64 KiB buffers.</summary>
    private static byte[] Sample()
    {
        var text = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"Package: p{i}\nDepends: libc6 (>= 2.36)\n\n")));
        var noise = new byte[300_000];
        new Random(42).NextBytes(noise);
        return [.. text, .. noise, .. text];
    }

    private static byte[] ReadAll(Stream stream, int chunk)
    {
        using var output = new MemoryStream();
        var buffer = new byte[chunk];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            output.Write(buffer, 0, read);
        }
        return output.ToArray();
    }

    [Fact]
    public void The_system_liblzma_decodes_where_Debian_installs_it()
    {
        // make deps installs liblzma5 on every host the suite runs on; its absence is a failure to
        // report, not a reason to pass without asserting anything.
        Assert.True(Xz.IsNative, "the system liblzma (liblzma.so.5) was not found; install the Debian package liblzma5");
        Assert.Equal("LibLzmaStream", Xz.Decompress(new MemoryStream(), preferNative: true).GetType().Name);
    }

    [Theory]
    [InlineData("-6", 1)]
    [InlineData("-9e", 65536)]
    [InlineData("-0", 7)]
    public void Native_and_managed_decoders_return_exactly_what_xz_utils_compressed(string level, int readChunk)
    {
        var plain = Sample();
        var compressed = HostTool.Run("xz", "xz-utils", [level, "-c"], plain).Stdout;

        var native = ReadAll(Xz.Decompress(new MemoryStream(compressed), preferNative: true), readChunk == 1 ? 4093 : readChunk);
        var managed = ReadAll(Xz.Decompress(new MemoryStream(compressed), preferNative: false), 65536);

        Assert.Equal(plain, native);
        Assert.Equal(plain, managed);
    }

    [Fact]
    public void Damaged_or_truncated_xz_is_invalid_data()
    {
        var compressed = HostTool.Run("xz", "xz-utils", ["-6", "-c"], Sample()).Stdout;
        var damaged = (byte[])compressed.Clone();
        damaged[damaged.Length / 2] ^= 0xFF;

        Assert.Throws<InvalidDataException>(() => ReadAll(Xz.Decompress(new MemoryStream(damaged)), 65536));
        Assert.Throws<InvalidDataException>(() => ReadAll(Xz.Decompress(new MemoryStream(compressed[..(compressed.Length - 40)])), 65536));
        Assert.Throws<InvalidDataException>(() => ReadAll(Xz.Decompress(new MemoryStream("not xz at all"u8.ToArray())), 65536));
    }
}
