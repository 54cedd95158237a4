// The one way these tests assert "allocates nothing in steady state". GC.GetAllocatedBytesForCurrentThread occasionally
// over-reports on a loaded machine with no allocation in the code measured (dotnet/runtime#63487 and #74388: "allocated
// too much" by up to ~10 KB; seen here as 3.2 KB and 5.6 KB in one window of otherwise clean tests), so a single
// window is not evidence. A real steady-state allocation happens in every window, so the least of a few windows is: it
// must be exactly 0 bytes, as strong as before for code that allocates on every call.
using System.Runtime.CompilerServices;

namespace ModelGen.Tests;

internal static class AllocationAssert
{
    /// <summary>How many windows are measured at most before failing.</summary>
    public const int Windows = 3;

    /// <summary>
    /// Calls <paramref name="call"/> <paramref name="warmUpCalls"/> times (JIT, tiering, buffers reaching their size), then
    /// measures up to <see cref="Windows"/> windows of <paramref name="callsPerWindow"/> calls each and passes as soon as
    /// one window allocates 0 bytes on this thread; otherwise fails with the least bytes per window.
    /// <paramref name="beforeEachWindow"/>, when given, runs before each window outside the measurement (e.g. starting an epoch).
    /// </summary>
    /// <param name="what">Names the call in the failure message; the call's expression when omitted.</param>
    public static void SteadyStateAllocatesNothing(Action call, int callsPerWindow = 10, string? what = null, int warmUpCalls = 3,
        Action? beforeEachWindow = null, [CallerArgumentExpression(nameof(call))] string callExpression = "")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(callsPerWindow, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(warmUpCalls);
        for (int i = 0; i < warmUpCalls; i++) call();
        SomeWindowAllocatesNothing(() =>
        {
            beforeEachWindow?.Invoke();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < callsPerWindow; i++) call();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }, $"{what ?? callExpression} ({callsPerWindow} call{(callsPerWindow == 1 ? "" : "s")} per window)");
    }

    /// <summary>
    /// For windows the caller measures itself (e.g. between progress reports of one training run):
    /// <paramref name="allocatedInWindow"/> runs one window and returns the bytes this thread allocated in it. Runs up to
    /// <see cref="Windows"/> windows and passes as soon as one returns 0; otherwise fails naming <paramref name="what"/>
    /// and the least bytes measured.
    /// </summary>
    public static void SomeWindowAllocatesNothing(Func<long> allocatedInWindow, string what)
    {
        long least = long.MaxValue;
        var measured = new long[Windows];
        for (int window = 0; window < Windows; window++)
        {
            measured[window] = allocatedInWindow();
            if (measured[window] == 0) return;
            least = Math.Min(least, measured[window]);
        }
        Assert.Fail($"{what} allocated {least} bytes in the least of {Windows} windows (each: {string.Join(", ", measured)} bytes); expected 0 in steady state");
    }
}
