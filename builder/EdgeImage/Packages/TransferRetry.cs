namespace EdgeImage.Packages;

/// <summary>
/// Runs a download again from the start when it breaks off or stalls: an IOException out of the
/// transfer (the fetcher's idle timeout, a connection reset mid-body). Every retry is a warning; the
/// last failure an error with the caller's hint. A full disk is the host's, not the network's, and
/// is not retried; other errors (not found, a wrong hash) are not this helper's to retry either.
/// Used for .debs and Release files from the mirror and for k0s release assets.
/// </summary>
internal static class TransferRetry
{
    public static async Task<T> RunAsync<T>(string what, Uri url, int attempts, string hint, Func<Task<T>> transfer, IBuildLog log)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await transfer();
            }
            catch (IOException e) when (attempt < attempts && !HostIoError.IsDiskFull(e))
            {
                log.Warn($"{what}: transfer from {UrlCredentials.Redact(url)} broke off ({UrlCredentials.Redact(e.Message)}); retrying");
            }
            catch (IOException e) when (!HostIoError.IsDiskFull(e))
            {
                throw new EdgeImageException($"{what}: transfer from {UrlCredentials.Redact(url)} failed {attempt} times: {UrlCredentials.Redact(e.Message)}",
                    hint, ExitCodes.Failure, e);
            }
        }
    }
}
