using System.Net;
using System.Net.Sockets;

namespace EdgeImage.Tests.Fixtures;

/// <summary>
/// A test double for an HTTP server (a mirror, a registry): an HttpListener on a free loopback port
/// that hands each request to the test's handler, which sets the status and headers and returns the body.
/// </summary>
public sealed class LoopbackHttpServerDouble : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<HttpListenerRequest, HttpListenerResponse, byte[]> _respond;
    private readonly Task _serving;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="path">The path prefix served, such as "/debian/"; requests outside it get 404 from HttpListener.</param>
    public LoopbackHttpServerDouble(Func<HttpListenerRequest, HttpListenerResponse, byte[]> respond, string path = "/")
    {
        _respond = respond;
        // HttpListener cannot bind port 0, so a free port is found first and then bound; another
        // process (a parallel test, QEMU's port forwards) can take it in between, so a taken port
        // is given up for another one.
        for (var attempt = 1; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{Port}{path}";
            _listener = new HttpListener();
            _listener.Prefixes.Add(Url);
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                _listener.Close();
            }
        }
        _serving = Task.Run(Serve);
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:PORT followed by the path served.</summary>
    public string Url { get; }

    public void Dispose()
    {
        // The serving loop ends on this signal, not on the listener's close: on Linux a
        // GetContextAsync that begins while Close runs is never completed, and waiting for it
        // hung a whole test run (seen in CI).
        _stopped.TrySetResult();
        // Close alone: after Stop, the managed HttpListener's Close binds the port once more to
        // unregister it, which fails when another process has taken the port in the meantime.
        _listener.Close();
        try
        {
            _serving.Wait();
        }
        catch (AggregateException)
        {
            // A request in flight fails on the closed listener, or the test's handler threw: the loop is over either way.
        }
    }

    private async Task Serve()
    {
        while (!_stopped.Task.IsCompleted)
        {
            HttpListenerContext context;
            try
            {
                var next = _listener.GetContextAsync();
                if (await Task.WhenAny(next, _stopped.Task) != next)
                {
                    // Observed, so an exception from the abandoned call is not reported as unobserved.
                    _ = next.ContinueWith(t => t.Exception, TaskScheduler.Default);
                    return;
                }
                context = await next;
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            var body = _respond(context.Request, context.Response);
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }
}
