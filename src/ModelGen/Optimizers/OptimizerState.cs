// Optimizer state in a safetensors checkpoint beside the model's tensors (parameters and buffers). For every parameter tensor that has received
// at least one update:
//   optimizer.state.<param>.step        F32 []              the tensor's update count (torch keeps state['step'] as a
//                                                           float32 scalar tensor too; exact up to 2^24 steps)
//   optimizer.state.<param>.<buffer>    F32 [param's shape] exp_avg, exp_avg_sq, max_exp_avg_sq, square_avg, grad_avg,
//                                                           momentum_buffer, sum: torch.optim's names for the same state
// plus metadata "optimizer" (the class name) and "optimizer.step_count" (StepCount). <param> is the model's tensor
// name (fc1.weight) where torch's state_dict() uses the parameter's index, so a file explains itself. Tensors never
// updated (frozen throughout) have no entries, as they have no state in torch. Loading validates the whole file before
// anything changes, then resets the optimizer to its initial state and copies the file's state in, so the next step
// equals the one an uninterrupted run would have taken, bit for bit.
using System.Globalization;

namespace ModelGen;

public abstract partial class Optimizer
{
    internal const string StatePrefix = "optimizer.state.";
    internal const string TypeKey = "optimizer";
    internal const string StepCountKey = "optimizer.step_count";
    private const float MaxExactStep = 16_777_216f;   // 2^24: the largest count a float32 step holds exactly

    /// <summary>
    /// The model's tensors (parameters, then buffers, see <see cref="Serialization.ModelWeights.StateDict"/>) followed by this
    /// optimizer's state tensors, in one buffer, the names of the I64 counters, and the metadata naming the optimizer.
    /// </summary>
    internal (List<ParameterInfo> Tensors, float[] Buffer, HashSet<string> Counts) ExportCheckpoint(IModel model, Dictionary<string, string> metadata)
    {
        ReadOnlySpan<float> parameters = model.Parameters;
        if (_stateLength >= 0 && _stateLength != parameters.Length)
            throw StateLengthMismatch(parameters.Length);
        var (tensors, state, counts) = Serialization.ModelWeights.StateDict(model);
        var buffers = new List<(string Name, float[] Values)>();
        if (_stateLength >= 0) AddStateBuffers(buffers);

        var stepped = new List<(ParameterInfo Info, int Step)>();
        long total = state.Length;
        foreach (ParameterInfo info in model.ParameterInfos)
        {
            if (_stateLength < 0 || !_tensorSteps.TryGetValue(info.Offset, out int step) || step == 0) continue;
            stepped.Add((info, step));
            total += 1 + (long)buffers.Count * info.Length;
        }
        if (total > Array.MaxLength)
            throw new InvalidOperationException($"The model and its optimizer state hold {total} floats, more than one checkpoint buffer can ({Array.MaxLength}).");

        var buffer = new float[total];
        state.CopyTo(buffer, 0);
        int offset = state.Length;
        foreach (var (info, step) in stepped)
        {
            string prefix = StatePrefix + info.Name + ".";
            buffer[offset] = step;
            tensors.Add(new ParameterInfo(prefix + "step", [], offset, 1));
            offset++;
            foreach (var (name, values) in buffers)
            {
                values.AsSpan(info.Offset, info.Length).CopyTo(buffer.AsSpan(offset, info.Length));
                tensors.Add(new ParameterInfo(prefix + name, info.Shape, offset, info.Length));
                offset += info.Length;
            }
        }
        metadata[TypeKey] = GetType().Name;
        metadata[StepCountKey] = StepCount.ToString(CultureInfo.InvariantCulture);
        return (tensors, buffer, counts);
    }

    /// <summary>
    /// Reads the model's tensors and this optimizer's state from a checkpoint (<paramref name="load"/> validates and fills a
    /// staging buffer laid out as the given tensors describe); on any error neither the model nor the optimizer changes.
    /// </summary>
    internal void ImportCheckpoint(IModel model, string source, IEnumerable<string> fileTensors,
        IReadOnlyDictionary<string, string> metadata, Action<IReadOnlyList<ParameterInfo>, float[], IReadOnlySet<string>> load)
    {
        string type = GetType().Name;
        if (!metadata.TryGetValue(TypeKey, out string? saved))
            throw new InvalidDataException($"'{source}' holds no optimizer state (its metadata has no \"{TypeKey}\" entry): it was saved without an optimizer.");
        if (saved != type)
            throw new InvalidDataException($"'{source}' holds the state of a {saved} optimizer, but this optimizer is a {type}.");
        if (!metadata.TryGetValue(StepCountKey, out string? countText)
            || !int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out int stepCount))
            throw new InvalidDataException($"'{source}' has no valid \"{StepCountKey}\" metadata (a non-negative integer); found '{countText ?? "nothing"}'.");

        Span<float> parameters = model.Parameters;
        if (_stateLength >= 0 && _stateLength != parameters.Length)
            throw StateLengthMismatch(parameters.Length);
        if (_stateLength < 0)
        {
            // A fresh optimizer: sizing its state now only does what its first step would, so nothing observable changes.
            InitializeState(parameters.Length);
            _stateLength = parameters.Length;
        }
        var names = new List<(string Name, float[] Values)>();
        AddStateBuffers(names);

        var present = new HashSet<string>(fileTensors, StringComparer.Ordinal);
        var (tensors, state, counts) = Serialization.ModelWeights.StateDict(model);
        var stepped = new List<(ParameterInfo Info, int StepAt, int StateAt)>();
        int offset = state.Length;
        foreach (ParameterInfo info in model.ParameterInfos)
        {
            string prefix = StatePrefix + info.Name + ".";
            if (!present.Contains(prefix + "step")) continue;   // never updated; any stray buffer of it is reported by the load
            tensors.Add(new ParameterInfo(prefix + "step", [], offset, 1));
            stepped.Add((info, offset, offset + 1));
            offset++;
            foreach (var (name, _) in names)
            {
                tensors.Add(new ParameterInfo(prefix + name, info.Shape, offset, info.Length));
                offset += info.Length;
            }
        }
        var staging = new float[offset];
        state.CopyTo(staging, 0);   // a counter absent from the file keeps the model's value
        load(tensors, staging, counts);
        foreach (var (info, stepAt, _) in stepped)
        {
            float step = staging[stepAt];
            if (!(step >= 1 && step <= MaxExactStep && step == MathF.Floor(step)))
                throw new InvalidDataException($"'{source}': tensor '{StatePrefix}{info.Name}.step' holds {step}, expected a whole number of updates in [1, {MaxExactStep}].");
        }

        // Validated: reset to the initial state (tensors absent from the file start afresh), then copy the file's in.
        InitializeState(parameters.Length);
        names.Clear();
        AddStateBuffers(names);
        _tensorSteps.Clear();
        Serialization.ModelWeights.CopyInto(model, staging);
        foreach (var (info, stepAt, stateAt) in stepped)
        {
            _tensorSteps[info.Offset] = (int)staging[stepAt];
            int at = stateAt;
            foreach (var (_, values) in names)
            {
                staging.AsSpan(at, info.Length).CopyTo(values.AsSpan(info.Offset, info.Length));
                at += info.Length;
            }
        }
        StepCount = stepCount;
    }

    private InvalidOperationException StateLengthMismatch(int length) =>
        new($"This optimizer's state was sized for {_stateLength} parameters but the model has {length}; use one optimizer per parameter buffer.");
}
