using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace EdgeImage.Profiles;

/// <summary>A place in a profile file, 1-based, as editors and compilers print it.</summary>
public sealed record SourceMark(string File, long Line, long Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

internal abstract record YamlNode(SourceMark Start);

internal sealed record YamlScalar(SourceMark Start, string Value, ScalarStyle Style) : YamlNode(Start)
{
    /// <summary>An unquoted scalar; only these can be booleans, numbers or null.</summary>
    public bool IsPlain => Style is ScalarStyle.Plain or ScalarStyle.Any;

    public bool IsNull => IsPlain && Value is "" or "~" or "null" or "Null" or "NULL";
}

internal sealed record YamlSequence(SourceMark Start, IReadOnlyList<YamlNode> Items) : YamlNode(Start);

internal sealed record YamlMapping(SourceMark Start, IReadOnlyList<KeyValuePair<YamlNode, YamlNode>> Entries) : YamlNode(Start);

/// <summary>
/// Reads one YAML document into nodes that keep their marks. Built on parser events rather than
/// YamlDotNet's representation model so that duplicate keys stay visible (the model throws on the
/// first one) and can be reported together with every other mistake in the file.
/// </summary>
internal static class YamlNodes
{
    /// <summary>Returns the document's root, or null when the file holds no document; syntax errors throw ProfileSyntaxError.</summary>
    public static YamlNode? Read(string file, TextReader text)
    {
        var parser = new Parser(text);
        var anchors = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        var last = new SourceMark(file, 1, 1);
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                return null;
            }
            parser.Consume<DocumentStart>();
            var root = ReadNode(parser, file, anchors, ref last);
            parser.Consume<DocumentEnd>();
            if (parser.Accept<DocumentStart>(out var second))
            {
                throw new ProfileSyntaxError(At(file, second.Start), "a profile file holds one YAML document; remove the second '---'");
            }
            return root;
        }
        catch (YamlException e)
        {
            throw new ProfileSyntaxError(At(file, e.Start), e.Message);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner gives up this way on some unterminated flow collections.
            throw new ProfileSyntaxError(last, "unexpected end of the YAML here (an unclosed '[' or '{'?)");
        }
    }

    private static YamlNode ReadNode(IParser parser, string file, Dictionary<string, YamlNode> anchors, ref SourceMark last)
    {
        last = At(file, parser.Current?.Start ?? Mark.Empty);
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            return anchors.TryGetValue(alias.Value.Value, out var target)
                ? target
                : throw new ProfileSyntaxError(At(file, alias.Start), $"alias *{alias.Value} refers to no anchor");
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            return Remember(anchors, scalar.Anchor, new YamlScalar(At(file, scalar.Start), scalar.Value, scalar.Style));
        }
        if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            var items = new List<YamlNode>();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                items.Add(ReadNode(parser, file, anchors, ref last));
            }
            return Remember(anchors, sequenceStart.Anchor, new YamlSequence(At(file, sequenceStart.Start), items));
        }
        var mappingStart = parser.Consume<MappingStart>();
        var entries = new List<KeyValuePair<YamlNode, YamlNode>>();
        while (!parser.TryConsume<MappingEnd>(out _))
        {
            var key = ReadNode(parser, file, anchors, ref last);
            var value = ReadNode(parser, file, anchors, ref last);
            entries.Add(new(key, value));
        }
        return Remember(anchors, mappingStart.Anchor, new YamlMapping(At(file, mappingStart.Start), entries));
    }

    private static YamlNode Remember(Dictionary<string, YamlNode> anchors, YamlDotNet.Core.AnchorName anchor, YamlNode node)
    {
        if (!anchor.IsEmpty)
        {
            anchors[anchor.Value] = node;
        }
        return node;
    }

    private static SourceMark At(string file, Mark mark) => new(file, Math.Max(1, mark.Line), Math.Max(1, mark.Column));
}

internal sealed class ProfileSyntaxError(SourceMark where, string message) : Exception(message)
{
    public SourceMark Where { get; } = where;
}
