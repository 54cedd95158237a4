// Resumable training checkpoints for Trainer.Fit: one safetensors file holding the model's tensors and the optimizer's
// state (Optimizer.ExportCheckpoint, the layout docs/optimizers.md describes), the best epoch's parameters as one flat
// tensor, and the rest of the run's state as metadata strings:
//   trainer.format                 "1"
//   trainer.<setting>              what the run was started with (epochs, batch size, seed, ...), checked on resume
//   trainer.epochs_done, .step, .update, .stopped_early, .best_epoch, .best_value
//   trainer.first_loss, .running_loss     the divergence check's references (round-trip doubles)
//   trainer.history                one line per finished epoch (floats as IEEE bit patterns, so they come back exactly)
//   schedule.*                     Schedule.SaveState (ReduceOnPlateau's factor, best and counters)
// The random state is not stored as generator words: shuffling, augmentation and dropout use generators derived from
// (seed, epoch) at each epoch's start, so at an epoch boundary the seed and the epoch count are the whole of it.
// Writes go through SafeTensors.Save (temporary file, flush, rename), so the previous checkpoint survives any failure.
using System.Globalization;
using System.Text;
using ModelGen.Serialization;

namespace ModelGen;

public sealed partial class Trainer
{
    private const string Prefix = "trainer.";
    private const string FormatKey = Prefix + "format";
    private const string FormatVersion = "1";
    private const string BestTensor = Prefix + "best_parameters";
    private const string SchedulePrefix = "schedule.";

    /// <summary>What a run was started with: a resumed run must match the checkpoint's, or it would not continue the same run.</summary>
    private sealed record RunSettings(int Epochs, int BatchSize, ulong Seed, bool Shuffle, int Accumulation, int TrainCount,
        float BaseLearningRate, bool HasValidation, Metric Monitor, bool Minimize, int? Patience, bool RestoreBest)
    {
        /// <summary>The settings as (metadata key, invariant text) pairs, in a fixed order.</summary>
        public IEnumerable<(string Key, string Value)> Entries()
        {
            yield return ("epochs", Text(Epochs));
            yield return ("batch_size", Text(BatchSize));
            yield return ("seed", Seed.ToString(CultureInfo.InvariantCulture));
            yield return ("shuffle", Shuffle ? "true" : "false");
            yield return ("gradient_accumulation_steps", Text(Accumulation));
            yield return ("train_count", Text(TrainCount));
            yield return ("base_learning_rate", BaseLearningRate.ToString("R", CultureInfo.InvariantCulture));
            yield return ("validation", HasValidation ? "true" : "false");
            yield return ("monitor", Monitor.ToString());
            yield return ("monitor_mode", Minimize ? "min" : "max");
            yield return ("early_stopping_patience", Patience is { } p ? Text(p) : "none");
            yield return ("restore_best_weights", RestoreBest ? "true" : "false");
        }
    }

    /// <summary>Everything about a run in progress that the next epoch depends on (beyond the model, optimizer and schedule).</summary>
    private sealed class RunState
    {
        public int EpochsDone;
        public int Step;         // minibatches so far
        public int Update;       // optimizer steps so far (the schedule's step)
        public double FirstLoss, RunningLoss;   // the divergence rule's references (FitOptions.StopOnDivergence)
        public int BestEpoch;
        public double BestValue;
        public float[]? BestParameters;   // [parameter count], the best epoch's, when RestoreBestWeights
        public bool StoppedEarly;
        public List<EpochMetrics> History = new();
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bits(float value) => BitConverter.SingleToInt32Bits(value).ToString("X8", CultureInfo.InvariantCulture);

