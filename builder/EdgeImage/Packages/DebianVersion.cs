namespace EdgeImage.Packages;

/// <summary>
/// A Debian package version, [epoch:]upstream[-revision], ordered the way dpkg and apt order it
/// (Debian Policy 5.6.12): epochs numerically, then upstream and revision by alternating non-digit
/// and digit runs, where '~' sorts before everything (even the end of the string), letters before
/// other characters, and digit runs compare as numbers.
/// </summary>
public sealed class DebianVersion : IComparable<DebianVersion>, IEquatable<DebianVersion>
{
    private DebianVersion(string text, long epoch, string upstream, string revision)
    {
        Text = text;
        Epoch = epoch;
        Upstream = upstream;
        Revision = revision;
    }

    /// <summary>The version exactly as written.</summary>
    public string Text { get; }

    public long Epoch { get; }

    public string Upstream { get; }

    /// <summary>Debian revision; empty when the version has none (which sorts like "0").</summary>
    public string Revision { get; }

    public static DebianVersion Parse(string text) =>
        TryParse(text, out var version, out var problem)
            ? version
            : throw new EdgeImageException(
                $"invalid Debian version '{text}': {problem}",
                "A version looks like [epoch:]upstream[-revision], e.g. 1:2.36-9+deb12u1; check the index or the version constraint.");

    public static bool TryParse(string text, out DebianVersion version) => TryParse(text, out version, out _);

    private static bool TryParse(string text, out DebianVersion version, out string problem)
    {
        version = null!;
        var s = text.Trim();
        if (s.Length == 0)
        {
            problem = "it is empty";
            return false;
        }
        if (s.Any(char.IsWhiteSpace))
        {
            problem = "it contains white space";
            return false;
        }

        long epoch = 0;
        var colon = s.IndexOf(':');
        if (colon >= 0)
        {
            var epochText = s[..colon];
            if (epochText.Length == 0 || !epochText.All(char.IsAsciiDigit) ||
                !long.TryParse(epochText, System.Globalization.CultureInfo.InvariantCulture, out epoch) || epoch > int.MaxValue)
            {
                problem = "the epoch before ':' must be a non-negative number";
                return false;
            }
            s = s[(colon + 1)..];
        }

        var upstream = s;
        var revision = "";
        var hyphen = s.LastIndexOf('-');
        if (hyphen >= 0)
        {
            upstream = s[..hyphen];
            revision = s[(hyphen + 1)..];
            if (revision.Length == 0)
            {
                problem = "the revision after the last '-' is empty";
                return false;
            }
        }
        if (upstream.Length == 0)
        {
            problem = "the upstream version is empty";
            return false;
        }
        if (!char.IsAsciiDigit(upstream[0]))
        {
            problem = "the upstream version must start with a digit";
            return false;
        }
        if (upstream.Any(c => !IsUpstreamChar(c)) || revision.Any(c => !IsRevisionChar(c)))
        {
            problem = "it contains a character other than letters, digits and . + ~ - :";
            return false;
        }

        version = new DebianVersion(text, epoch, upstream, revision);
        problem = "";
        return true;
    }

    private static bool IsUpstreamChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '+' or '~' or '-' or ':';

    private static bool IsRevisionChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '+' or '~';

    public int CompareTo(DebianVersion? other)
    {
        if (other is null)
        {
            return 1;
        }
        var byEpoch = Epoch.CompareTo(other.Epoch);
        if (byEpoch != 0)
        {
            return byEpoch;
        }
        var byUpstream = CompareFragment(Upstream, other.Upstream);
        return byUpstream != 0 ? byUpstream : CompareFragment(Revision, other.Revision);
    }

    /// <summary>Compares two version strings; both must parse.</summary>
    public static int Compare(string a, string b) => Parse(a).CompareTo(Parse(b));

    /// <summary>dpkg's verrevcmp: alternating non-digit runs (compared by <see cref="Order"/>) and digit runs (compared numerically).</summary>
    private static int CompareFragment(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            while ((i < a.Length && !char.IsAsciiDigit(a[i])) || (j < b.Length && !char.IsAsciiDigit(b[j])))
            {
                var ac = i < a.Length && !char.IsAsciiDigit(a[i]) ? Order(a[i]) : 0;
                var bc = j < b.Length && !char.IsAsciiDigit(b[j]) ? Order(b[j]) : 0;
                if (ac != bc)
                {
                    return ac.CompareTo(bc);
                }
                i++;
                j++;
            }
            while (i < a.Length && a[i] == '0')
            {
                i++;
            }
            while (j < b.Length && b[j] == '0')
            {
                j++;
            }
            var firstDifference = 0;
            while (i < a.Length && char.IsAsciiDigit(a[i]) && j < b.Length && char.IsAsciiDigit(b[j]))
            {
                if (firstDifference == 0)
                {
                    firstDifference = a[i] - b[j];
                }
                i++;
                j++;
            }
            if (i < a.Length && char.IsAsciiDigit(a[i]))
            {
                return 1;
            }
            if (j < b.Length && char.IsAsciiDigit(b[j]))
            {
                return -1;
            }
            if (firstDifference != 0)
            {
                return Math.Sign(firstDifference);
            }
        }
        return 0;
    }

    /// <summary>Sort weight of a non-digit character: '~' below the end of the string (0), letters below other characters.</summary>
    private static int Order(char c) => c switch
    {
        '~' => -1,
        _ when char.IsAsciiLetter(c) => c,
        _ => c + 256,
    };

    public bool Equals(DebianVersion? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is DebianVersion other && Equals(other);

    /// <summary>Consistent with <see cref="Equals(DebianVersion?)"/>: "1.0" and "0:1.0-0" are equal and hash alike.</summary>
    public override int GetHashCode() => HashCode.Combine(Epoch, Normalize(Upstream), Normalize(Revision));

    private static string Normalize(string fragment)
    {
        var sb = new System.Text.StringBuilder();
        var i = 0;
        while (i < fragment.Length)
        {
            if (char.IsAsciiDigit(fragment[i]))
            {
                while (i < fragment.Length && fragment[i] == '0')
                {
                    i++;
                }
                var start = i;
                while (i < fragment.Length && char.IsAsciiDigit(fragment[i]))
                {
                    i++;
                }
                sb.Append('#').Append(fragment, start, i - start);
            }
            else
            {
                sb.Append(fragment[i++]);
            }
        }
        return sb.ToString().TrimEnd('#');
    }

    public static bool operator <(DebianVersion a, DebianVersion b) => a.CompareTo(b) < 0;

    public static bool operator >(DebianVersion a, DebianVersion b) => a.CompareTo(b) > 0;

    public static bool operator <=(DebianVersion a, DebianVersion b) => a.CompareTo(b) <= 0;

    public static bool operator >=(DebianVersion a, DebianVersion b) => a.CompareTo(b) >= 0;

    public override string ToString() => Text;
}
