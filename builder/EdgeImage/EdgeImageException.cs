namespace EdgeImage;

/// <summary>
/// The one error type users see: a message saying what went wrong and a hint saying how to fix it.
/// Program.cs catches it once and prints both without a stack trace.
/// </summary>
public sealed class EdgeImageException(string message, string? hint = null, int exitCode = ExitCodes.Failure, Exception? inner = null)
    : Exception(message, inner)
{
    public string? Hint { get; } = hint;

    public int ExitCode { get; } = exitCode;
}

/// <summary>Process exit codes, documented in README.md.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int InvalidProfile = 3;
    public const int VerificationFailed = 4;
    public const int NotFound = 5;
    public const int MissingTool = 6;

    /// <summary>A device seed (edgeimage/seed.yaml) is malformed.</summary>
    public const int InvalidSeed = 7;
    public const int Cancelled = 130;
}
