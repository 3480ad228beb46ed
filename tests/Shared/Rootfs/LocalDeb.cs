using System.Security.Cryptography;
using EdgeImage.Packages;
using EdgeImage.Rootfs;

namespace EdgeImage.Testing.Rootfs;

internal static class LocalDeb
{
    /// <summary>The index record a resolver would have produced for a .deb on disk with this control paragraph.</summary>
    public static PackageFile Describe(string deb, ControlParagraph control) =>
        new(
            new PackageRecord
            {
                Name = control.Required("Package", deb),
                Version = control.Required("Version", deb),
                Architecture = control.Required("Architecture", deb),
                Filename = Path.GetFileName(deb),
                Size = new FileInfo(deb).Length,
                Sha256 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(deb))),
                Control = control,
            },
            deb);
}
