// LSTM/GRU inference over weights packed once (a sequence predictor's): per layer and direction, W_ih as a
// PackedDenseWeight (the input projection of all steps is one GEMM that then packs only the inputs) and the step kernel's
// panels (RecurrentStep.PackPanels), which the model's Forward otherwise repacks on every call (W6, LSTM b1: ~7.5 µs of
// each call, bench/README.md run 14). For an LSTM layer whose projection may run inside the steps (Context.FuseProjection:
// from a register tile of rows) the panels hold [W_ih | W_hh], as the steps then read them; on the other route the steps
// skip W_ih's rows, so one pack serves every batch. The recurrence itself is ForwardCore's, unchanged.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

/// <summary>
/// The matrices of every layer and direction of an LSTM/GRU stack (<see cref="RecurrentGeometry"/>), copied and packed once
/// for <see cref="RecurrentKernels.ForwardPrepacked(in RecurrentGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, PackedRecurrentWeights, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, ReadOnlySpan{float}, Span{float})"/>:
/// <c>weight_ih_l{k}</c> [G·H, in] packed for the GEMM and <c>weight_hh_l{k}</c> [G·H, H] (for an LSTM preceded by
/// <c>weight_ih_l{k}</c> again) packed for the step kernel of the process's widest accelerated vectors. Immutable and thread-safe.
/// </summary>
public sealed unsafe class PackedRecurrentWeights
{
    private readonly RecurrentGeometry _geometry;
    private readonly PackedDenseWeight[] _inputWeights;   // [Layers × Directions] W_ih
    private readonly float[]? _panels;                    // pinned: [Layers × Directions] step-kernel packs at _offsets; null without vectors
    private readonly long[] _offsets;                     // [Layers × Directions] start of each pack in _panels
    private readonly int[] _panelInput;                   // [Layers × Directions] rows of W_ih at the head of each panel (0: W_hh alone)
    private readonly int _width;                          // vector width in bits the packs were made for (0: none)

    /// <summary>Copies and packs the matrices of every layer and direction of <paramref name="parameters"/> (the span is not kept).</summary>
    /// <param name="g">The stack's geometry.</param>
    /// <param name="parameters">The stack's parameters, <see cref="RecurrentGeometry.ParameterCount"/> floats in PyTorch state-dict order.</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, <paramref name="parameters"/> does not have
    /// <see cref="RecurrentGeometry.ParameterCount"/> floats, or a packed copy would exceed the largest array.</exception>
    public PackedRecurrentWeights(in RecurrentGeometry g, ReadOnlySpan<float> parameters)
        : this(g, parameters, Gemm.NativeWidth)
    {
    }

    /// <summary>Packs the step kernel's panels for <paramref name="width"/> bits (512, 256, 128; 0 for none): tests force each.</summary>
    internal PackedRecurrentWeights(in RecurrentGeometry g, ReadOnlySpan<float> parameters, int width)
    {
        if (!g.IsValid)
            throw new ArgumentException($"'{nameof(g)}' is default({nameof(RecurrentGeometry)}); create it with its constructor.", nameof(g));
        ThrowHelper.CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), $"ParameterCount of {g}");
        _geometry = g;
        _width = width;
        int gh = g.GateCount * g.Hidden, parts = g.Layers * g.Directions;
        _inputWeights = new PackedDenseWeight[parts];
        _offsets = new long[parts];
        _panelInput = new int[parts];
        long length = 0;
        for (int part = 0; part < parts; part++)
        {
            // W_ih leads the panels where the forward may sum x_t·W_ihᵀ inside the steps (the condition of
            // Context.FuseProjection that does not depend on the call).
            int inL = g.LayerInputSize(part / g.Directions);
            _panelInput[part] = g.Cell == RecurrentCell.Lstm && inL <= Gemm.KC ? inL : 0;
            _offsets[part] = length;
            length += RecurrentStep.PackedLength(g.Hidden, g.GateCount, _panelInput[part]);
        }
        if (width != 0)
        {
            if (length > Array.MaxLength)
                throw new ArgumentException($"The packed W_ih/W_hh panels of {g} need {length} floats, more than an array holds.", nameof(g));
            _panels = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
        }
        for (int l = 0; l < g.Layers; l++)
            for (int d = 0; d < g.Directions; d++)
            {
                // Per layer and direction, in state-dict order: weight_ih [G·H, in], weight_hh [G·H, H], bias_ih, bias_hh.
                int inL = g.LayerInputSize(l), offset = g.ParameterOffset(l, d);
                int part = l * g.Directions + d;
                _inputWeights[part] = new PackedDenseWeight(parameters.Slice(offset, gh * inL), gh, inL);
                if (_panels is null) continue;
                fixed (float* wIh = parameters.Slice(offset, gh * inL), wHh = parameters.Slice(offset + gh * inL, gh * g.Hidden))
                    RecurrentStep.PackPanels(wIh, _panelInput[part], wHh, PanelsAt(part), g.Hidden, g.GateCount, width / 32);
            }
    }

    /// <summary>Whether these weights were packed from a stack with <paramref name="g"/>'s sizes.</summary>
    internal bool Matches(in RecurrentGeometry g) => g == _geometry;

    /// <summary>The packed W_ih of layer <paramref name="layer"/>, direction <paramref name="direction"/>.</summary>
    internal PackedDenseWeight InputWeight(int layer, int direction) => _inputWeights[layer * _geometry.Directions + direction];

    /// <summary>
    /// The step kernel's panels of a layer-direction for <paramref name="width"/> bits, or null if they were packed for another
    /// width; <paramref name="panelInput"/> receives the rows of W_ih at the head of each panel (0: W_hh alone).
    /// </summary>
    internal float* Panels(int layer, int direction, int width, out int panelInput)
    {
        int part = layer * _geometry.Directions + direction;
        panelInput = _panelInput[part];
        return _panels is null || width != _width ? null : PanelsAt(part);
    }

    /// <summary>Pack <paramref name="part"/> (valid while this object lives: the array is pinned).</summary>
    private float* PanelsAt(int part) =>
        (float*)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_panels!), (nint)_offsets[part]));
}

