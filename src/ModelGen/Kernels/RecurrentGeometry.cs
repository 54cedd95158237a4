// The geometry of an LSTM or GRU layer stack in PyTorch's terms (nn.LSTM / nn.GRU with batch_first=True): cell kind,
// input width, hidden width, stacked layers, one or two directions, and whether the whole output sequence or only the
// last real step is returned. Batch and sequence length are run-time sizes (per call). Everything derived (gate count,
// parameter count and offsets, what training keeps, scratch sizes) is computed here so that the kernels and the
// source generator agree on one layout. The parameter order is PyTorch's state dict; see ParameterTensors.
namespace ModelGen.Kernels;

/// <summary>The recurrent cell of a <see cref="RecurrentGeometry"/>.</summary>
public enum RecurrentCell
{
    /// <summary>Long short-term memory (PyTorch <c>nn.LSTM</c>): gates i, f, g, o and a cell state.</summary>
    Lstm,

    /// <summary>Gated recurrent unit (PyTorch <c>nn.GRU</c>): gates r, z, n.</summary>
    Gru,
}

/// <summary>
/// Geometry of <c>nn.LSTM</c> / <c>nn.GRU</c> with <c>batch_first=True</c>: compile-time sizes; batch and sequence length
/// are given per call to <see cref="RecurrentKernels"/>.
/// </summary>
/// <remarks>
/// Parameters are one contiguous slice in PyTorch's state-dict order: for each layer <c>l</c>, the forward direction then
/// (if bidirectional) the reverse one, each as <c>weight_ih_l{l}</c> <c>[G·H, in_l]</c>, <c>weight_hh_l{l}</c>
/// <c>[G·H, H]</c>, <c>bias_ih_l{l}</c> <c>[G·H]</c>, <c>bias_hh_l{l}</c> <c>[G·H]</c> (reverse ones suffixed
/// <c>_reverse</c>), where G is <see cref="GateCount"/>, H is <see cref="Hidden"/>, <c>in_0</c> is
/// <see cref="InputSize"/> and <c>in_l</c> = <see cref="OutputFeatures"/> for <c>l ≥ 1</c>. Gate rows are stacked in
/// PyTorch's order: LSTM i, f, g, o; GRU r, z, n.
/// </remarks>
public readonly struct RecurrentGeometry : IEquatable<RecurrentGeometry>
{
    /// <summary>Creates the geometry of a stack of recurrent layers.</summary>
    /// <param name="cell">LSTM or GRU.</param>
    /// <param name="inputSize">Features per time step of the input (PyTorch <c>input_size</c>).</param>
    /// <param name="hidden">Features of the hidden state per direction (PyTorch <c>hidden_size</c>).</param>
    /// <param name="layers">Stacked layers (PyTorch <c>num_layers</c>).</param>
    /// <param name="bidirectional">Run a second, reverse-time direction per layer and concatenate the features.</param>
    /// <param name="returnSequences">Output every step <c>[batch, seq, OutputFeatures]</c> (PyTorch's <c>output</c>), or
    /// only the last real step of each direction <c>[batch, OutputFeatures]</c> (the top layer of PyTorch's <c>h_n</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cell"/> is not a defined value, or a size is less than 1.</exception>
    /// <exception cref="ArgumentException">The parameter count or a per-step length does not fit in <see cref="int"/>.</exception>
    public RecurrentGeometry(RecurrentCell cell, int inputSize, int hidden, int layers, bool bidirectional, bool returnSequences)
    {
        if (cell is not (RecurrentCell.Lstm or RecurrentCell.Gru))
            throw new ArgumentOutOfRangeException(nameof(cell), cell, $"'{nameof(cell)}' must be {nameof(RecurrentCell.Lstm)} or {nameof(RecurrentCell.Gru)} but is {(int)cell}.");
        Positive(inputSize, nameof(inputSize));
        Positive(hidden, nameof(hidden));
        Positive(layers, nameof(layers));
        Cell = cell;
        InputSize = inputSize;
        Hidden = hidden;
        Layers = layers;
        Directions = bidirectional ? 2 : 1;
        ReturnSequences = returnSequences;

        long g = cell == RecurrentCell.Lstm ? 4 : 3, h = hidden, d = Directions, of = d * h;
        long count = 0, step = 0;
        for (int l = 0; l < layers; l++)
        {
            long inL = l == 0 ? inputSize : of;
            count += d * (g * h * inL + g * h * h + 2 * g * h);
            step += KeptPerStep(cell, hidden, Directions, l, layers);
        }
        if (count > int.MaxValue || step > int.MaxValue || g * h * Math.Max(inputSize, of) > int.MaxValue)
            throw new ArgumentException(
                $"A recurrent stack with input {inputSize}, hidden {hidden}, {layers} layer(s) and {Directions} direction(s) has {count} parameters; at most {int.MaxValue} are supported.",
                nameof(hidden));
        ParameterCount = (int)count;
        TrainingStepLength = (int)step;
    }

    /// <summary>LSTM or GRU.</summary>
    public RecurrentCell Cell { get; }

    /// <summary>Input features per time step.</summary>
    public int InputSize { get; }

    /// <summary>Hidden features per direction (H).</summary>
    public int Hidden { get; }

    /// <summary>Stacked layers.</summary>
    public int Layers { get; }

    /// <summary>1, or 2 when bidirectional.</summary>
    public int Directions { get; }

    /// <summary>Gates per hidden unit (G): 4 for LSTM (i, f, g, o), 3 for GRU (r, z, n).</summary>
    public int GateCount => Cell == RecurrentCell.Lstm ? 4 : 3;

    /// <summary>Features per output step: <c>Directions·Hidden</c> (forward features first, then reverse).</summary>
    public int OutputFeatures => Directions * Hidden;

    /// <summary>Whether the output holds every step (<c>[batch, seq, OutputFeatures]</c>) or the last real one (<c>[batch, OutputFeatures]</c>).</summary>
    public bool ReturnSequences { get; }

    /// <summary>Floats of all parameter tensors, in PyTorch state-dict order (see <see cref="ParameterTensors"/>).</summary>
    public int ParameterCount { get; }

    /// <summary>
    /// Floats that <see cref="RecurrentKernels.TrainForward"/> keeps per example per time step for
    /// <see cref="RecurrentKernels.Backward"/>: per layer and direction the activated gates (G·H) and, for LSTM, the cell
    /// state and its tanh (2·H), for GRU <c>W_hn h + b_hn</c> (H); per layer its output sequence (Directions·H); and per
    /// layer below the top one its dropout mask and the dropped output (2·Directions·H).
    /// </summary>
    public int TrainingStepLength { get; }

    /// <summary>True when this value came from the constructor (<c>default(RecurrentGeometry)</c> is not a geometry).</summary>
    internal bool IsValid => Hidden > 0;

    /// <summary>Input features of layer <paramref name="layer"/>: <see cref="InputSize"/> for layer 0, else <see cref="OutputFeatures"/>.</summary>
    public int LayerInputSize(int layer) => layer == 0 ? InputSize : OutputFeatures;

    /// <summary>Floats of the input <c>[batch, seq, InputSize]</c>.</summary>
    public long InputLength(int batch, int seq) => (long)batch * seq * InputSize;

    /// <summary>Floats of the output: <c>[batch, seq, OutputFeatures]</c> when <see cref="ReturnSequences"/>, else <c>[batch, OutputFeatures]</c>.</summary>
    public long OutputLength(int batch, int seq) => (long)batch * (ReturnSequences ? seq : 1) * OutputFeatures;

    /// <summary>
    /// Floats of an initial or final state: <c>[Layers·Directions, batch, Hidden]</c> for h, followed for LSTM by c of the
    /// same shape (PyTorch's <c>h_0</c> / <c>(h_0, c_0)</c> and <c>h_n</c> / <c>(h_n, c_n)</c>).
    /// </summary>
    public long StateLength(int batch) => (Cell == RecurrentCell.Lstm ? 2L : 1L) * Layers * Directions * batch * Hidden;

    /// <summary>Floats of the buffer <see cref="RecurrentKernels.TrainForward"/> keeps: <c>batch·seq·TrainingStepLength</c>.</summary>
    public long KeptLength(int batch, int seq) => (long)batch * seq * TrainingStepLength;

    /// <summary>
    /// Scratch floats that <see cref="RecurrentKernels.Forward"/>, <see cref="RecurrentKernels.TrainForward"/> and
    /// <see cref="RecurrentKernels.Backward"/> need for this batch and sequence length (one workspace serves all three).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="seq"/> is negative.</exception>
    public long WorkspaceLength(int batch, int seq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        return RecurrentWorkspace.Length(this, batch, seq);
    }

    /// <summary>
    /// The parameter tensors in state-dict order with their PyTorch names (without the module prefix) and shapes:
    /// <c>("weight_ih_l0", [G·H, InputSize])</c>, <c>("weight_hh_l0", [G·H, H])</c>, <c>("bias_ih_l0", [G·H])</c>,
    /// <c>("bias_hh_l0", [G·H])</c>, then the <c>_reverse</c> tensors of layer 0 when bidirectional, then layer 1, and so on.
    /// </summary>
    public IEnumerable<(string Suffix, int[] Shape)> ParameterTensors()
    {
        int gh = GateCount * Hidden;
        for (int l = 0; l < Layers; l++)
            for (int d = 0; d < Directions; d++)
            {
                string suffix = $"_l{l}" + (d == 1 ? "_reverse" : "");
                yield return ("weight_ih" + suffix, [gh, LayerInputSize(l)]);
                yield return ("weight_hh" + suffix, [gh, Hidden]);
                yield return ("bias_ih" + suffix, [gh]);
                yield return ("bias_hh" + suffix, [gh]);
            }
    }

    /// <summary>Offset of layer <paramref name="layer"/>, direction <paramref name="direction"/>'s <c>weight_ih</c> in the parameter slice (its other tensors follow it).</summary>
    internal int ParameterOffset(int layer, int direction)
    {
        int gh = GateCount * Hidden, offset = 0;
        for (int l = 0; l < layer; l++) offset += Directions * DirectionParameters(l, gh);
        return offset + direction * DirectionParameters(layer, gh);
    }

    private int DirectionParameters(int layer, int gh) => gh * (LayerInputSize(layer) + Hidden + 2);

    /// <summary>Floats kept per example per step for layer <paramref name="layer"/> (see <see cref="TrainingStepLength"/>).</summary>
    internal static long KeptPerStep(RecurrentCell cell, int hidden, int directions, int layer, int layers)
    {
        long h = hidden, perDirection = (cell == RecurrentCell.Lstm ? 4 * h + 2 * h : 3 * h + h);
        return directions * perDirection + directions * h + (layer < layers - 1 ? 2L * directions * h : 0);
    }

    /// <inheritdoc/>
    public bool Equals(RecurrentGeometry other)
        => Cell == other.Cell && InputSize == other.InputSize && Hidden == other.Hidden && Layers == other.Layers
           && Directions == other.Directions && ReturnSequences == other.ReturnSequences;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is RecurrentGeometry other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Cell, InputSize, Hidden, Layers, Directions, ReturnSequences);

    /// <summary>Whether two geometries describe the same layer stack.</summary>
    public static bool operator ==(RecurrentGeometry left, RecurrentGeometry right) => left.Equals(right);

    /// <summary>Whether two geometries differ.</summary>
    public static bool operator !=(RecurrentGeometry left, RecurrentGeometry right) => !left.Equals(right);

    /// <summary>A PyTorch-like description, e.g. <c>LSTM(32, 128, num_layers=2, bidirectional=True)</c>.</summary>
    public override string ToString()
        => $"{(Cell == RecurrentCell.Lstm ? "LSTM" : "GRU")}({InputSize}, {Hidden}, num_layers={Layers}, bidirectional={(Directions == 2 ? "True" : "False")}, return_sequences={(ReturnSequences ? "True" : "False")})";

    private static void Positive(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be at least 1 but is {value}.");
    }
}
