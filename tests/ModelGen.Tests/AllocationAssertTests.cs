// AllocationAssert must still fail for code that allocates on every call: the least of its windows is then never 0.
using Xunit.Sdk;

namespace ModelGen.Tests;

public class AllocationAssertTests
{
    private static object? s_sink;   // keeps the allocation observable, so the JIT cannot remove it

    [Fact]
    public void SteadyStateAllocatesNothing_CallAllocatingOneByteArray_FailsNamingTheCallAndTheBytes()
    {
        var ex = Assert.Throws<FailException>(() =>
            AllocationAssert.SteadyStateAllocatesNothing(() => s_sink = new byte[1], callsPerWindow: 4, "one byte array per call"));
        // A byte[1] is at least 25 bytes (header, method table, length, one byte); four per window.
        Assert.Matches(@"^one byte array per call \(4 calls per window\) allocated (\d+) bytes in the least of 3 windows", ex.Message);
        long least = long.Parse(System.Text.RegularExpressions.Regex.Match(ex.Message, @"allocated (\d+) bytes").Groups[1].Value);
        Assert.True(least >= 4 * 25, ex.Message);
    }

    [Fact]
    public void SomeWindowAllocatesNothing_OnlyALaterWindowClean_Passes()
    {
        // An over-report in the first windows (the runtime counter's occasional noise) does not fail the assertion.
        long[] windows = [5616, 0, 99];
        int next = 0;
        AllocationAssert.SomeWindowAllocatesNothing(() => windows[next++], "scripted windows");
        Assert.Equal(2, next);
    }

    [Fact]
    public void SomeWindowAllocatesNothing_EveryWindowAllocating_FailsWithTheLeast()
    {
        long[] windows = [300, 120, 200];
        int next = 0;
        var ex = Assert.Throws<FailException>(() => AllocationAssert.SomeWindowAllocatesNothing(() => windows[next++], "scripted windows"));
        Assert.Equal("scripted windows allocated 120 bytes in the least of 3 windows (each: 300, 120, 200 bytes); expected 0 in steady state", ex.Message);
    }
}
