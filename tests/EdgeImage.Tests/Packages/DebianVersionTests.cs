using EdgeImage.Packages;

namespace EdgeImage.Tests.Packages;

public class DebianVersionTests
{
    [Theory]
    [InlineData("1.0~rc1", "1.0", -1)]
    [InlineData("1:0.1", "2.0", 1)]
    [InlineData("1.0-1", "1.0-1+b1", -1)]
    [InlineData("1.0+dfsg", "1.0", 1)]
    [InlineData("1.0", "1.0-0", 0)]
    [InlineData("0:1.0", "1.0", 0)]
    [InlineData("1.0~~", "1.0~", -1)]
    [InlineData("1.0~", "1.0", -1)]
    [InlineData("1.0a", "1.0", 1)]
    [InlineData("1.0a", "1.0+", -1)]
    [InlineData("1.0a", "1.0.", -1)]
    [InlineData("1.10", "1.9", 1)]
    [InlineData("1.001", "1.1", 0)]
    [InlineData("9", "10", -1)]
    [InlineData("1.2.3", "1.2.3.0", -1)]
    [InlineData("2.36-9+deb12u1", "2.36-9", 1)]
    [InlineData("1.0-1~bpo12+1", "1.0-1", -1)]
    [InlineData("252.30-1~deb12u2", "252.30-1", -1)]
    [InlineData("1:1.0", "1.0", 1)]
    [InlineData("2:1.0", "10:0.1", -1)]
    [InlineData("1.0-1", "1.0-10", -1)]
    [InlineData("1.0-a", "1.0-1", 1)]
    [InlineData("1.0-2.1", "1.0-2", 1)]
    [InlineData("6.12.38-1", "6.12.9-1", 1)]
    [InlineData("1:1.0:1-2", "1:1.0:1-10", -1)]
    [InlineData("1.0-1-2", "1.0-1-1", 1)]
    public void Versions_order_like_dpkg(string a, string b, int expected)
    {
        Assert.Equal(expected, Math.Sign(DebianVersion.Compare(a, b)));
        Assert.Equal(-expected, Math.Sign(DebianVersion.Compare(b, a)));
    }

    [Fact]
    public void Epoch_upstream_and_revision_are_split_at_the_first_colon_and_the_last_hyphen()
    {
        var v = DebianVersion.Parse("2:1.2-3-4");
        Assert.Equal(2, v.Epoch);
        Assert.Equal("1.2-3", v.Upstream);
        Assert.Equal("4", v.Revision);
        Assert.Equal("2:1.2-3-4", v.ToString());
    }

    [Fact]
    public void Equal_versions_are_equal_and_hash_alike_even_when_spelled_differently()
    {
        string[][] same = [["1.0", "0:1.0-0", "1.00", "01.0"], ["1.0a", "1.00a"], ["2.3-1", "2.03-01"]];
        foreach (var group in same)
        {
            var parsed = group.Select(DebianVersion.Parse).ToList();
            Assert.All(parsed, v => Assert.Equal(parsed[0], v));
            Assert.Single(parsed.Select(v => v.GetHashCode()).Distinct());
        }
        Assert.NotEqual(DebianVersion.Parse("1.0a"), DebianVersion.Parse("1.a"));
    }

    [Fact]
    public void Sorting_a_list_gives_dpkg_order()
    {
        string[] shuffled = ["1.0", "1:0.1", "1.0~rc1", "1.0+dfsg", "1.0-1", "0.9", "1.0~~", "1.0a", "1.0-1+b1"];
        var sorted = shuffled.Select(DebianVersion.Parse).Order().Select(v => v.Text).ToArray();
        Assert.Equal(["0.9", "1.0~~", "1.0~rc1", "1.0", "1.0-1", "1.0-1+b1", "1.0a", "1.0+dfsg", "1:0.1"], sorted);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a1.0")]
    [InlineData("1.0-")]
    [InlineData("1:")]
    [InlineData("x:1.0")]
    [InlineData("1.0 2")]
    [InlineData("1.0_1")]
    [InlineData("1.0-1:2")]
    public void Invalid_versions_are_rejected_with_a_message_naming_them(string text)
    {
        var e = Assert.Throws<EdgeImageException>(() => DebianVersion.Parse(text));
        Assert.Contains($"'{text}'", e.Message);
        Assert.NotNull(e.Hint);
        Assert.False(DebianVersion.TryParse(text, out _));
    }
}
