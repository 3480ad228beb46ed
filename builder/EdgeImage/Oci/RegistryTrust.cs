using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeImage.Oci;

/// <summary>
/// Extra certificate authorities (a PEM file, --registry-ca) that registry certificates may chain
/// to, for private registries with their own CA. They are trusted by the registry client's
/// HttpClient only, in addition to the host's trust store; the host name must still match.
/// </summary>
public sealed class RegistryTrust
{
    private readonly X509Certificate2Collection _authorities;

    private RegistryTrust(string path, X509Certificate2Collection authorities)
    {
        Path = path;
        _authorities = authorities;
    }

    public string Path { get; }

    public static RegistryTrust Load(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new EdgeImageException($"registry CA file {full} does not exist", "Give --registry-ca a PEM file of the registry's CA certificate.", ExitCodes.NotFound);
        }
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(full);
        }
        catch (CryptographicException e)
        {
            throw new EdgeImageException($"registry CA file {full}: not a PEM certificate ({e.Message})",
                "Give --registry-ca the CA certificate in PEM (-----BEGIN CERTIFICATE-----), e.g. `openssl x509 -in ca.der -inform der -out ca.pem`.", ExitCodes.Usage);
        }
        if (authorities.Count == 0)
        {
            throw new EdgeImageException($"registry CA file {full} holds no certificate",
                "Give --registry-ca the CA certificate in PEM (-----BEGIN CERTIFICATE-----).", ExitCodes.Usage);
        }
        return new RegistryTrust(full, authorities);
    }

    /// <summary>
    /// The TLS check: what the host trusts passes; a chain the host does not trust passes when it
    /// ends at one of these authorities; a name mismatch or a missing certificate never passes.
    /// </summary>
    public bool Accepts(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        // A private CA rarely runs a revocation service; the pull verifies content by digest anyway.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var element in presented?.ChainElements.ToArray() ?? [])
        {
            chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
