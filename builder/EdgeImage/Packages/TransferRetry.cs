namespace EdgeImage.Packages;

/// <summary>
/// Runs a download again from the start when its body breaks off or stalls
/// (<see cref="TransferBrokenException"/>: the idle timeout, a connection reset mid-body). Every
/// retry is a warning; the last failure an error with the caller's hint. Local file errors (a full
/// or read-only disk under the cache) are the host's, not the network's, and pass through with the
/// other errors (not found, a wrong hash).
/// Used for .debs and Release files from the mirror and for k0s release assets.
/// </summary>
internal static class TransferRetry
{
    /// <summary>Tries in all for a download that has no retry policy of its own (k0s assets, registry pulls).</summary>
    public const int DefaultAttempts = 3;

    public static async Task<T> RunAsync<T>(string what, Uri url, int attempts, string hint, Func<Task<T>> transfer, IBuildLog log)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await transfer();
            }
            catch (TransferBrokenException e) when (attempt < attempts)
            {
                log.Warn($"{what}: transfer from {UrlCredentials.Redact(url)} broke off ({UrlCredentials.Redact(e.Message)}); retrying");
            }
            catch (TransferBrokenException e)
            {
                throw new EdgeImageException($"{what}: transfer from {UrlCredentials.Redact(url)} failed {attempt} times: {UrlCredentials.Redact(e.Message)}",
                    hint, ExitCodes.Failure, e);
            }
        }
    }
}
