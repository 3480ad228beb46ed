using System.Security.Cryptography;

namespace EdgeImage.Tests;

public class FileDigestTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(70_000)]
    [InlineData((1 << 20) - 1)]
    [InlineData(1 << 20)]
    [InlineData((3 << 20) + 17)]
    public void A_file_hashes_to_the_sha256_of_its_bytes_across_chunk_boundaries(int length)
    {
        using var dir = new TempDirectory();
        var bytes = Enumerable.Range(0, length).Select(i => (byte)(i * 131 + (i >> 20))).ToArray();
        File.WriteAllBytes(dir.File("f"), bytes);
        using var file = File.OpenHandle(dir.File("f"));

        var (sha256, hashed) = FileDigest.Sha256(file);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), sha256);
        Assert.Equal(length, hashed);
    }
}
