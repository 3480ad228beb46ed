using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EdgeImage.IntegrationTests.Airgap;

/// <summary>
/// Debian's docker-registry (the CNCF distribution registry) serving on 127.0.0.1 from a temporary
/// storage directory for the lifetime of a test class, without auth or, with a <see cref="Login"/>,
/// with its htpasswd auth (a `Basic realm` challenge; it serves that over plain http too), and with
/// <see cref="Tls"/> over https with a certificate from a CA made for it by openssl. Images are
/// pushed into it with skopeo from OCI layouts the tests write themselves.
/// </summary>
public sealed class LocalRegistry : IAsyncLifetime
{
    public const string Binary = "/usr/bin/docker-registry";

    /// <summary>The one user the registry lets in (htpasswd, bcrypt as docker-registry requires), or null for no auth.</summary>
    public (string User, string Password)? Login { get; init; }

    /// <summary>Serve https with a certificate for <see cref="TlsName"/> and 127.0.0.1 issued by the CA in <see cref="CaFile"/>.</summary>
    public bool Tls { get; init; }

    public const string TlsName = "registry.test";

    /// <summary>The PEM CA certificate the registry's TLS certificate chains to (with <see cref="Tls"/>).</summary>
    public string CaFile => Path.Combine(_root, "ca.crt");

    private readonly string _root = Directory.CreateTempSubdirectory("eig-registry-").FullName;
    private Process? _process;

    /// <summary>127.0.0.1:PORT, the registry part of image references.</summary>
    public string Host { get; private set; } = "";

    public string Storage => Path.Combine(_root, "storage");

    public string Scratch => Path.Combine(_root, "scratch");

    public async Task InitializeAsync()
    {
        if (!File.Exists(Binary) || !File.Exists("/usr/bin/skopeo"))
        {
            throw new InvalidOperationException("the registry tests need Debian's docker-registry and skopeo: apt-get install docker-registry skopeo");
        }
        var auth = "";
        if (Login is (var user, var password))
        {
            if (!File.Exists("/usr/bin/htpasswd"))
            {
                throw new InvalidOperationException("the private registry tests need htpasswd (bcrypt): apt-get install apache2-utils");
            }
            var htpasswd = Path.Combine(_root, "htpasswd");
            await File.WriteAllTextAsync(htpasswd, TrixieDebs.Run("htpasswd", "-B", "-b", "-n", user, password));
            auth = $"""

                auth:
                  htpasswd:
                    realm: edgeimage-test
                    path: {htpasswd}
                """;
        }
        var tls = Tls ? MakeCertificates() : "";
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Host = $"127.0.0.1:{port}";
        Directory.CreateDirectory(Storage);
        Directory.CreateDirectory(Scratch);
        var config = Path.Combine(_root, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Storage}
            http:
              addr: {Host}
            """ + tls + auth);
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(config);
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        // The readiness probe only: it does not check the certificate the tests are about.
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator });
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await http.GetAsync($"{(Tls ? "https" : "http")}://{Host}/v2/");
                if (response.IsSuccessStatusCode || (Login is not null && response.StatusCode == HttpStatusCode.Unauthorized))
                {
                    return;
                }
                await Task.Delay(100);
            }
            catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !_process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Pushes an OCI layout's image (an index with --all) to NAME:TAG in this registry.</summary>
    public void Push(string layout, string refName, string repository, string tag) =>
        TrixieDebs.Run("skopeo", [
            "copy", "--quiet", "--all", "--dest-tls-verify=false",
            .. Login is (var user, var password) ? ["--dest-creds", $"{user}:{password}"] : Array.Empty<string>(),
            $"oci:{layout}:{refName}", $"docker://{Host}/{repository}:{tag}"]);

    /// <summary>A CA and a server certificate it signs (EC P-256, valid two days); returns the config's http.tls lines.</summary>
    private string MakeCertificates()
    {
        var (caKey, serverKey, csr, serverCert, extensions) = (Path.Combine(_root, "ca.key"), Path.Combine(_root, "server.key"),
            Path.Combine(_root, "server.csr"), Path.Combine(_root, "server.crt"), Path.Combine(_root, "server.ext"));
        TrixieDebs.Run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", caKey, "-out", CaFile, "-days", "2", "-subj", "/CN=EdgeImage test registry CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        TrixieDebs.Run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", serverKey, "-out", csr, "-subj", $"/CN={TlsName}");
        File.WriteAllText(extensions, $"subjectAltName=DNS:{TlsName},IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
        TrixieDebs.Run("openssl", "x509", "-req", "-in", csr, "-CA", CaFile, "-CAkey", caKey, "-CAcreateserial",
            "-out", serverCert, "-days", "2", "-extfile", extensions);
        return $"""

              tls:
                certificate: {serverCert}
                key: {serverKey}
            """;
    }

    /// <summary>The blob's data file in the registry's storage (filesystem driver layout).</summary>
    public string BlobFile(string digest) =>
        Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", digest[7..9], digest[7..], "data");

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process?.Dispose();
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }
}
