using System.Collections.Frozen;
using System.Text;

namespace EdgeImage.Packages;

/// <summary>
/// One paragraph of a Debian control file (deb822): Packages indexes, Release files, a .deb's
/// control file and the dpkg status database all use this format. Field names are case-insensitive;
/// the order of fields is kept so a paragraph can be written back as it was read.
/// </summary>
public sealed class ControlParagraph
{
    private readonly KeyValuePair<string, string>[] _fields;

    public ControlParagraph(IReadOnlyList<KeyValuePair<string, string>> fields, int line = 0)
    {
        _fields = [.. fields];
        Line = line;
    }

    /// <summary>Fields in file order. Multi-line values keep their continuation lines, joined by '\n', with the leading space removed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields => _fields;

    /// <summary>1-based line where the paragraph starts in its file, for error messages.</summary>
    public int Line { get; }

    /// <summary>The field's value; the last one wins when a name repeats.</summary>
    public string? this[string name]
    {
        get
        {
            // A paragraph has a couple of dozen fields at most, so a scan beats building a map for
            // each of the ~70,000 paragraphs of an index; comparing lengths first rejects most names.
            for (var i = _fields.Length - 1; i >= 0; i--)
            {
                var key = _fields[i].Key;
                if (key.Length == name.Length && string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
                {
                    return _fields[i].Value;
                }
            }
            return null;
        }
    }

    public string Required(string name, string source) =>
        this[name] ?? throw new EdgeImageException(
            $"{source}:{Line}: control paragraph has no '{name}' field",
            "The file is not a valid Debian control file; check the mirror or the package.");

    /// <summary>Parses every paragraph of a control file.</summary>
    public static IEnumerable<ControlParagraph> ParseAll(TextReader reader) => new Parser(reader).Paragraphs();

    /// <summary>
    /// Reads lines as spans of one reused buffer instead of a string per line, shares one string per
    /// distinct field name (and per value of the few fields with few distinct values), and only
    /// builds a StringBuilder value for fields that continue over several lines.
    /// </summary>
    private sealed class Parser(TextReader reader)
    {
        // Fields whose values repeat across an index; sharing them saves memory, not time.
        private static readonly FrozenSet<string> RepetitiveFields = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
            "Architecture", "Priority", "Section", "Multi-Arch", "Maintainer", "Essential", "Protected", "Important",
            "Build-Essential", "Origin", "Status", "Source", "Homepage", "Built-Using", "Enhances");

        private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
        private char[] _buffer = new char[1 << 16];
        private int _start;
        private int _end;
        private bool _eof;

        public IEnumerable<ControlParagraph> Paragraphs()
        {
            var fields = new List<KeyValuePair<string, string>>();
            string? name = null;
            string? single = null;
            var multi = new StringBuilder();
            var continued = false;
            int lineNo = 0, start = 0;

            void Flush()
            {
                if (name is not null)
                {
                    fields.Add(new(name, continued ? multi.ToString() : single!));
                    name = null;
                    multi.Clear();
                    continued = false;
                }
            }

            while (NextLine(out var lineStart, out var lineLength))
            {
                lineNo++;
                ReadOnlySpan<char> line = _buffer.AsSpan(lineStart, lineLength);
                if (line.IsWhiteSpace())
                {
                    Flush();
                    if (fields.Count > 0)
                    {
                        yield return new ControlParagraph(fields, start);
                        fields.Clear();
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
                    if (!continued)
                    {
                        multi.Append(single);
                        continued = true;
                    }
                    multi.Append('\n').Append(line[1..]);
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
                name = Intern(_names, line[..colon]);
                var value = line[(colon + 1)..].Trim();
                single = RepetitiveFields.Contains(name) ? Intern(_values, value) : value.ToString();
            }
            Flush();
            if (fields.Count > 0)
            {
                yield return new ControlParagraph(fields, start);
            }
        }

        private static string Intern(Dictionary<string, string> table, ReadOnlySpan<char> text)
        {
            var lookup = table.GetAlternateLookup<ReadOnlySpan<char>>();
            if (!lookup.TryGetValue(text, out var shared))
            {
                shared = text.ToString();
                lookup[text] = shared;
            }
            return shared;
        }

        /// <summary>The next line in _buffer without its terminator; '\n', '\r\n' and a lone '\r' end a line, as TextReader.ReadLine has it.</summary>
        private bool NextLine(out int lineStart, out int lineLength)
        {
            var scanFrom = _start;
            while (true)
            {
                var terminator = _buffer.AsSpan(scanFrom, _end - scanFrom).IndexOfAny('\n', '\r');
                if (terminator >= 0)
                {
                    var at = scanFrom + terminator;
                    if (_buffer[at] == '\r' && at + 1 == _end && !_eof)
                    {
                        // A '\r' at the end of the buffer may be the first half of "\r\n": read on, then look again.
                        var offset = at - _start;
                        Fill();
                        scanFrom = _start + offset;
                        continue;
                    }
                    lineStart = _start;
                    lineLength = at - _start;
                    _start = at + 1;
                    if (_buffer[at] == '\r' && _start < _end && _buffer[_start] == '\n')
                    {
                        _start++;
                    }
                    return true;
                }
                if (_eof)
                {
                    if (_start == _end)
                    {
                        lineStart = lineLength = 0;
                        return false;
                    }
                    lineStart = _start;
                    lineLength = _end - _start;
                    _start = _end;
                    return true;
                }
                var scanned = _end - _start;
                Fill();
                scanFrom = _start + scanned;
            }
        }

        /// <summary>Moves the unread part to the front (growing the buffer for a very long line) and reads more.</summary>
        private void Fill()
        {
            var pending = _end - _start;
            if (pending > _buffer.Length / 2)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            Array.Copy(_buffer, _start, _buffer, 0, pending);
            _start = 0;
            _end = pending;
            var read = reader.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
            {
                _eof = true;
            }
            _end += read;
        }
    }

    public static ControlParagraph ParseSingle(string text) =>
        ParseAll(new StringReader(text)).FirstOrDefault()
        ?? throw new EdgeImageException("empty control file", "The package's control file has no fields.");

    public override string ToString()
    {
        var sb = new StringBuilder();
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
