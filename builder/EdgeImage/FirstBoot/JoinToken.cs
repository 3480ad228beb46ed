using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeImage.FirstBoot;

/// <summary>
/// A k0s worker join token as `k0s token create --role=worker` prints it: base64 of a gzip of a
/// kubeconfig whose one cluster names the API server and its CA (certificate-authority-data) and
/// whose one user authenticates with a bootstrap token. The device checks the same three things
/// before it joins (overlays/k0s-join/usr/lib/edgeimage/k0s-join).
/// </summary>
public sealed partial record JoinToken
{
    /// <summary>The API server the worker joins, e.g. https://10.0.0.1:6443.</summary>
    public required Uri Server { get; init; }

    /// <summary>PEM of the CA the server's certificate must chain to.</summary>
    public required string CertificateAuthorityPem { get; init; }

    /// <summary>The bootstrap token (ID.SECRET) the worker sends as its bearer token.</summary>
    public required string BearerToken { get; init; }

    /// <summary>Decodes and checks a token; the message says what is wrong in words a user can act on.</summary>
    public static JoinToken Parse(string token)
    {
        byte[] gzip;
        try
        {
            gzip = Convert.FromBase64String(token.Trim());
        }
        catch (FormatException)
        {
            throw new FormatException("the join token is not base64 (copy the whole output of `k0s token create --role=worker`)");
        }
        string kubeconfig;
        try
        {
            using var input = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
            using var reader = new StreamReader(input, Encoding.UTF8);
            kubeconfig = reader.ReadToEnd();
        }
        catch (InvalidDataException)
        {
            throw new FormatException("the join token's base64 does not hold gzip data; it is not a k0s join token");
        }
        var server = Field(kubeconfig, "server");
        var caData = Field(kubeconfig, "certificate-authority-data");
        var bearer = Field(kubeconfig, "token");
        if (server is null || !Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme != "https")
        {
            throw new FormatException($"the join token's kubeconfig has no https server URL{(server is null ? "" : $" (it says '{server}')")}");
        }
        if (ServerProblem(server) is { } problem)
        {
            throw new FormatException($"the join token's server URL '{server}' {problem}");
        }
        if (caData is null)
        {
            throw new FormatException("the join token's kubeconfig has no certificate-authority-data, so the server could not be verified");
        }
        string caPem;
        try
        {
            caPem = Encoding.ASCII.GetString(Convert.FromBase64String(caData));
        }
        catch (FormatException)
        {
            throw new FormatException("the join token's certificate-authority-data is not base64");
        }
        if (!caPem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new FormatException("the join token's certificate-authority-data holds no PEM certificate");
        }
        if (bearer is null || !BootstrapToken().IsMatch(bearer))
        {
            throw new FormatException("the join token's kubeconfig has no bootstrap token (user.token of the form abcdef.0123456789abcdef)");
        }
        return new JoinToken { Server = uri, CertificateAuthorityPem = caPem, BearerToken = bearer };
    }

    /// <summary>Encodes a token the way `k0s token create --role=worker` does (kubeconfig, gzip, base64).</summary>
    public string Encode()
    {
        var caData = Convert.ToBase64String(Encoding.ASCII.GetBytes(CertificateAuthorityPem));
        var kubeconfig = $"""
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: {caData}
                server: {Server.GetLeftPart(UriPartial.Authority)}
              name: k0s
            contexts:
            - context:
                cluster: k0s
                user: kubelet-bootstrap
              name: k0s
            current-context: k0s
            kind: Config
            preferences: {"{}"}
            users:
            - name: kubelet-bootstrap
              user:
                token: {BearerToken}

            """;
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(kubeconfig));
        }
        return Convert.ToBase64String(buffer.ToArray());
    }

    /// <summary>
    /// The value of a `key: value` line. A k0s token's kubeconfig has each of these keys once; the
    /// device reads it the same line-wise way, so a token this accepts is one the device accepts.
    /// </summary>
    private static string? Field(string kubeconfig, string key)
    {
        var match = Regex.Match(kubeconfig, $@"^\s*{Regex.Escape(key)}:[ \t]*(?<value>\S+)[ \t]*$", RegexOptions.Multiline);
        return match.Success ? match.Groups["value"].Value.Trim('"', '\'') : null;
    }

    /// <summary>
    /// The device takes https://HOST[:PORT][/] with HOST a DNS name or an IPv4 address (SERVER in
    /// check_token of overlays/k0s-join/usr/lib/edgeimage/k0s-join); a token it would refuse is
    /// refused here, when the seed is written, rather than on the device.
    /// </summary>
    private static string? ServerProblem(string server)
    {
        if (server.Contains('[', StringComparison.Ordinal))
        {
            return "names an IPv6 address, which the device's join does not support; "
                + "give the controller a DNS name or IPv4 address (spec.api.externalAddress in its k0s.yaml) and create the token again";
        }
        var match = ServerPattern().Match(server);
        if (!match.Success)
        {
            return "is not https://HOST or https://HOST:PORT (a DNS name or IPv4 address, no path or user)";
        }
        // The port's range was checked by Uri above.
        var host = match.Groups["host"].Value;
        return SeedAddresses.LooksNumeric(host) && !SeedAddresses.IsIPv4(host)
            ? $"names '{host}', which is not a four-part IPv4 address; create the token with the controller's full address"
            : null;
    }

    [GeneratedRegex(@"^https://(?<host>[A-Za-z0-9.-]+)(:[0-9]+)?/?$")]
    private static partial Regex ServerPattern();

    [GeneratedRegex(@"^[a-z0-9]{6}\.[a-z0-9]{16}$")]
    private static partial Regex BootstrapToken();
}
