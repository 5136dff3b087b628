using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Threading;

namespace ViTMAE.Compiled.Tests.Modeling;

/// <summary>
/// The call gate every generated session goes through (<see cref="Workspace.Enter"/>), held open deterministically: a
/// call is "running" for as long as the test holds its scope. The generated sessions themselves are hammered from two
/// threads in the conformance tests (GeneratedModelTests: no wrong result, no deadlock, a disposed session refuses
/// every call); these tests pin what those can only observe statistically: the second call is refused at once rather
/// than queued, at 1 and 2 workers, and a Dispose during a call takes effect when the call ends.
/// </summary>
public sealed class SessionCallGateTests
{
    private static Workspace NewWorkspace(int workers) =>
        new(maxBatch: 1, arenaFloatsPerImage: 64, maxPatches: 4, attentionScratchFloats: 32, seed: 0, degreeOfParallelism: workers);

    /// <summary>Calls <see cref="Workspace.Enter"/> on another thread; returns what it threw and how long it took.</summary>
    private static (Exception? Error, TimeSpan Took) EnterOnAnotherThread(Workspace workspace)
    {
        Task<(Exception?, TimeSpan)> task = Task.Run<(Exception?, TimeSpan)>(() =>
        {
            var clock = Stopwatch.StartNew();
            Exception? error = Record.Exception(() =>
            {
                using Workspace.CallScope call = workspace.Enter();
            });
            return (error, clock.Elapsed);
        });
        Assert.True(task.Wait(TimeSpan.FromSeconds(10)), "the second call waited for the first instead of being refused");
        return task.Result;
    }

    private sealed class Count : IParallelWork
    {
        private int _done;

        public int Done => _done;

        public void Execute(int chunk, int worker) => Interlocked.Increment(ref _done);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_second_concurrent_call_is_refused_at_once_with_InvalidOperationException(int workers)
    {
        using Workspace workspace = NewWorkspace(workers);
        Assert.Equal(workers, workspace.Pool.DegreeOfParallelism);
        (Exception? error, TimeSpan took) second;
        using (workspace.Enter())
        {
            second = EnterOnAnotherThread(workspace);

            // The running call still owns its workers.
            var work = new Count();
            workspace.Pool.Run(work, 4);
            Assert.Equal(4, work.Done);
        }

        var e = Assert.IsType<InvalidOperationException>(second.error);
        Assert.Contains("already running a call on another thread", e.Message, StringComparison.Ordinal);
        Assert.True(second.took < TimeSpan.FromSeconds(1), $"refusing took {second.took}");

        // Once the first call has returned, the session takes calls again, from any thread.
        Assert.Null(EnterOnAnotherThread(workspace).Error);
        using (workspace.Enter())
        {
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_disposed_session_refuses_every_call_and_a_dispose_during_a_call_waits_for_its_end(int workers)
    {
        Workspace workspace = NewWorkspace(workers);
        using (workspace.Enter())
        {
            workspace.Dispose();

            // The running call keeps its workers until it returns; a concurrent call is still refused as concurrent.
            var work = new Count();
            workspace.Pool.Run(work, 4);
            Assert.Equal(4, work.Done);
            Assert.IsType<InvalidOperationException>(EnterOnAnotherThread(workspace).Error);
        }

        for (int i = 0; i < 3; i++)
        {
            var e = Assert.IsType<ObjectDisposedException>(EnterOnAnotherThread(workspace).Error);
            Assert.Contains("disposed", e.Message, StringComparison.Ordinal);
            Assert.Throws<ObjectDisposedException>(() =>
            {
                using Workspace.CallScope call = workspace.Enter();
            });
            workspace.Dispose(); // idempotent
        }
    }
}
