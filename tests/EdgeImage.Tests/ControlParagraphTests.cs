using EdgeImage.Packages;

namespace EdgeImage.Tests;

public class ControlParagraphTests
{
    [Fact]
    public void Parses_paragraphs_with_continuation_lines_and_keeps_start_lines()
    {
        const string text = "Package: a\nDescription: short\n long line\n .\nVersion: 1\n\n\nPackage: b\nversion: 2\n";
        var all = ControlParagraph.ParseAll(new StringReader(text)).ToList();

        Assert.Equal(2, all.Count);
        Assert.Equal("short\nlong line\n.", all[0]["Description"]);
        Assert.Equal("2", all[1]["Version"]);
        Assert.Equal(8, all[1].Line);
    }

    [Fact]
    public void Writes_back_what_it_read()
    {
        const string text = "Package: a\nDescription: short\n long line\nVersion: 1\n";
        Assert.Equal(text, ControlParagraph.ParseSingle(text).ToString());
    }

    [Fact]
    public void Rejects_a_line_without_a_colon_and_names_the_line()
    {
        var e = Assert.Throws<EdgeImageException>(() => ControlParagraph.ParseAll(new StringReader("Package: a\nbogus\n")).ToList());
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void Reads_crlf_and_lone_cr_line_ends_comments_and_whitespace_only_separators_like_ReadLine()
    {
        const string text = "# header\r\nPackage: a\r\nDescription: x\r\n more\r\n\t\r\nPackage: b\rVersion:  2 \r";
        var all = ControlParagraph.ParseAll(new StringReader(text)).ToList();

        Assert.Equal(2, all.Count);
        Assert.Equal("x\nmore", all[0]["description"]);
        Assert.Equal(2, all[0].Line);
        Assert.Equal(("b", "2"), (all[1]["Package"], all[1]["VERSION"]));
        Assert.Equal(6, all[1].Line);
    }

    [Fact]
    public void Lines_longer_than_the_read_buffer_and_paragraphs_across_buffer_ends_are_read_whole()
    {
        var longValue = string.Concat(Enumerable.Range(0, 50_000).Select(i => $"dep{i}, ")).TrimEnd(',', ' ');
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            text.Append($"Package: p{i}\r\nDepends: {(i == 1500 ? longValue : "libc6")}\r\nDescription: d\r\n line {i}\r\n\r\n");
        }

        var all = ControlParagraph.ParseAll(new StringReader(text.ToString())).ToList();

        Assert.Equal(3000, all.Count);
        Assert.Equal(Enumerable.Range(0, 3000).Select(i => $"p{i}"), all.Select(p => p["Package"]));
        Assert.Equal(longValue, all[1500]["Depends"]);
        Assert.All(all.Where((_, i) => i != 1500), p => Assert.Equal("libc6", p["Depends"]));
        Assert.Equal("d\nline 2999", all[2999]["Description"]);
        Assert.Equal(1 + 2999 * 5, all[2999].Line);
    }

    [Fact]
    public void A_repeated_field_answers_with_its_last_value_and_keeps_both_in_order()
    {
        var p = ControlParagraph.ParseSingle("Package: a\nTag: one\ntag: two\n");

        Assert.Equal("two", p["Tag"]);
        Assert.Equal(["Package", "Tag", "tag"], p.Fields.Select(f => f.Key));
        Assert.Null(p["Depends"]);
    }

    [Fact]
    public void A_continuation_line_before_any_field_is_rejected_with_its_line()
    {
        var e = Assert.Throws<EdgeImageException>(() => ControlParagraph.ParseAll(new StringReader("# c\n more\n")).ToList());
        Assert.Contains("line 2: continuation line without a field", e.Message);
    }
}