public static partial class RecurrentKernels
{
    /// <summary>
    /// <see cref="Forward(in RecurrentGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, ReadOnlySpan{float}, Span{float})"/>
    /// with W_ih and W_hh of every layer and direction read from <paramref name="packed"/> (packed once) instead of
    /// <paramref name="parameters"/>: the same formulas (class remarks); results equal up to rounding.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, InputSize]</c>.</param>
    /// <param name="parameters">The stack's parameters (PyTorch state-dict order): the biases are read from here.</param>
    /// <param name="packed">The matrices, packed from the same parameters.</param>
    /// <param name="output">As in the overload without <paramref name="packed"/>.</param>
    /// <param name="lengths">Real steps per example <c>[batch]</c>, each in [1, seq]; empty means every example has <paramref name="seq"/> steps.</param>
    /// <param name="workspace">Scratch of at least <see cref="RecurrentGeometry.WorkspaceLength"/> floats (contents are overwritten).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Steps per example (padded length).</param>
    /// <param name="initialState">Empty (zeros), or <c>h_0</c> (and for LSTM <c>c_0</c>) as in the overload without <paramref name="packed"/>.</param>
    /// <param name="finalState">Empty, or receives <c>h_n</c> (and for LSTM <c>c_n</c>); may be the same span as <paramref name="initialState"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="packed"/> is null.</exception>
    /// <exception cref="ArgumentException">As the overload without <paramref name="packed"/>, or <paramref name="packed"/> was made for
    /// another geometry.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="seq"/> is less than 1.</exception>
    public static void ForwardPrepacked(in RecurrentGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, PackedRecurrentWeights packed,
        Span<float> output, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq,
        ReadOnlySpan<float> initialState = default, Span<float> finalState = default)
    {
        ArgumentNullException.ThrowIfNull(packed);
        if (!packed.Matches(g))
            throw new ArgumentException($"'{nameof(packed)}' was packed for another recurrent stack than {g}.", nameof(packed));
        ForwardCore(g, input, parameters, output, lengths, workspace, batch, seq, initialState, finalState, Tuning.Default, packed);
        GC.KeepAlive(packed);   // the panels are read through raw pointers
    }

    /// <summary>P [rows, G·H] = X [rows, in]·W_ihᵀ over the packed W_ih: the packed GEMM, as <see cref="Project"/> takes, without packing W.</summary>
    private static unsafe void ProjectPrepacked(float* x, PackedDenseWeight wIh, float* p, long rows)
        => DenseKernels.Forward(PackedRoute.Packed, default(IdentityActivation), new ReadOnlySpan<float>(x, (int)(rows * wIh.InFeatures)), wIh, default,
            new Span<float>(p, (int)(rows * wIh.OutFeatures)), (int)rows);
}
