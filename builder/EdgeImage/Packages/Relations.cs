namespace EdgeImage.Packages;

/// <summary>Version operator of a relation. The obsolete '&lt;' and '&gt;' mean &lt;= and &gt;= (as dpkg reads them).</summary>
public enum RelationOperator
{
    None,
    StrictlyEarlier,
    EarlierOrEqual,
    Exactly,
    LaterOrEqual,
    StrictlyLater,
}

/// <summary>
/// One package named in a relationship field: <c>name[:arch] [(op version)] [[arch ...]] [&lt;profile ...&gt; ...]</c>.
/// </summary>
public sealed record Relation
{
    public required string Name { get; init; }

    /// <summary>"any", "native", an architecture name, or null when the name had no qualifier.</summary>
    public string? ArchQualifier { get; init; }

    public RelationOperator Operator { get; init; }

    public DebianVersion? Version { get; init; }

    /// <summary>Architecture restriction list, e.g. ["amd64", "!armhf"]; empty when there is none.</summary>
    public IReadOnlyList<string> Architectures { get; init; } = [];

    /// <summary>Build-profile formulas: each inner list is one &lt;...&gt; group of terms such as "!nocheck".</summary>
    public IReadOnlyList<IReadOnlyList<string>> Profiles { get; init; } = [];

    /// <summary>True when <paramref name="candidate"/> satisfies the version constraint (always true without one).</summary>
    public bool AcceptsVersion(DebianVersion candidate)
    {
        if (Version is null)
        {
            return true;
        }
        var c = candidate.CompareTo(Version);
        return Operator switch
        {
            RelationOperator.StrictlyEarlier => c < 0,
            RelationOperator.EarlierOrEqual => c <= 0,
            RelationOperator.Exactly => c == 0,
            RelationOperator.LaterOrEqual => c >= 0,
            RelationOperator.StrictlyLater => c > 0,
            _ => true,
        };
    }

    /// <summary>
    /// A relation satisfied through a Provides: an unversioned provide only satisfies an unversioned
    /// relation, a versioned provide is compared like a real version (Policy 7.5).
    /// </summary>
    public bool AcceptsProvided(DebianVersion? providedVersion) =>
        Version is null || (providedVersion is not null && AcceptsVersion(providedVersion));

    /// <summary>Whether the architecture restriction list allows <paramref name="architecture"/>.</summary>
    public bool AppliesTo(string architecture)
    {
        if (Architectures.Count == 0)
        {
            return true;
        }
        var negated = Architectures[0].StartsWith('!');
        var listed = Architectures.Any(a => a.TrimStart('!') == architecture);
        return negated ? !listed : listed;
    }

    public static string OperatorText(RelationOperator op) => op switch
    {
        RelationOperator.StrictlyEarlier => "<<",
        RelationOperator.EarlierOrEqual => "<=",
        RelationOperator.Exactly => "=",
        RelationOperator.LaterOrEqual => ">=",
        RelationOperator.StrictlyLater => ">>",
        _ => "",
    };

    public override string ToString()
    {
        var name = ArchQualifier is null ? Name : $"{Name}:{ArchQualifier}";
        return Version is null ? name : $"{name} ({OperatorText(Operator)} {Version})";
    }
}

/// <summary>An OR group: the relation holds when any alternative holds.</summary>
public sealed record RelationGroup(IReadOnlyList<Relation> Alternatives)
{
    public override string ToString() => string.Join(" | ", Alternatives);
}

/// <summary>Parses relationship fields (Depends, Pre-Depends, Provides, Conflicts, Breaks, Build-Depends, ...).</summary>
public static class Relations
{
    /// <summary>Parses a whole field: comma-separated groups of '|'-separated relations. Empty text gives no groups.</summary>
    public static IReadOnlyList<RelationGroup> Parse(string? field, string source = "relationship field")
    {
        if (string.IsNullOrWhiteSpace(field))
        {
            return [];
        }
        var groups = new List<RelationGroup>();
        foreach (var groupText in field.Split(','))
        {
            if (string.IsNullOrWhiteSpace(groupText))
            {
                // dpkg tolerates a trailing comma; so do we.
                continue;
            }
            groups.Add(new RelationGroup([.. groupText.Split('|').Select(alt => ParseOne(alt, source, field))]));
        }
        return groups;
    }

