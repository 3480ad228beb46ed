using System.Text.RegularExpressions;

namespace EdgeImage.K0s;

/// <summary>
/// Kubernetes node label syntax, for the labels a device registers with: the seed's `labels:` and
/// a profile's `k0s.worker.labels`. Both reach the kubelet through `k0s install worker --labels`.
/// The device checks the same rules again before it uses them (LABEL_RE and kubelet_refuses_label in
/// overlays/k0s-join/usr/lib/edgeimage/k0s-join).
/// </summary>
public static partial class NodeLabels
{
    /// <summary>
    /// The keys of the kubernetes.io and k8s.io namespaces kubelet takes in --node-labels
    /// (KubeletLabels in k8s.io/api's well_known_labels.go); with any other key there kubelet
    /// refuses to start ("unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels").
    /// </summary>
    public static readonly IReadOnlyList<string> KubeletKeys =
    [
        "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
        "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    ];

    /// <summary>The namespaces (and their subdomains) of those namespaces kubelet takes every key of.</summary>
    public static readonly IReadOnlyList<string> KubeletNamespaces = ["kubelet.kubernetes.io", "node.kubernetes.io"];

    /// <summary>Why <paramref name="key"/> is not a label key, or null.</summary>
    public static string? KeyProblem(string key)
    {
        var slash = key.LastIndexOf('/');
        var (prefix, name) = slash < 0 ? (null, key) : (key[..slash], key[(slash + 1)..]);
        if (prefix is not null && (prefix.Length > 253 || !DnsNamePattern().IsMatch(prefix)))
        {
            return $"label prefix '{prefix}' is not a lower-case DNS subdomain (e.g. example.com/role)";
        }
        if (name.Length is 0 or > 63 || !NamePattern().IsMatch(name))
        {
            return $"'{key}' is not a Kubernetes label key (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit; optionally prefixed by a domain and '/')";
        }
        return prefix is not null && KubeletRefuses(key, prefix)
            ? $"kubelet refuses '{key}' in --node-labels: of the kubernetes.io and k8s.io namespaces it takes only "
                + $"{string.Join(", ", KubeletNamespaces.Select(n => n + "/*"))} and {string.Join(", ", KubeletKeys)}; "
                + "use a prefix of your own (e.g. example.com/role), or set the label from the control plane (kubectl label node)"
            : null;
    }

    private static bool KubeletRefuses(string key, string prefix)
    {
        static bool In(string prefix, string domain) => prefix == domain || prefix.EndsWith("." + domain, StringComparison.Ordinal);
        return (In(prefix, "kubernetes.io") || In(prefix, "k8s.io"))
            && !KubeletNamespaces.Any(n => In(prefix, n))
            && !KubeletKeys.Contains(key, StringComparer.Ordinal);
    }

    /// <summary>Why <paramref name="value"/> is not a label value, or null; the empty value is one.</summary>
    public static string? ValueProblem(string value) =>
        value.Length == 0 || (value.Length <= 63 && NamePattern().IsMatch(value))
            ? null
            : $"'{value}' is not a Kubernetes label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)";

    // RFC 1123 subdomain as Kubernetes validates a label prefix: lower case only.
    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex NamePattern();
}
