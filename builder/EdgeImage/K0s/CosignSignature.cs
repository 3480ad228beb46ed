using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.OpenSsl;

namespace EdgeImage.K0s;

/// <summary>
/// Verifies `cosign sign-blob` signatures made with a key pair (not keyless): the .sig file is the
/// base64 of an ASN.1 DER ECDSA signature (SEQUENCE { r INTEGER, s INTEGER }) over the SHA-256 of
/// the blob, and the public key is a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) on NIST P-256, which is
/// what `cosign generate-key-pair` makes. The same bytes come out of `openssl dgst -sha256 -sign`.
/// </summary>
public sealed class CosignSignature
{
    private readonly ECPublicKeyParameters _key;

    private CosignSignature(ECPublicKeyParameters key, string origin)
    {
        _key = key;
        Origin = origin;
    }

    /// <summary>Where the key came from, for messages.</summary>
    public string Origin { get; }

    /// <summary>Reads a PEM public key; anything but an ECDSA P-256 "PUBLIC KEY" is a profile error naming <paramref name="origin"/>.</summary>
    public static CosignSignature FromPem(string pem, string origin)
    {
        object? read;
        try
        {
            read = new PemReader(new StringReader(pem)).ReadObject();
        }
        catch (Exception e) when (e is IOException or PemException or ArgumentException or InvalidCastException)
        {
            throw BadKey(origin, $"is not a readable PEM public key ({e.Message})");
        }
        if (read is not ECPublicKeyParameters key)
        {
            throw BadKey(origin, read is null ? "holds no PEM block" : $"is not an ECDSA public key (it is {read.GetType().Name})");
        }
        if (!key.Parameters.Equals(ECNamedDomainParameters.LookupOid(X9ObjectIdentifiers.Prime256v1)))
        {
            throw BadKey(origin, "is an ECDSA key on another curve than P-256, which cosign key pairs use");
        }
        return new CosignSignature(key, origin);
    }

    public static CosignSignature FromFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new EdgeImageException($"cosign public key {path} does not exist",
                "Set k0s.cosign_key to the PEM file published with the release (cosign.pub), relative to the profile.", ExitCodes.NotFound);
        }
        return FromPem(File.ReadAllText(path), path);
    }

    /// <summary>True when <paramref name="signatureFile"/> (the .sig contents) is a valid signature over a blob whose SHA-256 is <paramref name="sha256"/>.</summary>
    public bool Verifies(ReadOnlySpan<byte> sha256, ReadOnlySpan<byte> signatureFile)
    {
        if (sha256.Length != 32 || !TryDecodeDer(signatureFile, out var r, out var s))
        {
            return false;
        }
        var verifier = new ECDsaSigner();
        verifier.Init(false, _key);
        return verifier.VerifySignature(sha256.ToArray(), r, s);
    }

    /// <summary>Accepts only strict DER (re-encoding gives the same bytes), so one signature has one encoding.</summary>
    private static bool TryDecodeDer(ReadOnlySpan<byte> signatureFile, out BigInteger r, out BigInteger s)
    {
        r = s = BigInteger.Zero;
        byte[] der;
        try
        {
            der = Convert.FromBase64String(System.Text.Encoding.ASCII.GetString(signatureFile).Trim());
            if (Asn1Object.FromByteArray(der) is not Asn1Sequence { Count: 2 } sequence
                || sequence[0] is not DerInteger first || sequence[1] is not DerInteger second
                || !sequence.GetDerEncoded().AsSpan().SequenceEqual(der))
            {
                return false;
            }
            r = first.PositiveValue;
            s = second.PositiveValue;
            return first.Value.SignValue > 0 && second.Value.SignValue > 0;
        }
        catch (Exception e) when (e is FormatException or IOException or ArgumentException or InvalidCastException)
        {
            return false;
        }
    }

    private static EdgeImageException BadKey(string origin, string problem) =>
        new($"cosign public key {origin} {problem}",
            "Use the release's cosign.pub (a PEM 'PUBLIC KEY' made by `cosign generate-key-pair`).", ExitCodes.InvalidProfile);
}
