using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgeImage.FirstBoot;

namespace EdgeImage.Tests.FirstBoot;

public sealed class SeedTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-seed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static string CaPem()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test cluster CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddYears(100));
        return ca.ExportCertificatePem();
    }

    internal static string Token(string server = "https://10.0.2.100:6443") =>
        new JoinToken { Server = new Uri(server), CertificateAuthorityPem = CaPem(), BearerToken = "abcdef.0123456789abcdef" }.Encode();

    internal static string Ed25519Key(string comment)
    {
        var blob = new byte[4 + 11 + 4 + 32];
        BinaryPrimitives.WriteInt32BigEndian(blob, 11);
        Encoding.ASCII.GetBytes("ssh-ed25519").CopyTo(blob, 4);
        BinaryPrimitives.WriteInt32BigEndian(blob.AsSpan(15), 32);
        return $"ssh-ed25519 {Convert.ToBase64String(blob)} {comment}";
    }

    private Seed Parse(string yaml) => SeedLoader.Parse(new StringReader(yaml), "seed.yaml", _dir);

    private static EdgeImageException Refused(Func<Seed> parse) => Assert.Throws<EdgeImageException>(() => parse());

    [Fact]
    public void A_token_made_like_k0s_token_create_decodes_to_its_server_CA_and_bootstrap_token()
    {
        var ca = CaPem();
        var encoded = new JoinToken { Server = new Uri("https://controller.example:6443"), CertificateAuthorityPem = ca, BearerToken = "abcdef.0123456789abcdef" }.Encode();

        var token = JoinToken.Parse(encoded);

        Assert.Equal("https://controller.example:6443/", token.Server.ToString());
        Assert.Equal(ca, token.CertificateAuthorityPem);
        Assert.Equal("abcdef.0123456789abcdef", token.BearerToken);
    }

    [Theory]
    [InlineData("not base64 at all!", "not base64")]
    [InlineData("aGVsbG8=", "does not hold gzip")]
    public void A_token_that_is_not_a_k0s_token_is_refused_with_the_reason(string token, string reason)
    {
        var e = Assert.Throws<FormatException>(() => JoinToken.Parse(token));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void A_token_whose_kubeconfig_has_no_CA_is_refused()
    {
        var kubeconfig = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\nusers:\n- user:\n    token: abcdef.0123456789abcdef\n";
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(kubeconfig));
        }

        var e = Assert.Throws<FormatException>(() => JoinToken.Parse(Convert.ToBase64String(buffer.ToArray())));

        Assert.Contains("certificate-authority-data", e.Message);
    }

    [Fact]
    public void A_full_seed_is_read_with_every_field()
    {
        var token = Token();
        var key = Ed25519Key("admin@example");

        var seed = Parse($"""
            hostname: node-17
            token: {token}
            labels:
              site: berlin
              example.com/role: sensor
            network:
              mode: static
              address: 192.168.1.17/24
              gateway: 192.168.1.1
              dns: [192.168.1.1, 9.9.9.9]
            ntp: [ntp.example.org, 192.168.1.1]
            ssh_authorized_keys:
              - {key}
            """);

        Assert.Equal("node-17", seed.Hostname);
        Assert.Equal(token, seed.TokenText);
        Assert.Null(seed.TokenFile);
        Assert.Equal(["example.com/role", "site"], seed.Labels.Keys);
        Assert.Equal(SeedNetworkMode.Static, seed.Network.Mode);
        Assert.Equal(("192.168.1.17/24", "192.168.1.1"), (seed.Network.Address, seed.Network.Gateway));
        Assert.Equal(["192.168.1.1", "9.9.9.9"], seed.Network.Dns);
        Assert.Equal(["ntp.example.org", "192.168.1.1"], seed.Ntp);
        Assert.Equal([key], seed.SshAuthorizedKeys);
    }

    [Fact]
    public void A_minimal_seed_defaults_to_DHCP_and_no_labels()
    {
        var seed = Parse($"hostname: edge\ntoken: {Token()}\n");

        Assert.Equal(SeedNetworkMode.Dhcp, seed.Network.Mode);
        Assert.Empty(seed.Labels);
        Assert.Empty(seed.Ntp);
    }

    [Fact]
    public void A_token_file_beside_the_seed_is_read_and_checked()
    {
        var token = Token();
        File.WriteAllText(Path.Combine(_dir, "node.token"), token + "\n");

        var seed = Parse("hostname: edge\ntoken_file: node.token\n");

        Assert.Equal(("node.token", token), (seed.TokenFile, seed.TokenText));
    }

    [Theory]
    [InlineData("SEED.ENV")]
    [InlineData("seed.yaml")]
    [InlineData("Seed.Yaml")]
    public void A_token_file_named_like_a_file_the_seed_writes_is_refused_as_FAT_ignores_case(string name)
    {
        File.WriteAllText(Path.Combine(_dir, name), Token());

        var e = Refused(() => Parse($"hostname: edge\ntoken_file: {name}\n"));

        Assert.Equal($"seed.yaml:2:13: 'token_file': '{name}' is the name of a file `edgeimage seed` writes itself (seed.yaml, seed.env; the FAT partition ignores case); name the token file e.g. node-17.token", e.Message);
    }

    [Fact]
    public void Every_mistake_of_a_seed_is_reported_at_once_with_its_line()
    {
        var e = Refused(() => Parse($"""
            hostname: Node_17
            token: {Token()}
            token_file: x.token
            labels:
              "-bad": ok
            network:
              mode: static
            colour: blue
            ssh_authorized_keys: [ssh-rsa not-a-key]
            """));

        Assert.Equal(ExitCodes.InvalidSeed, e.ExitCode);
        Assert.Contains("seed.yaml:1:11: 'hostname': 'Node_17' is not a valid host name", e.Message);
        Assert.Contains("seed.yaml:3:13: set either 'token' or 'token_file', not both", e.Message);
        Assert.Contains("seed.yaml:5:3: 'labels key': '-bad' is not a Kubernetes label key", e.Message);
        Assert.Contains("seed.yaml:7:3: 'network': mode static needs an address", e.Message);
        Assert.Contains("seed.yaml:8:1: unknown key 'colour'", e.Message);
        Assert.Contains("seed.yaml:9:23: 'ssh_authorized_keys item': not an OpenSSH public key line", e.Message);
        Assert.StartsWith("6 errors in seed seed.yaml", e.Message);
    }

    [Fact]
    public void A_seed_without_a_token_says_where_one_comes_from()
    {
        var e = Refused(() => Parse("hostname: edge\n"));

        Assert.Contains("k0s token create --role=worker", e.Message);
    }

    [Fact]
    public void A_broken_token_is_reported_on_its_line()
    {
        var e = Refused(() => Parse("hostname: edge\n\ntoken: aGVsbG8=\n"));

        Assert.Equal("seed.yaml:3:8: 'token': the join token's base64 does not hold gzip data; it is not a k0s join token", e.Message);
    }

    [Theory]
    [InlineData("node-role.kubernetes.io/worker")]
    [InlineData("kubernetes.io/role")]
    [InlineData("node-restriction.kubernetes.io/pool")]
    [InlineData("beta.kubernetes.io/fluentd-ds-ready")]
    [InlineData("k8s.io/zone")]
    [InlineData("team.k8s.io/zone")]
    public void Label_keys_kubelet_refuses_in_node_labels_are_refused_with_what_it_takes(string key)
    {
        var e = Refused(() => Parse($"hostname: edge\ntoken: {Token()}\nlabels:\n  site: lab\n  {key}: \"yes\"\n"));

        Assert.StartsWith($"seed.yaml:5:3: 'labels key': kubelet refuses '{key}' in --node-labels: of the kubernetes.io and k8s.io namespaces it takes only kubelet.kubernetes.io/*, node.kubernetes.io/* and kubernetes.io/hostname,", e.Message, StringComparison.Ordinal);
        Assert.Contains("use a prefix of your own (e.g. example.com/role)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_keys_kubelet_takes_are_accepted_and_a_prefix_is_lower_case()
    {
        string[] keys =
        [
            "kubelet.kubernetes.io/pool", "node.kubernetes.io/pool", "edge.node.kubernetes.io/pool", "kubernetes.io/hostname",
            "kubernetes.io/arch", "beta.kubernetes.io/os", "node.kubernetes.io/instance-type", "topology.kubernetes.io/zone",
            "failure-domain.beta.kubernetes.io/region", "notkubernetes.io/x", "example.com/Role",
        ];

        var seed = Parse($"hostname: edge\ntoken: {Token()}\nlabels:\n{string.Concat(keys.Select(k => $"  {k}: x\n"))}");

        Assert.Equal(keys.Order(StringComparer.Ordinal), seed.Labels.Keys);
        var e = Refused(() => Parse($"hostname: edge\ntoken: {Token()}\nlabels:\n  Example.com/role: x\n"));
        Assert.Equal("seed.yaml:4:3: 'labels key': label prefix 'Example.com' is not a lower-case DNS subdomain (e.g. example.com/role)", e.Message);
    }

    [Theory]
    [InlineData("192.168.117/24", "write an IPv4 address as all four numbers 0-255, without leading zeros")]
    [InlineData("0x0a000001/8", "write an IPv4 address as four decimal numbers 0-255")]
    [InlineData("010.0.0.1/8", "without leading zeros")]
    [InlineData("256.1.1.1/24", "all four numbers 0-255")]
    [InlineData("fe80::1%eth0/64", "a scope (%interface) cannot be used here")]
    [InlineData("[fd00::1]/64", "without [brackets] or a :port")]
    [InlineData("10.0.0.1/33", "the prefix length must be a number from 1 to 32")]
    [InlineData("10.0.0.1/024", "the prefix length must be a number from 1 to 32")]
    [InlineData("fd00::1/129", "the prefix length must be a number from 1 to 128")]
    [InlineData("10.0.0.1", "has no prefix length")]
    public void A_static_address_the_device_could_not_use_is_refused_on_its_line_with_the_fix(string address, string fix)
    {
        var e = Refused(() => Parse($"hostname: edge\ntoken: {Token()}\nnetwork:\n  mode: static\n  address: \"{address}\"\n"));

        Assert.StartsWith($"seed.yaml:5:12: 'network.address': '{address}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(fix, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.168.1", "gateway")]
    [InlineData("0x0a000001", "gateway")]
    [InlineData("::1%lo", "gateway")]
    [InlineData("[::1]:53", "dns")]
    [InlineData("10.0.0.1:53", "dns")]
    [InlineData("10.1", "dns")]
    public void Gateways_and_name_servers_are_plain_IPv4_or_IPv6_addresses(string value, string key)
    {
        var line = key == "dns" ? $"  dns: [\"{value}\"]" : $"  gateway: \"{value}\"";

        var e = Refused(() => Parse($"hostname: edge\ntoken: {Token()}\nnetwork:\n  mode: static\n  address: 10.0.0.2/24\n{line}\n"));

        Assert.Contains($"seed.yaml:6:", e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{value}' is not an IP address: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Full_IPv4_and_IPv6_addresses_are_accepted_and_NTP_servers_that_are_numbers_must_be_full_addresses()
    {
        var seed = Parse($"hostname: edge\ntoken: {Token()}\nnetwork:\n  mode: static\n  address: fd00::17/64\n  gateway: fd00::1\n  dns: [0.0.0.0, 255.255.255.255, \"::ffff:10.0.0.1\"]\nntp: [10.0.0.1, fd00::123, 0.debian.pool.ntp.org]\n");

        Assert.Equal(("fd00::17/64", "fd00::1"), (seed.Network.Address, seed.Network.Gateway));
        Assert.Equal(["0.0.0.0", "255.255.255.255", "::ffff:10.0.0.1"], seed.Network.Dns);
        Assert.Equal(["10.0.0.1", "fd00::123", "0.debian.pool.ntp.org"], seed.Ntp);

        var e = Refused(() => Parse($"hostname: edge\ntoken: {Token()}\nntp: [\"192.168.1\", 0x7f000001, \"[::1]:123\"]\n"));
        Assert.Contains("seed.yaml:3:7: 'ntp item': '192.168.1' is not an IP address: write an IPv4 address as all four numbers", e.Message, StringComparison.Ordinal);
        Assert.Contains("'ntp item': '0x7f000001' is not an IP address: write an IPv4 address as four decimal numbers", e.Message, StringComparison.Ordinal);
        Assert.Contains("'ntp item': '[::1]:123' is not an IP address: write the address alone", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://[fd00::1]:6443", "names an IPv6 address, which the device's join does not support")]
    [InlineData("https://10.0.2.100:6443/api", "is not https://HOST or https://HOST:PORT")]
    [InlineData("https://user@10.0.2.100:6443", "is not https://HOST or https://HOST:PORT")]
    [InlineData("https://10.1:6443", "names '10.1', which is not a four-part IPv4 address")]
    public void A_token_whose_server_the_device_would_refuse_is_refused_when_the_seed_is_written(string server, string problem)
    {
        var e = Assert.Throws<FormatException>(() => JoinToken.Parse(TokenWithServer(server)));

        Assert.StartsWith($"the join token's server URL '{server}' {problem}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://10.0.2.100:6443")]
    [InlineData("https://controller.example")]
    [InlineData("https://k0s-api.example:6443/")]
    public void Token_servers_the_device_accepts_are_accepted(string server) =>
        Assert.Equal(server.TrimEnd('/'), JoinToken.Parse(TokenWithServer(server)).Server.GetLeftPart(UriPartial.Authority));

    /// <summary>A token whose kubeconfig names <paramref name="server"/> verbatim (Encode would normalise it).</summary>
    private static string TokenWithServer(string server)
    {
        var kubeconfig = $"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {Convert.ToBase64String(Encoding.ASCII.GetBytes(CaPem()))}\n    server: {server}\n  name: k0s\nusers:\n- name: kubelet-bootstrap\n  user:\n    token: abcdef.0123456789abcdef\n";
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(kubeconfig));
        }
        return Convert.ToBase64String(buffer.ToArray());
    }

    [Fact]
    public void DHCP_with_a_static_address_is_refused()
    {
        var e = Refused(() => Parse($"hostname: edge\ntoken: {Token()}\nnetwork:\n  address: 10.0.0.2/24\n"));

        Assert.Contains("seed.yaml:4:12: 'network.address' is only used with mode: static", e.Message);
    }

    [Fact]
    public void The_canonical_seed_yaml_reads_back_as_the_same_seed()
    {
        var key = Ed25519Key("it's me: admin");
        var seed = Parse($$"""
            hostname: node-17
            token: {{Token()}}
            labels: {site: berlin, "example.com/role": sensor}
            network: {mode: static, address: 192.168.1.17/24, gateway: 192.168.1.1, dns: [192.168.1.1]}
            ntp: [ntp.example.org]
            ssh_authorized_keys: ["{{key}}"]
            """);

        var again = Parse(SeedFiles.RenderYaml(seed));

        Assert.Equal(seed.Hostname, again.Hostname);
        Assert.Equal(seed.TokenText, again.TokenText);
        Assert.Equal(seed.Labels, again.Labels);
        Assert.Equal(seed.Network.Address, again.Network.Address);
        Assert.Equal(seed.Network.Dns, again.Network.Dns);
        Assert.Equal(seed.Ntp, again.Ntp);
        Assert.Equal(seed.SshAuthorizedKeys, again.SshAuthorizedKeys);
    }

    [Fact]
    public void Seed_env_is_one_key_per_line_and_pins_the_yaml_it_was_rendered_from()
    {
        var token = Token();
        var seed = Parse($"hostname: node-17\ntoken: {token}\nlabels: {{site: berlin, role: sensor}}\nntp: [a.example, b.example]\n");
        var yaml = SeedFiles.RenderYaml(seed);

        var env = SeedFiles.RenderEnv(seed, yaml).Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToList();

        Assert.Equal(
        [
            "SEED_FORMAT=1",
            $"SEED_YAML_SHA256={Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(yaml)))}",
            "HOSTNAME=node-17",
            $"TOKEN={token}",
            "LABELS=role=sensor,site=berlin",
            "NETWORK=dhcp",
            "ADDRESS=",
            "GATEWAY=",
            "DNS=",
            "NTP=a.example b.example",
        ], env);
    }

    [Fact]
    public void Dropping_the_token_line_as_the_device_does_leaves_the_rest_of_the_seed_intact()
    {
        var seed = Parse($"hostname: node-17\ntoken: {Token()}\nlabels: {{site: berlin}}\n");
        var yaml = SeedFiles.RenderYaml(seed);

        var scrubbed = string.Join('\n', yaml.Split('\n').Where(l => !l.StartsWith("token:", StringComparison.Ordinal) && !l.StartsWith("token_file:", StringComparison.Ordinal)));

        Assert.DoesNotContain(seed.TokenText, scrubbed);
        var e = Refused(() => Parse(scrubbed));
        Assert.Single(e.Message.Split('\n'));
        Assert.Contains("missing the join token", e.Message);
    }
}
