// The progress receivers the training tests share: one records what Fit reports, one cancels the run after an epoch.
namespace ModelGen.Tests.Training;

/// <summary>Calls <paramref name="report"/> with every progress report (synchronously, unlike <see cref="Progress{T}"/>).</summary>
internal sealed class Probe(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}

/// <summary>Cancels the run once epoch <paramref name="epoch"/> has been reported complete (its checkpoint is written before the next step).</summary>
internal sealed class StopAfter(int epoch, CancellationTokenSource cancel) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value)
    {
        if (value.Completed?.Epoch == epoch) cancel.Cancel();
    }
}
