using System.Text;
using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

/// <summary>Cleartext signatures made by gpg, read and verified by EdgeImage.</summary>
public sealed class ClearSignedMessageTests(SigningKeys keys) : IClassFixture<SigningKeys>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eig-clear-").FullName;

    [Fact]
    public void Undoes_dash_escaping_and_verifies_lines_with_trailing_whitespace()
    {
        const string text = "Origin: Debian\n- a line gpg must dash-escape\n-----BEGIN PGP SIGNATURE----- (not really)\ntrailing spaces   \n\ttab first\nlast\n";

        var (message, signers) = SignAndVerify(text, crlf: false);

        Assert.Contains("\n- - a line gpg must dash-escape\n", File.ReadAllText(Path.Combine(_dir, "signed")));
        Assert.Equal(text.Replace("trailing spaces   ", "trailing spaces", StringComparison.Ordinal), message.Text);
        Assert.Equal(keys.Archive.Fingerprint, Assert.Single(signers).KeyFingerprint);
    }

    [Fact]
    public void Verifies_the_same_file_after_its_line_endings_became_CRLF()
    {
        var (message, _) = SignAndVerify("Suite: trixie\nCodename: trixie\n", crlf: true);

        Assert.Equal("Suite: trixie\nCodename: trixie\n", message.Text);
    }

    [Fact]
    public void Refuses_text_before_the_signed_block()
    {
        var signed = Sign("Suite: trixie\n");
        var injected = Encoding.UTF8.GetBytes("Suite: evil\n\n" + Encoding.UTF8.GetString(signed));

        var e = Assert.Throws<EdgeImageException>(() => ClearSignedMessage.Parse(injected, "InRelease"));

        Assert.Contains("InRelease:1: not a valid OpenPGP cleartext-signed file", e.Message);
    }

    [Fact]
    public void Refuses_text_after_the_signature()
    {
        var signed = Sign("Suite: trixie\n");
        var appended = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(signed) + "Suite: evil\n");

        var e = Assert.Throws<EdgeImageException>(() => ClearSignedMessage.Parse(appended, "InRelease"));

        Assert.Contains("text after the signature", e.Message);
    }

    [Fact]
    public void Refuses_an_unescaped_dash_line_in_the_signed_text()
    {
        var text = Encoding.UTF8.GetString(Sign("Suite: trixie\n")).Replace("Suite: trixie", "-Suite: trixie", StringComparison.Ordinal);

        var e = Assert.Throws<EdgeImageException>(() => ClearSignedMessage.Parse(Encoding.UTF8.GetBytes(text), "InRelease"));

        Assert.Contains("not dash-escaped", e.Message);
    }

    [Fact]
    public void A_signature_over_different_whitespace_inside_a_line_does_not_verify()
    {
        var text = Encoding.UTF8.GetString(Sign("Suite: trixie\n")).Replace("Suite: trixie", "Suite:  trixie", StringComparison.Ordinal);
        var message = ClearSignedMessage.Parse(Encoding.UTF8.GetBytes(text), "InRelease");

        var e = Assert.Throws<EdgeImageException>(() =>
            ArchiveKeyring.Load(keys.Keyring).Verify(message.SignedBytes, message.ArmoredSignature, DateTimeOffset.UtcNow, "InRelease"));

        Assert.Contains("does not verify", e.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private byte[] Sign(string text)
    {
        var input = Path.Combine(_dir, "text");
        var output = Path.Combine(_dir, "signed");
        File.WriteAllText(input, text);
        keys.Gpg.ClearSign(input, output, keys.Archive);
        return File.ReadAllBytes(output);
    }

    private (ClearSignedMessage, IReadOnlyList<VerifiedSignature>) SignAndVerify(string text, bool crlf)
    {
        var signed = Sign(text);
        if (crlf)
        {
            signed = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(signed).Replace("\n", "\r\n", StringComparison.Ordinal));
        }
        var message = ClearSignedMessage.Parse(signed, "InRelease");
        var signers = ArchiveKeyring.Load(keys.Keyring).Verify(message.SignedBytes, message.ArmoredSignature, DateTimeOffset.UtcNow, "InRelease");
        return (message, signers);
    }
}
