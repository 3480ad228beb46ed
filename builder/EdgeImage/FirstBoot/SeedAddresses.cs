using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace EdgeImage.FirstBoot;

/// <summary>
/// The IP addresses a seed may hold, as the device's tools take them: systemd-networkd and openssl
/// parse with inet_pton, which knows only four-part dotted-decimal IPv4 and plain IPv6.
/// IPAddress.TryParse also accepts what inet_aton does (192.168.1 = 192.168.0.1, 0x0a000001, octal
/// 010.0.0.1), a scope (%eth0) and [::1]:53; such a seed would pass here and then put an address into
/// the device's .network file that networkd refuses, or one the user did not mean. The device checks
/// the same forms again (IPV4_RE and IPV6_RE in overlays/k0s-join/usr/lib/edgeimage/k0s-join).
/// </summary>
public static partial class SeedAddresses
{
    /// <summary>Why <paramref name="value"/> is not an IPv4 or IPv6 address the device can use, or null.</summary>
    public static string? AddressProblem(string value)
    {
        if (IsIPv4(value) || IsIPv6(value))
        {
            return null;
        }
        return $"'{value}' is not an IP address: {Fix(value)}";
    }

    /// <summary>Why <paramref name="value"/> is not ADDRESS/PREFIX (prefix 1-32 for IPv4, 1-128 for IPv6), or null.</summary>
    public static string? AddressWithPrefixProblem(string value)
    {
        var slash = value.IndexOf('/');
        if (slash < 0)
        {
            return $"'{value}' has no prefix length; write it as address/prefix, e.g. 192.168.1.17/24";
        }
        var (address, prefix) = (value[..slash], value[(slash + 1)..]);
        if (AddressProblem(address) is not null)
        {
            return $"'{value}' is not an address with prefix length: {Fix(address)}";
        }
        var max = IsIPv6(address) ? 128 : 32;
        return PrefixPattern().IsMatch(prefix) && int.Parse(prefix, CultureInfo.InvariantCulture) is var length && length >= 1 && length <= max
            ? null
            : $"'{value}': the prefix length must be a number from 1 to {max} (e.g. {(max == 32 ? "192.168.1.17/24" : "fd00::17/64")})";
    }

    /// <summary>True for a four-part dotted-decimal IPv4 address, each part 0-255 without leading zeros.</summary>
    public static bool IsIPv4(string value) => IPv4Pattern().IsMatch(value);

    /// <summary>True for an IPv6 address as inet_pton reads it: no brackets, port or scope.</summary>
    public static bool IsIPv6(string value) =>
        IPv6Characters().IsMatch(value)
        && IPAddress.TryParse(value, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>
    /// True when a host name would be read as an IPv4 address by inet_aton (getaddrinfo does that
    /// before any DNS): every dot-separated part a decimal, octal or hex number. Only the four-part
    /// decimal form is an address here; the rest is refused rather than left to be guessed.
    /// </summary>
    public static bool LooksNumeric(string value) => NumericHostPattern().IsMatch(value);

    private static string Fix(string value) =>
        value.Contains('%', StringComparison.Ordinal) ? "a scope (%interface) cannot be used here; write the address alone"
        : value.StartsWith('[') || (value.Count(c => c == ':') == 1 && value.Contains('.', StringComparison.Ordinal)) ? "write the address alone, without [brackets] or a :port"
        : value.Contains("0x", StringComparison.OrdinalIgnoreCase) ? "write an IPv4 address as four decimal numbers 0-255, e.g. 10.0.0.1"
        : NumericHostPattern().IsMatch(value) ? "write an IPv4 address as all four numbers 0-255, without leading zeros, e.g. 192.168.1.17"
        : "write an IPv4 address as four numbers 0-255 (e.g. 192.168.1.17) or an IPv6 address (e.g. fd00::17)";

    [GeneratedRegex(@"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$")]
    private static partial Regex IPv4Pattern();

    // Hex digits and colons, with an optional dotted IPv4 tail (::ffff:192.0.2.1); at least one colon.
    [GeneratedRegex(@"^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(:[0-9.]+)?$")]
    private static partial Regex IPv6Characters();

    [GeneratedRegex(@"^(0[xX][0-9A-Fa-f]*|[0-9]+)(\.(0[xX][0-9A-Fa-f]*|[0-9]+))*\.?$")]
    private static partial Regex NumericHostPattern();

    [GeneratedRegex("^(0|[1-9][0-9]{0,2})$")]
    private static partial Regex PrefixPattern();
}
