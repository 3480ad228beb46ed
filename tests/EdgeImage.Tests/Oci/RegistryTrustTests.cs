using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgeImage.Oci;

namespace EdgeImage.Tests.Oci;

/// <summary>
/// --registry-ca against a real TLS handshake: HttpsRegistryDouble serves one manifest over TLS on a
/// loopback port with a certificate for registry.test issued by a CA the test makes; the client's
/// connections to registry.test are routed to that port, so the name checked is registry.test's.
/// </summary>
public sealed class RegistryTrustTests : IDisposable
{
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"layers":[]}""");
    private static readonly string ManifestDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Manifest));

    private readonly string _dir = Directory.CreateTempSubdirectory("eig-regtrust-").FullName;
    private readonly HttpsRegistryDouble _server;
    private readonly string _caFile;
    private readonly string _otherCaFile;

    public RegistryTrustTests()
    {
        using var ca = Authority("EdgeImage test registry CA");
        using var other = Authority("Some other CA");
        _caFile = Path.Combine(_dir, "ca.pem");
        _otherCaFile = Path.Combine(_dir, "other.pem");
        File.WriteAllText(_caFile, ca.ExportCertificatePem());
        File.WriteAllText(_otherCaFile, other.ExportCertificatePem());
        _server = new HttpsRegistryDouble(Leaf(ca, "registry.test"));
    }

    [Fact]
    public async Task Registry_certificate_issued_by_the_given_ca_is_trusted()
    {
        using var http = Client(RegistryTrust.Load(_caFile));

        using var response = await new RegistryClient(http).GetManifestAsync(Image("registry.test"), ManifestDigest, default);

        Assert.Equal(Manifest, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Registry_certificate_of_an_unknown_ca_fails_saying_to_give_it_with_registry_ca()
    {
        using var http = Client(null);

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => new RegistryClient(http).GetManifestAsync(Image("registry.test"), ManifestDigest, default));

        Assert.StartsWith($"{Image("registry.test")}: TLS with https://registry.test:{_server.Port} failed", error.Message);
        Assert.Contains("--registry-ca FILE", error.Hint);
        Assert.Equal(ExitCodes.VerificationFailed, error.ExitCode);
    }

    [Fact]
    public async Task Another_ca_does_not_make_the_certificate_trusted()
    {
        using var http = Client(RegistryTrust.Load(_otherCaFile));

        await Assert.ThrowsAsync<EdgeImageException>(() => new RegistryClient(http).GetManifestAsync(Image("registry.test"), ManifestDigest, default));
    }

    [Fact]
    public async Task Certificate_for_another_name_is_refused_even_when_its_ca_is_given()
    {
        using var http = Client(RegistryTrust.Load(_caFile));

        var error = await Assert.ThrowsAsync<EdgeImageException>(() => new RegistryClient(http).GetManifestAsync(Image("mirror.test"), ManifestDigest, default));

        Assert.Contains("TLS with", error.Message);
    }

    [Fact]
    public void Ca_file_that_is_missing_or_not_pem_is_an_error_naming_it()
    {
        var missing = Path.Combine(_dir, "missing.pem");
        var garbage = Path.Combine(_dir, "garbage.pem");
        File.WriteAllText(garbage, "not a certificate\n");

        var notThere = Assert.Throws<EdgeImageException>(() => RegistryTrust.Load(missing));
        var notPem = Assert.Throws<EdgeImageException>(() => RegistryTrust.Load(garbage));

        Assert.Equal(($"registry CA file {missing} does not exist", ExitCodes.NotFound), (notThere.Message, notThere.ExitCode));
        Assert.Equal(($"registry CA file {garbage} holds no certificate", ExitCodes.Usage), (notPem.Message, notPem.ExitCode));
    }

    public void Dispose()
    {
        _server.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private ImageReference Image(string host) => ImageReference.Parse($"{host}:{_server.Port}/app@{ManifestDigest}");

    /// <summary>The registry client's own HttpClient, with every connection sent to the loopback double whatever the host name.</summary>
    private HttpClient Client(RegistryTrust? trust)
    {
        var handler = RegistryClient.CreateHandler(trust);
        handler.ConnectCallback = async (_, cancellation) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, _server.Port, cancellation);
            return new NetworkStream(socket, ownsSocket: true);
        };
        return new HttpClient(handler);
    }

    private static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Leaf(X509Certificate2 authority, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        using var signed = request.Create(authority, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12), [1, 2, 3, 4]);
        // SslStream on Linux wants the key in a form it can hand to OpenSSL; a PKCS#12 round trip gives that.
        using var withKey = signed.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A test double for an https registry: answers every request on a loopback port with the manifest, over TLS with the given certificate.</summary>
    private sealed class HttpsRegistryDouble : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly X509Certificate2 _certificate;
        private readonly Task _serving;

        public HttpsRegistryDouble(X509Certificate2 certificate)
        {
            _certificate = certificate;
            _listener.Start();
            _serving = Task.Run(ServeAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public void Dispose()
        {
            _listener.Stop();
            _serving.Wait();
            _certificate.Dispose();
        }

        private async Task ServeAsync()
        {
            while (true)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                _ = Task.Run(() => AnswerAsync(client));
            }
        }

        private async Task AnswerAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    await using var tls = new SslStream(client.GetStream());
                    await tls.AuthenticateAsServerAsync(_certificate);
                    var request = new StringBuilder();
                    var buffer = new byte[4096];
                    while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await tls.ReadAsync(buffer);
                        if (read == 0)
                        {
                            return;
                        }
                        request.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    }
                    var head = $"HTTP/1.1 200 OK\r\nContent-Type: {RegistryClient.OciManifest}\r\nContent-Length: {Manifest.Length}\r\nConnection: close\r\n\r\n";
                    await tls.WriteAsync(Encoding.ASCII.GetBytes(head));
                    await tls.WriteAsync(Manifest);
                }
                catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
                {
                    // The client refused the certificate: what the refusing tests expect.
                }
            }
        }
    }
}
