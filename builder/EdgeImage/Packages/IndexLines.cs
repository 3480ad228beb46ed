using System.Text;

namespace EdgeImage.Packages;

/// <summary>Finds paragraphs of a deb822 file by their first line without parsing the rest of it.</summary>
internal static class IndexLines
{
    /// <summary>
    /// The text of the paragraph that starts at each of <paramref name="sortedLines"/> (1-based,
    /// ascending), or null for a line that does not start one (it is blank, past the end, or follows
    /// a line that is not blank). Lines end at '\n' as in Debian's indexes.
    /// </summary>
    public static string?[] ParagraphsAt(string path, IReadOnlyList<int> sortedLines)
    {
        var result = new string?[sortedLines.Count];
        ReadOnlySpan<byte> text = File.ReadAllBytes(path);
        var position = 0;
        var line = 1;
        var previousBlank = true;
        var k = 0;
        while (k < sortedLines.Count && position < text.Length)
        {
            if (sortedLines[k] < line)
            {
                k++;
                continue;
            }
            var rest = text[position..];
            var lineEnd = rest.IndexOf((byte)'\n');
            if (sortedLines[k] == line)
            {
                if (previousBlank && lineEnd != 0)
                {
                    var end = rest.IndexOf("\n\n"u8);
                    result[k] = Encoding.UTF8.GetString(end < 0 ? rest : rest[..(end + 1)]);
                }
                k++;
                continue;
            }
            if (lineEnd < 0)
            {
                break;
            }
            previousBlank = lineEnd == 0;
            position += lineEnd + 1;
            line++;
        }
        return result;
    }
}