    /// <summary>Writes the run's checkpoint atomically (see <see cref="FitOptions.CheckpointPath"/>).</summary>
    private void WriteCheckpoint(string path, RunSettings settings, RunState run)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        var (tensors, buffer) = _optimizer.ExportCheckpoint(_model, metadata);
        if (run.BestParameters is { } best)
        {
            int at = buffer.Length;
            Array.Resize(ref buffer, checked(at + best.Length));
            best.CopyTo(buffer, at);
            tensors.Add(new ParameterInfo(BestTensor, [best.Length], at, best.Length));
        }
        metadata[FormatKey] = FormatVersion;
        foreach (var (key, value) in settings.Entries()) metadata[Prefix + key] = value;
        metadata[Prefix + "epochs_done"] = Text(run.EpochsDone);
        metadata[Prefix + "step"] = Text(run.Step);
        metadata[Prefix + "update"] = Text(run.Update);
        metadata[Prefix + "first_loss"] = run.FirstLoss.ToString("R", CultureInfo.InvariantCulture);
        metadata[Prefix + "running_loss"] = run.RunningLoss.ToString("R", CultureInfo.InvariantCulture);
        metadata[Prefix + "best_epoch"] = Text(run.BestEpoch);
        metadata[Prefix + "best_value"] = run.BestValue.ToString("R", CultureInfo.InvariantCulture);
        metadata[Prefix + "stopped_early"] = run.StoppedEarly ? "true" : "false";
        metadata[Prefix + "history"] = WriteHistory(run.History);
        _schedule.SaveState(metadata, SchedulePrefix);
        SafeTensors.Save(path, tensors, buffer, metadata);
    }

    /// <summary>
    /// Reads a checkpoint, checks that it continues a run with <paramref name="settings"/>, and restores the model, the
    /// optimizer and the schedule from it. Everything is validated before the model or optimizer changes; a schedule
    /// restored before a later failure is put back as it was.
    /// </summary>
    private RunState Resume(string path, RunSettings settings)
    {
        var entries = SafeTensors.ReadHeader(path, out var metadata);
        if (!metadata.TryGetValue(FormatKey, out string? format))
            throw new InvalidDataException($"'{path}' is not a training checkpoint (its metadata has no \"{FormatKey}\"): write one with FitOptions.CheckpointPath.");
        if (format != FormatVersion)
            throw new InvalidDataException($"'{path}' is a training checkpoint of format {format}; this version reads format {FormatVersion}.");
        foreach (var (key, expected) in settings.Entries())
        {
            string found = Read(metadata, path, Prefix + key);
            if (found != expected)
                throw new ArgumentException($"The checkpoint '{path}' was written by a run with {key} = {found}, but this Fit call has {key} = {expected}; " +
                    "resume with the same data, arguments and options (and an optimizer with the same learning rate).", nameof(FitOptions.ResumeFrom));
        }
        var run = new RunState
        {
            EpochsDone = ReadInt(metadata, path, Prefix + "epochs_done"),
            Step = ReadInt(metadata, path, Prefix + "step"),
            Update = ReadInt(metadata, path, Prefix + "update"),
            FirstLoss = ReadDouble(metadata, path, Prefix + "first_loss"),
            RunningLoss = ReadDouble(metadata, path, Prefix + "running_loss"),
            BestEpoch = ReadInt(metadata, path, Prefix + "best_epoch"),
            BestValue = ReadDouble(metadata, path, Prefix + "best_value"),
            StoppedEarly = Read(metadata, path, Prefix + "stopped_early") == "true",
            History = ReadHistory(Read(metadata, path, Prefix + "history"), path),
        };
        if (run.EpochsDone > settings.Epochs || run.History.Count != run.EpochsDone || run.BestEpoch > run.EpochsDone)
            throw new InvalidDataException($"'{path}': {run.EpochsDone} epochs done of {settings.Epochs}, {run.History.Count} in the history and best epoch {run.BestEpoch} do not agree.");

        int parameterCount = _model.Parameters.Length;
        bool hasBest = entries.Any(e => e.Name == BestTensor);
        float[]? best = hasBest ? new float[parameterCount] : null;
        var scheduleBefore = new Dictionary<string, string>(StringComparer.Ordinal);
        _schedule.SaveState(scheduleBefore, SchedulePrefix);
        try
        {
            _schedule.LoadState(metadata, SchedulePrefix);
            _optimizer.ImportCheckpoint(_model, path, entries.Select(e => e.Name), metadata, (tensors, staging) =>
            {
                if (best is null)
                {
                    SafeTensors.Load(path, tensors, staging);
                    return;
                }
                // The best parameters ride after the optimizer's staging area and are split off once the file is validated.
                var all = new List<ParameterInfo>(tensors) { new(BestTensor, [parameterCount], staging.Length, parameterCount) };
                var combined = new float[staging.Length + parameterCount];
                SafeTensors.Load(path, all, combined);
                combined.AsSpan(0, staging.Length).CopyTo(staging);
                combined.AsSpan(staging.Length).CopyTo(best);
            });
        }
        catch
        {
            _schedule.LoadState(scheduleBefore, SchedulePrefix);
            throw;
        }
        run.BestParameters = best;
        return run;
    }

