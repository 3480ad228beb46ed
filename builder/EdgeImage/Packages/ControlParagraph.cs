using System.Collections.Frozen;

namespace EdgeImage.Packages;

/// <summary>
/// One paragraph of a Debian control file (deb822): Packages indexes, Release files, a .deb's
/// control file and the dpkg status database all use this format. Field names are case-insensitive;
/// the order of fields is kept so a paragraph can be written back as it was read.
/// </summary>
public sealed class ControlParagraph
{
    private readonly FrozenDictionary<string, string> _byName;

    public ControlParagraph(IReadOnlyList<KeyValuePair<string, string>> fields, int line = 0)
    {
        Fields = fields;
        Line = line;
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in fields)
        {
            map[name] = value;
        }
        _byName = map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Fields in file order. Multi-line values keep their continuation lines, joined by '\n', with the leading space removed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; }

    /// <summary>1-based line where the paragraph starts in its file, for error messages.</summary>
    public int Line { get; }

    public string? this[string name] => _byName.GetValueOrDefault(name);

    public string Required(string name, string source) =>
        this[name] ?? throw new EdgeImageException(
            $"{source}:{Line}: control paragraph has no '{name}' field",
            "The file is not a valid Debian control file; check the mirror or the package.");

    /// <summary>Parses every paragraph of a control file.</summary>
    public static IEnumerable<ControlParagraph> ParseAll(TextReader reader)
    {
        var fields = new List<KeyValuePair<string, string>>();
        string? name = null;
        var value = new System.Text.StringBuilder();
        int lineNo = 0, start = 0;

        void Flush()
        {
            if (name is not null)
            {
                fields.Add(new(name, value.ToString()));
                name = null;
                value.Clear();
            }
        }

        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (line.Length == 0 || line.All(char.IsWhiteSpace))
            {
                Flush();
                if (fields.Count > 0)
                {
                    yield return new ControlParagraph(fields, start);
                    fields = [];
                }
                continue;
            }
            if (line[0] == '#')
            {
                continue;
            }
            if (line[0] is ' ' or '\t')
            {
                if (name is null)
                {
                    throw new EdgeImageException($"line {lineNo}: continuation line without a field", "The control file is malformed.");
                }
                value.Append('\n').Append(line.AsSpan(1));
                continue;
            }
            Flush();
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                throw new EdgeImageException($"line {lineNo}: expected 'Field: value'", "The control file is malformed.");
            }
            if (fields.Count == 0)
            {
                start = lineNo;
            }
            name = line[..colon];
            value.Append(line.AsSpan(colon + 1).Trim());
        }
        Flush();
        if (fields.Count > 0)
        {
            yield return new ControlParagraph(fields, start);
        }
    }

    public static ControlParagraph ParseSingle(string text) =>
        ParseAll(new StringReader(text)).FirstOrDefault()
        ?? throw new EdgeImageException("empty control file", "The package's control file has no fields.");

    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var (name, value) in Fields)
        {
            sb.Append(name).Append(':');
            var lines = value.Split('\n');
            if (lines[0].Length > 0)
            {
                sb.Append(' ').Append(lines[0]);
            }
            sb.Append('\n');
            foreach (var cont in lines.Skip(1))
            {
                sb.Append(' ').Append(cont).Append('\n');
            }
        }
        return sb.ToString();
    }
}