    /// <summary>Parses one relation such as "libc6 (>= 2.36)" or "python3:any".</summary>
    public static Relation ParseOne(string text, string source = "relationship field", string? field = null)
    {
        var s = text.Trim();
        var i = 0;
        SkipSpace(s, ref i);
        var start = i;
        while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] is not '(' and not '[' and not '<')
        {
            i++;
        }
        var fullName = s[start..i];
        if (fullName.Length == 0)
        {
            throw Malformed(source, field ?? text, $"'{text.Trim()}' has no package name");
        }
        string? qualifier = null;
        var colon = fullName.IndexOf(':');
        if (colon >= 0)
        {
            qualifier = fullName[(colon + 1)..];
            fullName = fullName[..colon];
            if (fullName.Length == 0 || qualifier.Length == 0)
            {
                throw Malformed(source, field ?? text, $"'{text.Trim()}' has an empty name or architecture qualifier");
            }
        }

        var op = RelationOperator.None;
        DebianVersion? version = null;
        var architectures = new List<string>();
        var profiles = new List<IReadOnlyList<string>>();
        SkipSpace(s, ref i);
        if (i < s.Length && s[i] == '(')
        {
            var close = s.IndexOf(')', i);
            if (close < 0)
            {
                throw Malformed(source, field ?? text, $"'{text.Trim()}' has an unclosed '('");
            }
            var inner = s[(i + 1)..close].Trim();
            var opLength = inner.TakeWhile(c => c is '<' or '>' or '=').Count();
            op = inner[..opLength] switch
            {
                "<<" => RelationOperator.StrictlyEarlier,
                "<=" or "<" => RelationOperator.EarlierOrEqual,
                "=" => RelationOperator.Exactly,
                ">=" or ">" => RelationOperator.LaterOrEqual,
                ">>" => RelationOperator.StrictlyLater,
                // A bare version is the obsolete spelling of '='.
                "" => RelationOperator.Exactly,
                _ => throw Malformed(source, field ?? text, $"'{text.Trim()}' has an unknown version operator '{inner[..opLength]}'"),
            };
            var versionText = inner[opLength..].Trim();
            if (!DebianVersion.TryParse(versionText, out var parsed))
            {
                throw Malformed(source, field ?? text, $"'{text.Trim()}' has an invalid version '{versionText}'");
            }
            version = parsed;
            i = close + 1;
            SkipSpace(s, ref i);
        }
        if (i < s.Length && s[i] == '[')
        {
            var close = s.IndexOf(']', i);
            if (close < 0)
            {
                throw Malformed(source, field ?? text, $"'{text.Trim()}' has an unclosed '['");
            }
            architectures.AddRange(s[(i + 1)..close].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            i = close + 1;
            SkipSpace(s, ref i);
        }
        while (i < s.Length && s[i] == '<')
        {
            var close = s.IndexOf('>', i);
            if (close < 0)
            {
                throw Malformed(source, field ?? text, $"'{text.Trim()}' has an unclosed '<'");
            }
            profiles.Add(s[(i + 1)..close].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            i = close + 1;
            SkipSpace(s, ref i);
        }
        if (i != s.Length)
        {
            throw Malformed(source, field ?? text, $"unexpected '{s[i..]}' after '{s[..i].Trim()}'");
        }
        return new Relation
        {
            Name = fullName,
            ArchQualifier = qualifier,
            Operator = op,
            Version = version,
            Architectures = architectures,
            Profiles = profiles,
        };
    }

    private static void SkipSpace(string s, ref int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i]))
        {
            i++;
        }
    }

    private static EdgeImageException Malformed(string source, string field, string problem) =>
        new($"{source}: cannot parse relation '{field.Trim()}': {problem}",
            "Relationship fields look like 'a (>= 1.0) | b:any, c'; the index or control file is malformed.");
}