    private static string Read(IReadOnlyDictionary<string, string> metadata, string path, string key) =>
        metadata.TryGetValue(key, out string? value) ? value
            : throw new InvalidDataException($"The training checkpoint '{path}' has no \"{key}\" metadata.");

    private static int ReadInt(IReadOnlyDictionary<string, string> metadata, string path, string key)
    {
        string text = Read(metadata, path, key);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value
            : throw new InvalidDataException($"The training checkpoint '{path}' has \"{key}\" = '{text}', expected a non-negative integer.");
    }

    private static double ReadDouble(IReadOnlyDictionary<string, string> metadata, string path, string key)
    {
        string text = Read(metadata, path, key);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value
            : throw new InvalidDataException($"The training checkpoint '{path}' has \"{key}\" = '{text}', expected a number.");
    }

    // One line per epoch, fields separated by ';': epoch, train loss, train accuracy, validation loss ('-' if none),
    // validation accuracy, learning rate (float bit patterns), elapsed ticks, samples per second (round-trip double).
    private static string WriteHistory(List<EpochMetrics> history)
    {
        var text = new StringBuilder();
        foreach (var e in history)
        {
            if (text.Length > 0) text.Append('\n');
            text.Append(CultureInfo.InvariantCulture, $"{e.Epoch};{Bits(e.TrainLoss)};{Bits(e.TrainAccuracy)};");
            text.Append(e.ValidationLoss is { } vl ? Bits(vl) : "-").Append(';');
            text.Append(e.ValidationAccuracy is { } va ? Bits(va) : "-").Append(';');
            text.Append(CultureInfo.InvariantCulture, $"{Bits(e.LearningRate)};{e.Elapsed.Ticks};{e.SamplesPerSecond:R};");
            text.Append(WriteScores(e.TrainMetrics)).Append(';').Append(WriteScores(e.ValidationMetrics));
        }
        return text.ToString();
    }

    private static List<EpochMetrics> ReadHistory(string text, string path)
    {
        var history = new List<EpochMetrics>();
        if (text.Length == 0) return history;
        foreach (string line in text.Split('\n'))
        {
            string[] f = line.Split(';');
            if (f.Length != 10 || !int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out int epoch) || epoch != history.Count + 1
                || !TryBits(f[1], out float trainLoss) || !TryBits(f[2], out float trainAccuracy)
                || !TryOptionalBits(f[3], out float? validationLoss) || !TryOptionalBits(f[4], out float? validationAccuracy)
                || !TryBits(f[5], out float learningRate) || !long.TryParse(f[6], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
                || !double.TryParse(f[7], NumberStyles.Float, CultureInfo.InvariantCulture, out double samplesPerSecond)
                || !TryReadScores(f[8], out var trainMetrics) || !TryReadScores(f[9], out var validationMetrics))
                throw new InvalidDataException($"The training checkpoint '{path}' has a malformed history line {history.Count + 1}: '{line}'.");
            history.Add(new EpochMetrics(epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy, learningRate,
                TimeSpan.FromTicks(ticks), samplesPerSecond, trainMetrics, validationMetrics));
        }
        return history;
    }

    // Metric values as "Name=bits,Name=bits" ('-' when none were computed).
    private static string WriteScores(IReadOnlyDictionary<Metric, float>? scores) =>
        scores is null ? "-" : string.Join(",", scores.OrderBy(p => p.Key).Select(p => $"{p.Key}={Bits(p.Value)}"));

    private static bool TryReadScores(string text, out Dictionary<Metric, float>? scores)
    {
        scores = null;
        if (text == "-") return true;
        scores = new Dictionary<Metric, float>();
        if (text.Length == 0) return true;
        foreach (string pair in text.Split(','))
        {
            int eq = pair.IndexOf('=');
            if (eq < 0 || !Enum.TryParse(pair.AsSpan(0, eq), out Metric metric) || !Enum.IsDefined(metric)
                || !TryBits(pair[(eq + 1)..], out float value) || !scores.TryAdd(metric, value))
                return false;
        }
        return true;
    }

    private static bool TryBits(string text, out float value)
    {
        int bits = 0;
        bool ok = text.Length == 8 && int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bits);
        value = BitConverter.Int32BitsToSingle(bits);
        return ok;
    }

    private static bool TryOptionalBits(string text, out float? value)
    {
        value = null;
        if (text == "-") return true;
        if (!TryBits(text, out float v)) return false;
        value = v;
        return true;
    }
}
