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
}
