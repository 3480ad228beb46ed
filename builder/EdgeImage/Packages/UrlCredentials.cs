using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeImage.Packages;

/// <summary>
/// Mirror URLs may carry credentials (<c>http://user:pass@host/debian</c>, as apt accepts them in
/// sources.list and users pass them to --mirror). The real URL is used for requests; everything
/// shown to the user (log lines, error messages) goes through <see cref="Redact(string)"/>, because
/// build logs end up in CI output and bug reports.
/// </summary>
public static partial class UrlCredentials
{
    /// <summary>
    /// Every <c>scheme://userinfo@</c> in <paramref name="text"/> with the password replaced by
    /// <c>***</c>; a userinfo without a password (a bare token) is replaced whole. Works on text that
    /// is not a valid URL too, such as a mistyped --mirror quoted in an error.
    /// </summary>
    public static string Redact(string text) =>
        text.Contains('@') ? UserInfo().Replace(text, m =>
        {
            var info = m.Groups["info"].Value;
            var colon = info.IndexOf(':');
            return m.Groups["scheme"].Value + (colon < 0 ? "***" : info[..colon] + ":***") + "@";
        }) : text;

    public static string Redact(Uri url) => Redact(url.ToString());

    /// <summary>
    /// The Basic credentials of the URL's userinfo, percent-decoded, as apt and curl send them; null
    /// without userinfo. HttpClient ignores userinfo, so without this a mirror behind a login
    /// answered 401 however the URL was written.
    /// </summary>
    public static AuthenticationHeaderValue? BasicAuthorization(Uri url)
    {
        if (string.IsNullOrEmpty(url.UserInfo))
        {
            return null;
        }
        var colon = url.UserInfo.IndexOf(':');
        var user = Uri.UnescapeDataString(colon < 0 ? url.UserInfo : url.UserInfo[..colon]);
        var password = colon < 0 ? "" : Uri.UnescapeDataString(url.UserInfo[(colon + 1)..]);
        return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    // The userinfo runs to the last '@' before the path: it cannot hold '/', '?', '#' or spaces.
    // Greedy, so an unescaped '@' in a password does not leave its rest behind.
    [GeneratedRegex(@"(?<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?<info>[^/?#\s]*)@")]
    private static partial Regex UserInfo();
}
