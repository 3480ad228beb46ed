using System.Text;

namespace EdgeImage.Packages;

/// <summary>
/// An OpenPGP cleartext-signed message (RFC 4880 section 7), the format of Debian's InRelease.
/// Parsed strictly, as apt does: nothing may precede or follow the signed block, because anything
/// outside the signed text must never reach the Release parser.
/// </summary>
public sealed class ClearSignedMessage
{
    private const string BeginMessage = "-----BEGIN PGP SIGNED MESSAGE-----";
    private const string BeginSignature = "-----BEGIN PGP SIGNATURE-----";
    private const string EndSignature = "-----END PGP SIGNATURE-----";

    private ClearSignedMessage(string text, byte[] signedBytes, byte[] armoredSignature)
    {
        Text = text;
        SignedBytes = signedBytes;
        ArmoredSignature = armoredSignature;
    }

    /// <summary>The signed text with dash-escaping undone, lines joined by '\n' and a final newline: what the Release parser reads.</summary>
    public string Text { get; }

    /// <summary>The bytes the signature covers: trailing whitespace stripped from every line, lines joined by CRLF, no final line break.</summary>
    public byte[] SignedBytes { get; }

    /// <summary>The ASCII-armored signature block, from its BEGIN to its END line.</summary>
    public byte[] ArmoredSignature { get; }

    public static ClearSignedMessage Parse(byte[] content, string source)
    {
        var lines = Encoding.UTF8.GetString(content).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var i = 0;
        while (i < lines.Count && lines[i].Trim().Length == 0)
        {
            i++;
        }
        if (i == lines.Count || lines[i].TrimEnd() != BeginMessage)
        {
            throw Malformed(source, i + 1, $"expected '{BeginMessage}'");
        }
        i++;
        for (; i < lines.Count && lines[i].TrimEnd().Length > 0; i++)
        {
            // RFC 4880 allows only Hash: armor headers here; apt rejects anything else too.
            if (!lines[i].StartsWith("Hash:", StringComparison.Ordinal))
            {
                throw Malformed(source, i + 1, $"unexpected armor header '{lines[i]}'");
            }
        }
        if (i == lines.Count)
        {
            throw Malformed(source, i, "the signed text never starts");
        }
        i++;

        var signed = new List<string>();
        for (; ; i++)
        {
            if (i == lines.Count)
            {
                throw Malformed(source, i, $"no '{BeginSignature}' line");
            }
            var line = lines[i];
            if (line.TrimEnd() == BeginSignature)
            {
                break;
            }
            if (line.StartsWith("- ", StringComparison.Ordinal))
            {
                line = line[2..];
            }
            else if (line.StartsWith('-'))
            {
                // A signer always dash-escapes lines that start with '-'; an unescaped one is a
                // second armor block or an injection attempt.
                throw Malformed(source, i + 1, $"line starts with '-' but is not dash-escaped: '{line}'");
            }
            signed.Add(line.TrimEnd(' ', '\t', '\r'));
        }

        var signatureStart = i;
        for (; i < lines.Count && lines[i].TrimEnd() != EndSignature; i++)
        {
        }
        if (i == lines.Count)
        {
            throw Malformed(source, i, $"no '{EndSignature}' line");
        }
        var armored = string.Join('\n', lines.Skip(signatureStart).Take(i - signatureStart + 1)) + "\n";
        if (lines.Skip(i + 1).Any(l => l.Trim().Length > 0))
        {
            throw Malformed(source, i + 2, "text after the signature");
        }

        return new ClearSignedMessage(
            string.Join('\n', signed) + "\n",
            Encoding.UTF8.GetBytes(string.Join("\r\n", signed)),
            Encoding.ASCII.GetBytes(armored));
    }

    private static EdgeImageException Malformed(string source, int line, string what) => new(
        $"{source}:{line}: not a valid OpenPGP cleartext-signed file: {what}",
        "The mirror served something other than a signed InRelease (a captive portal or proxy error page?); check the mirror URL or pick another with --mirror.",
        ExitCodes.VerificationFailed);
}
