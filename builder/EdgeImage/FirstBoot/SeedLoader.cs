using System.Text.RegularExpressions;
using EdgeImage.K0s;
using EdgeImage.Profiles;

namespace EdgeImage.FirstBoot;

/// <summary>
/// Reads a device seed strictly, like profiles: an unknown key, a wrong type or a bad value is an
/// error at file:line:col, and every error of the file is reported at once. The checks are the ones
/// the device repeats before it uses a value (usr/lib/edgeimage/k0s-join in overlays/k0s-join), so
/// a seed this accepts is never refused on the device.
/// </summary>
public static partial class SeedLoader
{
    public static readonly IReadOnlyList<string> TopLevelKeys = ["hostname", "token", "token_file", "labels", "network", "ntp", "ssh_authorized_keys"];

    private static readonly IReadOnlyList<string> NetworkKeys = ["mode", "address", "gateway", "dns"];

    public static Seed Load(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new EdgeImageException($"seed file {path} does not exist", "write one as README.md (\"Device seed\") describes", ExitCodes.NotFound);
        }
        using var reader = File.OpenText(full);
        return Parse(reader, ProfileLoader.DisplayPath(full), Path.GetDirectoryName(full)!);
    }

    /// <param name="directory">Where token_file is looked up.</param>
    public static Seed Parse(TextReader text, string file, string directory)
    {
        var errors = new List<(SourceMark Where, string Message)>();
        YamlNode? root;
        try
        {
            root = YamlNodes.Read(file, text);
        }
        catch (ProfileSyntaxError e)
        {
            throw Failure(file, [(e.Where, $"YAML syntax: {e.Message}")]);
        }
        if (root is not YamlMapping mapping)
        {
            throw Failure(file, [(root?.Start ?? new SourceMark(file, 1, 1), "a seed is a mapping of keys (hostname:, token:, ...)" + (root is null ? ", but the file is empty" : ""))]);
        }

        var values = Keys(mapping, TopLevelKeys, "", errors);
        var hostname = Scalar(values, "hostname", errors, Hostname);
        if (!values.ContainsKey("hostname"))
        {
            errors.Add((mapping.Start, "missing required key 'hostname'"));
        }

        string? token = Scalar(values, "token", errors, TokenProblem);
        var tokenFile = Scalar(values, "token_file", errors, FileNameProblem);
        string? tokenText = token;
        if (values.ContainsKey("token") && values.ContainsKey("token_file"))
        {
            errors.Add((values["token_file"].Start, "set either 'token' or 'token_file', not both"));
        }
        else if (!values.ContainsKey("token") && !values.ContainsKey("token_file"))
        {
            errors.Add((mapping.Start, "missing the join token: set 'token' (the output of `k0s token create --role=worker`) or 'token_file' (a file beside the seed holding it)"));
        }
        else if (tokenFile is not null)
        {
            var tokenPath = Path.Combine(directory, tokenFile);
            if (!File.Exists(tokenPath))
            {
                errors.Add((values["token_file"].Start, $"'token_file': {tokenPath} does not exist"));
            }
            else
            {
                tokenText = File.ReadAllText(tokenPath).Trim();
                if (TokenProblem(tokenText) is { } problem)
                {
                    errors.Add((values["token_file"].Start, $"'token_file': {tokenFile}: {problem}"));
                    tokenText = null;
                }
            }
        }

        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (values.TryGetValue("labels", out var labelsNode))
        {
            if (labelsNode is not YamlMapping labelMap)
            {
                errors.Add((labelsNode.Start, "'labels' must be a mapping of label: value"));
            }
            else
            {
                foreach (var (keyNode, valueNode) in labelMap.Entries)
                {
                    var key = Text(keyNode, "labels key", errors, NodeLabels.KeyProblem);
                    var value = valueNode is YamlScalar { IsNull: true } ? "" : Text(valueNode, $"labels.{key}", errors, NodeLabels.ValueProblem);
                    if (key is not null && value is not null && !labels.TryAdd(key, value))
                    {
                        errors.Add((keyNode.Start, $"duplicate label '{key}'"));
                    }
                }
            }
        }

        var network = new SeedNetwork();
        if (values.TryGetValue("network", out var networkNode))
        {
            network = Network(networkNode, errors);
        }

        var ntp = List(values, "ntp", errors, ServerProblem);
        var keys = List(values, "ssh_authorized_keys", errors, SshKeyProblem);

        if (errors.Count > 0)
        {
            throw Failure(file, errors);
        }
        return new Seed
        {
            Hostname = hostname!,
            Token = token,
            TokenFile = tokenFile,
            TokenText = tokenText!,
            Labels = labels,
            Network = network,
            Ntp = ntp,
            SshAuthorizedKeys = keys,
            SourcePath = file,
        };
    }

    private static SeedNetwork Network(YamlNode node, List<(SourceMark, string)> errors)
    {
        if (node is not YamlMapping mapping)
        {
            errors.Add((node.Start, "'network' must be a mapping with mode:, address:, gateway:, dns:"));
            return new SeedNetwork();
        }
        var values = Keys(mapping, NetworkKeys, "network.", errors);
        var mode = Scalar(values, "mode", errors, m => m is "dhcp" or "static" ? null : $"must be dhcp or static, not '{m}'", "network.");
        var address = Scalar(values, "address", errors, SeedAddresses.AddressWithPrefixProblem, "network.");
        var gateway = Scalar(values, "gateway", errors, SeedAddresses.AddressProblem, "network.");
        var dns = List(values, "dns", errors, SeedAddresses.AddressProblem, "network.");
        var isStatic = mode == "static";
        if (isStatic && !values.ContainsKey("address"))
        {
            errors.Add((mapping.Start, "'network': mode static needs an address (e.g. address: 192.168.1.17/24)"));
        }
        if (!isStatic)
        {
            foreach (var key in new[] { "address", "gateway" }.Where(values.ContainsKey))
            {
                errors.Add((values[key].Start, $"'network.{key}' is only used with mode: static (DHCP assigns it)"));
            }
        }
        return new SeedNetwork
        {
            Mode = isStatic ? SeedNetworkMode.Static : SeedNetworkMode.Dhcp,
            Address = address,
            Gateway = gateway,
            Dns = dns,
        };
    }

    /// <summary>Value nodes by key; the value node's Start is used for errors about the value, so keys are kept apart.</summary>
    private static Dictionary<string, YamlNode> Keys(YamlMapping mapping, IReadOnlyList<string> allowed, string prefix, List<(SourceMark, string)> errors)
    {
        var values = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in mapping.Entries)
        {
            if (keyNode is not YamlScalar { Value: var key } || !allowed.Contains(key, StringComparer.Ordinal))
            {
                var name = keyNode is YamlScalar s ? s.Value : "?";
                errors.Add((keyNode.Start, $"unknown key '{prefix}{name}'; valid keys{(prefix.Length == 0 ? "" : " under " + prefix.TrimEnd('.') + ":")}: {string.Join(", ", allowed)}"));
                continue;
            }
            if (!values.TryAdd(key, valueNode))
            {
                errors.Add((keyNode.Start, $"duplicate key '{prefix}{key}'; it is already set above"));
            }
        }
        return values;
    }

    private static string? Scalar(Dictionary<string, YamlNode> values, string key, List<(SourceMark, string)> errors, Func<string, string?> check, string prefix = "") =>
        values.TryGetValue(key, out var node) ? Text(node, prefix + key, errors, check) : null;

    private static List<string> List(Dictionary<string, YamlNode> values, string key, List<(SourceMark, string)> errors, Func<string, string?> check, string prefix = "")
    {
        if (!values.TryGetValue(key, out var node))
        {
            return [];
        }
        if (node is not YamlSequence sequence)
        {
            errors.Add((node.Start, $"'{prefix}{key}' must be a list" + (node is YamlScalar { IsNull: false } one ? $" (write [{one.Value}])" : "")));
            return [];
        }
        return sequence.Items.Select(item => Text(item, $"{prefix}{key} item", errors, check)).OfType<string>().ToList();
    }

    private static string? Text(YamlNode node, string path, List<(SourceMark, string)> errors, Func<string, string?> check)
    {
        if (node is not YamlScalar scalar || scalar.IsNull)
        {
            errors.Add((node.Start, $"'{path}' must be a string" + (node is YamlScalar ? "; give it a value or remove the key" : "")));
            return null;
        }
        if (scalar.Value.Any(char.IsControl))
        {
            errors.Add((node.Start, $"'{path}' must be one line without control characters"));
            return null;
        }
        if (check(scalar.Value) is { } problem)
        {
            errors.Add((node.Start, $"'{path}': {problem}"));
            return null;
        }
        return scalar.Value;
    }

    internal static string? Hostname(string value) =>
        value.Length <= 63 && HostnamePattern().IsMatch(value)
            ? null
            : $"'{value}' is not a valid host name (lower-case letters, digits and '-', dot-separated, at most 63 characters; it becomes the Kubernetes node name)";

    private static string? TokenProblem(string value)
    {
        try
        {
            JoinToken.Parse(value);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    // The FAT partition ignores case: SEED.ENV would be seed.env.
    private static string? FileNameProblem(string value) =>
        !FileNamePattern().IsMatch(value) ? $"'{value}' must be a plain file name beside the seed (letters, digits, '.', '_', '-'; no folders)"
        : value.Equals(SeedFiles.YamlName, StringComparison.OrdinalIgnoreCase) || value.Equals(SeedFiles.EnvName, StringComparison.OrdinalIgnoreCase)
            ? $"'{value}' is the name of a file `edgeimage seed` writes itself ({SeedFiles.YamlName}, {SeedFiles.EnvName}; the FAT partition ignores case); name the token file e.g. node-17.token"
        : null;

    // A name of numbers only (10.1, 0x0a000001) is an IPv4 shorthand to the resolver, not a name.
    private static string? ServerProblem(string value) =>
        SeedAddresses.IsIPv4(value) || SeedAddresses.IsIPv6(value) ? null
        : SeedAddresses.LooksNumeric(value) || value.Contains(':', StringComparison.Ordinal) || value.Contains('%', StringComparison.Ordinal) ? SeedAddresses.AddressProblem(value)
        : value.Length <= 253 && DnsNamePattern().IsMatch(value) ? null
        : $"'{value}' is neither a host name nor an IP address";

    internal static string? SshKeyProblem(string value)
    {
        var match = SshKeyPattern().Match(value);
        if (!match.Success)
        {
            return "not an OpenSSH public key line (TYPE BASE64 [COMMENT], TYPE one of ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com)";
        }
        try
        {
            var blob = Convert.FromBase64String(match.Groups["blob"].Value);
            var length = blob.Length >= 4 ? (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3] : -1;
            var type = length > 0 && length <= blob.Length - 4 ? System.Text.Encoding.ASCII.GetString(blob, 4, length) : null;
            return type == match.Groups["type"].Value ? null : $"the key data is not a {match.Groups["type"].Value} key";
        }
        catch (FormatException)
        {
            return "the key data is not base64";
        }
    }

    private static EdgeImageException Failure(string file, List<(SourceMark Where, string Message)> errors)
    {
        var lines = errors.OrderBy(e => e.Where.Line).ThenBy(e => e.Where.Column).Select(e => $"{e.Where}: {e.Message}").ToList();
        var message = lines.Count == 1 ? lines[0] : $"{lines.Count} errors in seed {file}:\n" + string.Join("\n", lines);
        return new EdgeImageException(message, $"the seed format is described in README.md (\"Device seed\"); valid keys: {string.Join(", ", TopLevelKeys)}", ExitCodes.InvalidSeed);
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex HostnamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$")]
    private static partial Regex DnsNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]*$")]
    private static partial Regex FileNamePattern();

    [GeneratedRegex(@"^(?<type>ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) (?<blob>[A-Za-z0-9+/]+={0,2})( [^\x00-\x1f]*)?$")]
    private static partial Regex SshKeyPattern();
}
