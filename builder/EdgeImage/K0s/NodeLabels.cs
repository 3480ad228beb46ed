using System.Text.RegularExpressions;

namespace EdgeImage.K0s;

/// <summary>
/// Kubernetes node label syntax, for the labels a device registers with: the seed's `labels:` and
/// a profile's `k0s.worker.labels`. Both reach the kubelet through `k0s install worker --labels`.
/// The device checks the same syntax again before it uses them (LABEL_RE in
/// overlays/k0s-join/usr/lib/edgeimage/k0s-join).
/// </summary>
public static partial class NodeLabels
{
    /// <summary>Why <paramref name="key"/> is not a label key, or null.</summary>
    public static string? KeyProblem(string key)
    {
        var slash = key.LastIndexOf('/');
        var (prefix, name) = slash < 0 ? (null, key) : (key[..slash], key[(slash + 1)..]);
        if (prefix is not null && (prefix.Length > 253 || !DnsNamePattern().IsMatch(prefix)))
        {
            return $"label prefix '{prefix}' is not a DNS subdomain (e.g. example.com/role)";
        }
        return name.Length is > 0 and <= 63 && NamePattern().IsMatch(name)
            ? null
            : $"'{key}' is not a Kubernetes label key (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit; optionally prefixed by a domain and '/')";
    }

    /// <summary>Why <paramref name="value"/> is not a label value, or null; the empty value is one.</summary>
    public static string? ValueProblem(string value) =>
        value.Length == 0 || (value.Length <= 63 && NamePattern().IsMatch(value))
            ? null
            : $"'{value}' is not a Kubernetes label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)";

    [GeneratedRegex(@"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$")]
    private static partial Regex DnsNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex NamePattern();
}
