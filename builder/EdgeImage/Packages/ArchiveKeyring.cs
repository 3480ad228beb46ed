using System.Security.Cryptography;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;

namespace EdgeImage.Packages;

/// <summary>Who made a signature that was accepted.</summary>
public sealed record VerifiedSignature(string KeyFingerprint, string UserId, DateTimeOffset Created);

/// <summary>
/// The OpenPGP public keys a suite's Release must be signed by (binary .gpg/.pgp keyring or armored
/// .asc). Verification follows apt: the archive signs with several keys at once and a keyring knows
/// only some of them, so one good signature from a usable known key is enough, while a signature from
/// a known key that does not verify means the data was altered and fails the whole file.
/// </summary>
public sealed class ArchiveKeyring
{
    public const string DebianDefault = "/usr/share/keyrings/debian-archive-keyring.gpg";

    private static readonly HashSet<HashAlgorithmTag> WeakDigests =
        [HashAlgorithmTag.MD5, HashAlgorithmTag.Sha1, HashAlgorithmTag.RipeMD160, HashAlgorithmTag.MD2];

    private readonly Dictionary<long, (PgpPublicKey Key, PgpPublicKey Primary)> _byKeyId;

    private ArchiveKeyring(string path, Dictionary<long, (PgpPublicKey, PgpPublicKey)> byKeyId)
    {
        Path = path;
        _byKeyId = byKeyId;
    }

    public string Path { get; }

    public int KeyCount => _byKeyId.Count;

