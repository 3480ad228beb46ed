using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace EdgeImage.Tests.Fixtures;

/// <summary>
/// A test double for an HTTP server (a mirror, a registry): an HttpListener on a free loopback port
/// that hands each request to the test's handler, which sets the status and headers and returns the body.
/// </summary>
public sealed class LoopbackHttpServerDouble : IDisposable
{
    /// <summary>How long Dispose waits for handlers to end before it fails the test instead of hanging it.</summary>
    private static readonly TimeSpan HandlerGrace = TimeSpan.FromSeconds(10);

    private readonly HttpListener _listener;
    private readonly Func<HttpListenerContext, CancellationToken, Task> _handle;
    private readonly Task _serving;
    private readonly CancellationTokenSource _stopped = new();
    private readonly TaskCompletionSource _stopSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<Task, bool> _handlers = new();

    // Handlers of the plain kind ran one at a time before streaming handlers existed, and tests
    // count requests in plain fields; they still do.
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    /// <param name="path">The path prefix served, such as "/debian/"; requests outside it get 404 from HttpListener.</param>
    public LoopbackHttpServerDouble(Func<HttpListenerRequest, HttpListenerResponse, byte[]> respond, string path = "/")
        : this(path, Plain(respond))
    {
    }

    private LoopbackHttpServerDouble(string path, Func<LoopbackHttpServerDouble, Func<HttpListenerContext, CancellationToken, Task>> handler)
    {
        _handle = handler(this);
        _stopped.Token.Register(() => _stopSignal.TrySetResult());
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

    /// <summary>
    /// A server whose handler writes the response itself, and may take its time: it can send part
    /// of a body and then stall, as a broken mirror does. Requests are handled concurrently, so one
    /// stalled response does not hold up the next request. The token is cancelled on Dispose; a
    /// handler that waits must wait on it.
    /// </summary>
    public static LoopbackHttpServerDouble Streaming(Func<HttpListenerContext, CancellationToken, Task> handle, string path = "/") =>
        new(path, _ => handle);

    public void Dispose()
    {
        // The serving loop ends on this signal, not on the listener's close: on Linux a
        // GetContextAsync that begins while Close runs is never completed, and waiting for it
        // hung a whole test run (seen in CI). Stalled streaming handlers end on it too.
        _stopped.Cancel();
        // Close alone: after Stop, the managed HttpListener's Close binds the port once more to
        // unregister it, which fails when another process has taken the port in the meantime.
        _listener.Close();
        // The loop first, so no handler it starts on its way out is missed.
        var deadline = DateTime.UtcNow + HandlerGrace;
        if (!WaitQuietly(_serving, HandlerGrace) || !WaitQuietly(Task.WhenAll(_handlers.Keys), deadline - DateTime.UtcNow))
        {
            // A hung teardown stops the whole test run without saying why; a failure names the cause.
            throw new TimeoutException($"LoopbackHttpServerDouble {Url}: a handler was still running {HandlerGrace.TotalSeconds} s after Dispose; " +
                                       "a handler that waits must wait on the stop token it is given");
        }
    }

    /// <summary>False when the task is still running after the wait; a fault counts as ended.</summary>
    private static bool WaitQuietly(Task task, TimeSpan wait)
    {
        try
        {
            return task.Wait(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
        }
        catch (AggregateException)
        {
            // A request in flight fails on the closed listener, or the test's handler threw: it is over either way.
            return true;
        }
    }

    private static Func<LoopbackHttpServerDouble, Func<HttpListenerContext, CancellationToken, Task>> Plain(
        Func<HttpListenerRequest, HttpListenerResponse, byte[]> respond) =>
        server => async (context, stop) =>
        {
            await server._oneAtATime.WaitAsync(stop);
            try
            {
                var body = respond(context.Request, context.Response);
                await context.Response.OutputStream.WriteAsync(body, stop);
                context.Response.Close();
            }
            finally
            {
                server._oneAtATime.Release();
            }
        };

    private async Task Serve()
    {
        while (!_stopped.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                var next = _listener.GetContextAsync();
                if (await Task.WhenAny(next, _stopSignal.Task) != next)
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
            // On a thread of its own: a handler that blocks must not hold up the next request.
            var handler = Task.Run(() => Handle(context));
            _handlers[handler] = true;
            _ = handler.ContinueWith(t => { _ = t.Exception; _handlers.TryRemove(t, out _); }, TaskScheduler.Default);
        }
    }

    private async Task Handle(HttpListenerContext context)
    {
        try
        {
            await _handle(context, _stopped.Token);
        }
        catch (Exception e)
        {
            // The client must not wait for a response nobody will finish.
            context.Response.Abort();
            if (e is not (OperationCanceledException or HttpListenerException or ObjectDisposedException or IOException))
            {
                throw;
            }
            // Stopped mid-response, or the client went away: not an error of the test.
        }
    }
}
