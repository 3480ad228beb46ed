using System.CommandLine;

namespace EdgeImage.Cli;

/// <summary>Value checks System.CommandLine runs while parsing, so a bad value is a usage error (exit 2) before any work starts.</summary>
internal static class OptionChecks
{
    /// <summary>Refuses zero and negative numbers: a count or a duration of them means a typo, not a request.</summary>
    public static T Positive<T>(this T option)
        where T : Option
    {
        option.Validators.Add(result =>
        {
            var value = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (value is not null && int.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var number) && number <= 0)
            {
                result.AddError($"{option.Name} must be a positive number, not {value}");
            }
        });
        return option;
    }
}
