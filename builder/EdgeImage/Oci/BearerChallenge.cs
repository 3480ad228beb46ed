using System.Text;

namespace EdgeImage.Oci;

/// <summary>
/// A `WWW-Authenticate: Bearer realm="...",service="...",scope="..."` challenge (the Docker registry
/// token flow). Values may be quoted and a quoted scope may hold commas
/// ("repository:a/b:pull,push"), so the header is read as RFC 7235 auth-params, not split at ','.
/// </summary>
public sealed record BearerChallenge(string Realm, string? Service, string? Scope)
{
    public static BearerChallenge? TryParse(string header)
    {
        var text = header.Trim();
        if (!text.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = "Bearer ".Length;
        while (i < text.Length)
        {
            while (i < text.Length && text[i] is ' ' or ',')
            {
                i++;
            }
            var equals = text.IndexOf('=', i);
            if (equals < 0)
            {
                break;
            }
            var key = text[i..equals].Trim();
            i = equals + 1;
            var value = new StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                for (i++; i < text.Length && text[i] != '"'; i++)
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }
                    value.Append(text[i]);
                }
                i++;
            }
            else
            {
                for (; i < text.Length && text[i] != ','; i++)
                {
                    value.Append(text[i]);
                }
            }
            parameters[key] = value.ToString().Trim();
        }
        return parameters.TryGetValue("realm", out var realm) && realm.Length > 0
            ? new BearerChallenge(realm, parameters.GetValueOrDefault("service"), parameters.GetValueOrDefault("scope"))
            : null;
    }

    /// <summary>The token endpoint URL: realm?service=...&amp;scope=... (scope falls back to pull on the repository asked for).</summary>
    public Uri TokenUrl(string repository)
    {
        var query = new List<string>();
        if (Service is not null)
        {
            query.Add("service=" + Uri.EscapeDataString(Service));
        }
        query.Add("scope=" + Uri.EscapeDataString(ScopeFor(repository)));
        return new Uri(Realm + (Realm.Contains('?') ? "&" : "?") + string.Join("&", query));
    }

    /// <summary>
    /// The form of OAuth2's refresh-token grant that trades a docker identity token for a bearer
    /// token at the realm, with the fields containerd sends: the challenge's scope as one
    /// space-separated field (the registry token spec's form), and the service even when empty.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string>> RefreshTokenForm(string repository, string clientId, string refreshToken) =>
    [
        new("grant_type", "refresh_token"),
        new("service", Service ?? ""),
        new("scope", ScopeFor(repository)),
        new("client_id", clientId),
        new("refresh_token", refreshToken),
    ];

    private string ScopeFor(string repository) => Scope ?? $"repository:{repository}:pull";
}
