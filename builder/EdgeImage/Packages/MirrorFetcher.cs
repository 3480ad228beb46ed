using System.Net;

namespace EdgeImage.Packages;

/// <summary>
/// How bytes are read from a mirror. The repository verifies everything it gets, so a transport
/// only moves bytes; tests put a double here that behaves like a mirror in the middle of a sync.
/// </summary>
public interface IMirrorFetcher
{
    /// <summary>Opens <paramref name="url"/> for reading, or returns null when the mirror has no such file.</summary>
    Task<Stream?> OpenAsync(Uri url, CancellationToken cancellation);
}

/// <summary>http(s) through one shared HttpClient, and file:// for local repositories.</summary>
public sealed class MirrorFetcher : IMirrorFetcher, IDisposable
{
    private const int Attempts = 3;

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(20),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    })
    {
        // Responses are read as streams (ResponseHeadersRead), so this bounds the wait for the
        // headers, not the transfer of a large .deb; the body is bounded by IdleTimeout instead.
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>
    /// How long a response body may go without a byte before the read fails with an IOException.
    /// A mirror that stalls mid-transfer keeps the connection open without sending; without this
    /// bound the read waits forever and the repository's retries and fallbacks never start. A whole
    /// transfer is not bounded, because a large .deb over a slow link may rightly take long.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public MirrorFetcher()
    {
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("edgeimage");
    }

    public async Task<Stream?> OpenAsync(Uri url, CancellationToken cancellation)
    {
        if (url.IsFile)
        {
            return File.Exists(url.LocalPath)
                ? new FileStream(url.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true)
                : null;
        }
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage? response = null;
            try
            {
                // HttpClient ignores a URL's userinfo: its credentials go as Basic auth, as apt sends them.
                var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.Authorization = UrlCredentials.BasicAuthorization(url);
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
                if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
                {
                    response.Dispose();
                    return null;
                }
                if ((int)response.StatusCode >= 500 && attempt < Attempts)
                {
                    response.Dispose();
                    await Task.Delay(TimeSpan.FromSeconds(attempt), cancellation);
                    continue;
                }
                if (!response.IsSuccessStatusCode)
                {
                    throw new EdgeImageException($"{UrlCredentials.Redact(url)}: the mirror answered {(int)response.StatusCode} {response.ReasonPhrase}",
                        "Check the mirror URL (--mirror, EDGEIMAGE_MIRROR or the profile's 'mirror:') or pick another mirror.");
                }
                return new IdleTimeoutStream(await response.Content.ReadAsStreamAsync(cancellation), UrlCredentials.Redact(url), IdleTimeout, response);
            }
            catch (Exception e) when (IsTransient(e, cancellation) && attempt < Attempts)
            {
                response?.Dispose();
                await Task.Delay(TimeSpan.FromSeconds(attempt), cancellation);
            }
            catch (Exception e) when (IsTransient(e, cancellation))
            {
                response?.Dispose();
                throw new EdgeImageException($"{UrlCredentials.Redact(url)}: cannot reach the mirror: {UrlCredentials.Redact(e.Message)}",
                    "Check the network and the mirror URL, or build from the cache with --offline.", ExitCodes.Failure, e);
            }
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Connection failures and header timeouts (which HttpClient reports as a cancellation nobody asked for).</summary>
    private static bool IsTransient(Exception e, CancellationToken cancellation) =>
        e is HttpRequestException || (e is TaskCanceledException && !cancellation.IsCancellationRequested);
}
