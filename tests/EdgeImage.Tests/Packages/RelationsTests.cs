using EdgeImage.Packages;

namespace EdgeImage.Tests.Packages;

public class RelationsTests
{
    [Fact]
    public void Parses_alternatives_versions_arch_qualifiers_restrictions_and_profiles()
    {
        var groups = Relations.Parse("a (>= 1.0) | b:any, c [amd64 arm64] <!nocheck> <stage1 cross>, d:native (<< 2:3~)");

        Assert.Equal(3, groups.Count);
        var (a, b) = (groups[0].Alternatives[0], groups[0].Alternatives[1]);
        Assert.Equal(("a", RelationOperator.LaterOrEqual, "1.0"), (a.Name, a.Operator, a.Version!.Text));
        Assert.Equal(("b", "any", RelationOperator.None), (b.Name, b.ArchQualifier, b.Operator));
        Assert.Null(b.Version);
        var c = groups[1].Alternatives.Single();
        Assert.Equal(["amd64", "arm64"], c.Architectures);
        Assert.Equal(2, c.Profiles.Count);
        Assert.Equal(["stage1", "cross"], c.Profiles[1]);
        var d = groups[2].Alternatives.Single();
        Assert.Equal(("d", "native", RelationOperator.StrictlyEarlier, 2L), (d.Name, d.ArchQualifier, d.Operator, d.Version!.Epoch));
        Assert.Equal("d:native (<< 2:3~)", d.ToString());
    }

    [Theory]
    [InlineData("x (<< 2)", "1.9", true)]
    [InlineData("x (<< 2)", "2", false)]
    [InlineData("x (<= 2)", "2", true)]
    [InlineData("x (< 2)", "2", true)]
    [InlineData("x (= 2)", "2-0", true)]
    [InlineData("x (= 2)", "2-1", false)]
    [InlineData("x (>= 2)", "2~rc1", false)]
    [InlineData("x (> 2)", "2", true)]
    [InlineData("x (>> 2)", "2", false)]
    [InlineData("x (>> 2)", "2+b1", true)]
    [InlineData("x", "0", true)]
    [InlineData("x(>=1)", "1", true)]
    public void Version_operators_compare_like_dpkg(string relation, string version, bool accepted)
    {
        Assert.Equal(accepted, Relations.ParseOne(relation).AcceptsVersion(DebianVersion.Parse(version)));
    }

    [Fact]
    public void Unversioned_provides_satisfy_only_unversioned_relations()
    {
        Assert.True(Relations.ParseOne("v").AcceptsProvided(null));
        Assert.False(Relations.ParseOne("v (>= 1)").AcceptsProvided(null));
        Assert.True(Relations.ParseOne("v (>= 1)").AcceptsProvided(DebianVersion.Parse("1.5")));
    }

    [Fact]
    public void Architecture_restrictions_can_be_positive_or_negated()
    {
        var only = Relations.ParseOne("a [amd64 arm64]");
        var not = Relations.ParseOne("a [!armhf]");
        Assert.True(only.AppliesTo("arm64"));
        Assert.False(only.AppliesTo("armhf"));
        Assert.False(not.AppliesTo("armhf"));
        Assert.True(not.AppliesTo("amd64"));
        Assert.True(Relations.ParseOne("a").AppliesTo("armhf"));
    }

    [Fact]
    public void Empty_fields_and_trailing_commas_are_tolerated()
    {
        Assert.Empty(Relations.Parse(null));
        Assert.Empty(Relations.Parse("  "));
        Assert.Equal(2, Relations.Parse("a, b,").Count);
        Assert.Equal(2, Relations.Parse("a,\n b").Count);
    }

    [Theory]
    [InlineData("a (>= 1.0")]
    [InlineData("a (=> 1.0)")]
    [InlineData("a (>= )")]
    [InlineData("a [amd64")]
    [InlineData("a | , b")]
    [InlineData(":any")]
    [InlineData("a b")]
    public void Malformed_relations_are_reported_with_the_field(string field)
    {
        var e = Assert.Throws<EdgeImageException>(() => Relations.Parse(field, "Packages:12 Depends"));
        Assert.StartsWith("Packages:12 Depends: cannot parse relation", e.Message);
    }
}