    public static ArchiveKeyring Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new EdgeImageException(
                $"keyring {path} does not exist",
                path == DebianDefault
                    ? "Install the debian-archive-keyring package, or point the profile's 'keyring:' at the archive's public key."
                    : "Check the profile's 'keyring:' path.",
                ExitCodes.NotFound);
        }
        var byKeyId = new Dictionary<long, (PgpPublicKey, PgpPublicKey)>();
        try
        {
            using var file = File.OpenRead(path);
            using var decoded = PgpUtilities.GetDecoderStream(file);
            // Read ring by ring instead of through PgpPublicKeyRingBundle: a merged keyring may list the
            // same key twice, which the bundle rejects; later copies are simply ignored here.
            foreach (var ring in new PgpObjectFactory(decoded).AllPgpObjects().OfType<PgpPublicKeyRing>())
            {
                var primary = ring.GetPublicKey();
                foreach (var key in ring.GetPublicKeys())
                {
                    byKeyId.TryAdd(key.KeyId, (key, primary));
                }
            }
        }
        catch (Exception e) when (e is IOException or PgpException)
        {
            throw new EdgeImageException($"keyring {path} cannot be read: {e.Message}",
                "The file must be an OpenPGP public keyring (gpg --export, or --export --armor).", ExitCodes.VerificationFailed, e);
        }
        if (byKeyId.Count == 0)
        {
            throw new EdgeImageException($"keyring {path} holds no OpenPGP public keys",
                "The file must be an OpenPGP public keyring (gpg --export, or --export --armor).", ExitCodes.VerificationFailed);
        }
        return new ArchiveKeyring(path, byKeyId);
    }

    /// <summary>
    /// Checks the signatures in <paramref name="armoredOrBinarySignature"/> over <paramref name="signedData"/>
    /// and returns the ones that were accepted; throws when none is, or when any known key's signature is bad.
    /// </summary>
    public IReadOnlyList<VerifiedSignature> Verify(byte[] signedData, byte[] armoredOrBinarySignature, DateTimeOffset verificationTime, string source)
    {
        var signatures = ReadSignatures(armoredOrBinarySignature, source);
        var accepted = new List<VerifiedSignature>();
        var refused = new List<string>();
        foreach (var signature in signatures)
        {
            var keyId = signature.KeyId.ToString("X16", System.Globalization.CultureInfo.InvariantCulture);
            if (!_byKeyId.TryGetValue(signature.KeyId, out var entry))
            {
                refused.Add($"key {keyId} is not in the keyring");
                continue;
            }
            var (key, primary) = entry;
            var who = $"key {keyId} ({UserId(primary)})";
            if (!IsCryptographicallyValid(signature, key, signedData))
            {
                throw new EdgeImageException(
                    $"{source}: the signature by {who} does not verify: the signed text was altered after signing",
                    "Something between you and the mirror changed the file, or the mirror is broken; pick another mirror with --mirror.",
                    ExitCodes.VerificationFailed);
            }
            var created = new DateTimeOffset(DateTime.SpecifyKind(signature.CreationTime, DateTimeKind.Utc));
            if (UnusableBecause(signature, key, primary, created, verificationTime) is { } reason)
            {
                refused.Add($"{who}: {reason}");
                continue;
            }
            accepted.Add(new VerifiedSignature(Convert.ToHexString(key.GetFingerprint()), UserId(primary), created));
        }
        if (accepted.Count == 0)
        {
            var why = refused.Count == 0 ? "it carries no signatures" : string.Join("; ", refused);
            throw new EdgeImageException(
                $"{source} has no acceptable signature from a key in {Path}: {why}",
                "Use the keyring of the archive you build from (the profile's 'keyring:', default " + DebianDefault + "). " +
                "If a time check failed and you build an old snapshot, set SOURCE_DATE_EPOCH to a time the signature was valid.",
                ExitCodes.VerificationFailed);
        }
        return accepted;
    }

    private static List<PgpSignature> ReadSignatures(byte[] data, string source)
    {
        try
        {
            using var decoded = PgpUtilities.GetDecoderStream(new MemoryStream(data));
            var result = new List<PgpSignature>();
            foreach (var item in new PgpObjectFactory(decoded).AllPgpObjects())
            {
                if (item is PgpSignatureList list)
                {
                    for (var i = 0; i < list.Count; i++)
                    {
                        result.Add(list[i]);
                    }
                }
            }
            return result;
        }
        catch (Exception e) when (e is IOException or PgpException)
        {
            throw new EdgeImageException($"{source}: the OpenPGP signature cannot be read: {e.Message}",
                "The mirror served a damaged signature; pick another mirror with --mirror.", ExitCodes.VerificationFailed, e);
        }
    }

    private static bool IsCryptographicallyValid(PgpSignature signature, PgpPublicKey key, byte[] data)
    {
        if (signature.SignatureType is not (PgpSignature.BinaryDocument or PgpSignature.CanonicalTextDocument))
        {
            return false;
        }
        if (key.Algorithm is PublicKeyAlgorithmTag.RsaGeneral or PublicKeyAlgorithmTag.RsaSign
            && key.PublicKeyPacket.Key is RsaPublicBcpgKey rsa
            && PlatformDigest(signature.HashAlgorithm) is { } digest)
        {
            return IsValidRsa(signature, rsa, digest, data);
        }
        try
        {
            signature.InitVerify(key);
            signature.Update(data);
            return signature.Verify();
        }
        catch (PgpException)
        {
            return false;
        }
    }

    private static HashAlgorithmName? PlatformDigest(HashAlgorithmTag tag) => tag switch
    {
        HashAlgorithmTag.Sha256 => HashAlgorithmName.SHA256,
        HashAlgorithmTag.Sha384 => HashAlgorithmName.SHA384,
        HashAlgorithmTag.Sha512 => HashAlgorithmName.SHA512,
        _ => null,
    };

    /// <summary>
    /// An RSA signature (what Debian's archive keys make) checked by the platform's RSA
    /// (PKCS#1 v1.5 over the OpenPGP digest: the data, canonical text line endings for text
    /// signatures, then the signature's trailer, exactly what BouncyCastle hashes). BouncyCastle's
    /// own path first proves each 4096-bit public modulus composite with Miller-Rabin rounds in
    /// managed big-integer code, about 150 ms per archive key and half a second per build, for a
    /// key the keyring already vouches for; the signature check itself is the same.
    /// </summary>
    private static bool IsValidRsa(PgpSignature signature, RsaPublicBcpgKey key, HashAlgorithmName digest, byte[] data)
    {
        using var hash = IncrementalHash.CreateHash(digest);
        if (signature.SignatureType == PgpSignature.CanonicalTextDocument)
        {
            AppendCanonicalText(hash, data);
        }
        else
        {
            hash.AppendData(data);
        }
        hash.AppendData(signature.GetSignatureTrailer());
        var modulus = key.Modulus.ToByteArrayUnsigned();
        var value = signature.GetSignature();
        if (value.Length > modulus.Length)
        {
            return false;
        }
        // The MPI drops leading zero bytes; PKCS#1 wants the signature as long as the modulus.
        var padded = new byte[modulus.Length];
        value.CopyTo(padded, modulus.Length - value.Length);
        using var rsa = RSA.Create(new RSAParameters { Modulus = modulus, Exponent = key.PublicExponent.ToByteArrayUnsigned() });
        return rsa.VerifyHash(hash.GetHashAndReset(), padded, digest, RSASignaturePadding.Pkcs1);
    }

    /// <summary>OpenPGP canonical text: every CR, LF or CRLF line end hashed as CRLF (RFC 4880 5.2.1).</summary>
    private static void AppendCanonicalText(IncrementalHash hash, ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> crlf = "\r\n"u8;
        var previous = (byte)0;
        while (!data.IsEmpty)
        {
            var end = data.IndexOfAny((byte)'\r', (byte)'\n');
            if (end < 0)
            {
                hash.AppendData(data);
                break;
            }
            hash.AppendData(data[..end]);
            var b = data[end];
            if (b == '\r' || end > 0 || previous != '\r')
            {
                hash.AppendData(crlf);
            }
            previous = b;
            data = data[(end + 1)..];
        }
    }

    /// <summary>Why a correct signature still does not count, judged at <paramref name="now"/> rather than the wall clock.</summary>
    private static string? UnusableBecause(PgpSignature signature, PgpPublicKey key, PgpPublicKey primary, DateTimeOffset created, DateTimeOffset now)
    {
        if (WeakDigests.Contains(signature.HashAlgorithm))
        {
            return $"signature uses the weak digest {signature.HashAlgorithm}";
        }
        if (created > now)
        {
            return $"signature was made at {created:u}, after the verification time {now:u}";
        }
        foreach (var k in key.KeyId == primary.KeyId ? [key] : new[] { key, primary })
        {
            if (k.HasRevocation())
            {
                return $"key {k.KeyId:X16} is revoked";
            }
            var validSeconds = k.GetValidSeconds();
            if (validSeconds > 0)
            {
                var expires = new DateTimeOffset(DateTime.SpecifyKind(k.CreationTime, DateTimeKind.Utc)).AddSeconds(validSeconds);
                if (expires <= now)
                {
                    return $"key {k.KeyId:X16} expired at {expires:u}, before the verification time {now:u}";
                }
            }
        }
        return null;
    }

    private static string UserId(PgpPublicKey primary) => primary.GetUserIds().FirstOrDefault() ?? "no user id";
}
