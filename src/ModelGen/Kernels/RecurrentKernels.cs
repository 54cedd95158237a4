// LSTM and GRU layer stacks (PyTorch nn.LSTM / nn.GRU, batch_first=True): stacked layers, one or two directions, per-example
// lengths with packed-sequence semantics, inference and training forward, and backward through time.
// Per layer and direction the work is (what cuDNN and ONNX Runtime do too):
//   1. the input projection of every step as ONE GEMM: P[b·seq + t, :] = x[b, t, :]·W_ihᵀ (biases are added later, in the
//      step's epilogue, where the row is hot anyway: no extra pass over P);
//   2. per time step, ONE small GEMM of h_{t-1} against W_hh with the gate nonlinearities and the cell update fused into its
//      epilogue (RecurrentKernels.Step.cs);
//   3. backward: per step one small GEMM dGh_{t+1}·W_hh fused with the cell's backward formulas, which store the gate
//      gradients of every step; then dW_ih += dGxᵀ·x, dW_hh += dGhᵀ·h_prev and dx = dGx·W_ih as three big GEMMs.
// Variable lengths: example b has real steps t < lengths[b]. The forward direction runs t = 0..len−1 and the reverse one
// t = len−1..0, both from the initial state. At iteration i every example with len > i takes one step (at t = i forward,
// t = len−1−i reverse), so a step's rows may sit at different times: each row carries its own pointers (StepRow/BackRow).
// Padded positions are written as 0, never read, and receive no gradient.
// Internal planes (projection/gates, cell states, layer outputs, gate gradients) are time-major, [seq, batch, width]: the rows
// one step touches are then contiguous (one prefetch stream per plane instead of one per example, which measured 25% of the
// backward at batch 16). The caller's tensors stay batch-first; they are transposed once per call where needed (never at batch 1).
// Threads: with KernelOptions.MaxThreads ≥ 2 the two directions of a bidirectional layer run as one two-piece ParallelJob
// (Threading.cs), each direction on its own thread over its own scratch, kept planes and gradient slice; the one quantity
// both feed, dX = dX_forward + dX_reverse, is summed after both are done, always in that order, so the bits never depend
// on the thread count. GEMMs inside a direction find the helpers taken and run on that direction's thread.
// Nothing here allocates or keeps state: scratch comes from the caller's workspace, so Forward is safe to call from many
// threads at once (on distinct workspaces and outputs). Every method with a loop is [AggressiveOptimization]: fully
// optimized at once, never compiled again on the caller's thread (tier-0 loops would be slow, and an on-stack replacement
// mid-call is a JIT compilation that can allocate).
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>
/// Forward, training forward and backward of PyTorch-compatible LSTM and GRU layer stacks (<see cref="RecurrentGeometry"/>).
/// </summary>
/// <remarks>
/// Per time step and direction, with x the layer input, h the previous hidden state (zero at the start by default) and
/// gate rows in PyTorch's order:
/// <list type="bullet">
/// <item>LSTM: <c>i = σ(W_ii x + b_ii + W_hi h + b_hi)</c>, <c>f = σ(W_if x + b_if + W_hf h + b_hf)</c>,
/// <c>g = tanh(W_ig x + b_ig + W_hg h + b_hg)</c>, <c>o = σ(W_io x + b_io + W_ho h + b_ho)</c>, <c>c' = f ⊙ c + i ⊙ g</c>,
/// <c>h' = o ⊙ tanh(c')</c>.</item>
/// <item>GRU: <c>r = σ(W_ir x + b_ir + W_hr h + b_hr)</c>, <c>z = σ(W_iz x + b_iz + W_hz h + b_hz)</c>,
/// <c>n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))</c>, <c>h' = (1 − z) ⊙ n + z ⊙ h</c>.</item>
/// </list>
/// Layer l ≥ 1 takes the concatenated outputs of layer l − 1 (forward features, then reverse). With per-example lengths the
/// forward direction runs t = 0..len−1 and the reverse direction t = len−1..0 (as PyTorch's packed sequences); padded
/// positions of the output are 0 and nothing at a padded position affects a real output or a gradient.
/// Results may differ from PyTorch's in the last bits (fused multiply-add, vectorised σ and tanh).
/// </remarks>
public static partial class RecurrentKernels
{
    /// <summary>
    /// Inference forward of the whole stack (no dropout): effectively computes the formulas in the class remarks for every
    /// layer, direction and real step.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, InputSize]</c>.</param>
    /// <param name="parameters">The stack's parameters, <see cref="RecurrentGeometry.ParameterCount"/> floats in PyTorch state-dict order.</param>
    /// <param name="output"><c>[batch, seq, OutputFeatures]</c> when <see cref="RecurrentGeometry.ReturnSequences"/> (padded steps 0),
    /// else <c>[batch, OutputFeatures]</c>: the forward direction's h at t = len − 1, then the reverse direction's h at t = 0.</param>
    /// <param name="lengths">Real steps per example <c>[batch]</c>, each in [1, seq]; empty means every example has <paramref name="seq"/> steps.</param>
    /// <param name="workspace">Scratch of at least <see cref="RecurrentGeometry.WorkspaceLength"/> floats (contents are overwritten).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Steps per example (padded length).</param>
    /// <param name="initialState">Empty (zeros), or PyTorch's <c>h_0</c> <c>[Layers·Directions, batch, Hidden]</c>, followed for LSTM by
    /// <c>c_0</c> of the same shape (<see cref="RecurrentGeometry.StateLength"/> floats).</param>
    /// <param name="finalState">Empty, or receives <c>h_n</c> (and for LSTM <c>c_n</c>) in the layout of <paramref name="initialState"/>: the
    /// state after each example's last real step. May be the same span as <paramref name="initialState"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, a span's length does not match its shape, a length is
    /// outside [1, seq], the workspace is too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="seq"/> is less than 1.</exception>
    public static void Forward(in RecurrentGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        Span<float> output, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq,
        ReadOnlySpan<float> initialState = default, Span<float> finalState = default)
        => ForwardCore(g, input, parameters, output, lengths, workspace, batch, seq, initialState, finalState, Tuning.Default);

    /// <summary>
    /// Training forward: the same outputs as <see cref="Forward"/>
    /// from a zero initial state, with inverted dropout on the output of every layer but the last (PyTorch's <c>dropout</c>:
    /// <c>x_{l+1} = out_l ⊙ mask</c>, <c>mask = (u ≥ p) / (1 − p)</c>, one uniform draw per element, in time-major
    /// <c>[seq, batch, OutputFeatures]</c> order), and keeps what <see cref="Backward"/> needs.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, InputSize]</c>.</param>
    /// <param name="parameters">The stack's parameters (PyTorch state-dict order).</param>
    /// <param name="output">As in <c>Forward</c>.</param>
    /// <param name="kept">Receives <see cref="RecurrentGeometry.KeptLength"/> = <c>batch·seq·TrainingStepLength</c> floats for
    /// <see cref="Backward"/> (gates, cell states, layer outputs, dropout masks; the layout is private to these kernels).</param>
    /// <param name="lengths">Real steps per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="RecurrentGeometry.WorkspaceLength"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Steps per example.</param>
    /// <param name="dropout">Probability of zeroing a layer output element, in [0, 1]; unused with one layer.</param>
    /// <param name="rng">Draws the dropout masks; may be null when <paramref name="dropout"/> is 0 or there is one layer.</param>
    /// <exception cref="ArgumentException">As <c>Forward</c>, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="dropout"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while dropout applies.</exception>
    public static void TrainForward(in RecurrentGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq,
        float dropout, Rng rng)
        => TrainForwardCore(g, input, parameters, output, kept, lengths, workspace, batch, seq, dropout, rng, Tuning.Default);

    /// <summary>
    /// Backward through time of <see cref="TrainForward"/>: given <c>dOutput = ∂L/∂output</c>, accumulates
    /// <c>dParameters += ∂L/∂parameters</c> and writes <c>dInput = ∂L/∂input</c> (0 at padded steps). dOutput at padded steps is ignored.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output, in the output's shape.</param>
    /// <param name="input">The input given to <see cref="TrainForward"/>.</param>
    /// <param name="parameters">The parameters given to <see cref="TrainForward"/>.</param>
    /// <param name="kept">What <see cref="TrainForward"/> kept.</param>
    /// <param name="dParameters">Parameter gradients in the layout of <paramref name="parameters"/>; accumulated into.</param>
    /// <param name="dInput">Receives <c>[batch, seq, InputSize]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="lengths">The lengths given to <see cref="TrainForward"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="RecurrentGeometry.WorkspaceLength"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Steps per example.</param>
    /// <exception cref="ArgumentException">A span's length does not match its shape, a length is outside [1, seq], the workspace is
    /// too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="seq"/> is less than 1.</exception>
    public static void Backward(in RecurrentGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput,
        ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq)
        => BackwardCore(g, dOutput, input, parameters, kept, dParameters, dInput, lengths, workspace, batch, seq, Tuning.Default);

    // ------------------------------------------------------------------------------------------------ tuning (tests)

    /// <summary>
    /// Which kernels a call uses: <see cref="Width"/> 512/256/128 or 0 (scalar), and the forward step path (null or true: packed
    /// W_hh and register tiles; false: the dot path), and whether steps prefetch the next step's rows of the kept planes
    /// (<see cref="Prefetch"/>; off only to measure what it gains), and whether the LSTM's cell update runs pipelined over a
    /// tile's rows (<see cref="PipelinedCell"/>; off only to measure and to test the per-row form it must equal bit for bit),
    /// and whether the LSTM's input projection runs inside the packed steps (<see cref="FusedProjection"/>; null: by batch,
    /// see <see cref="Context.FuseProjection"/>).
    /// Tests force each; the public entry points use <see cref="Default"/>.
    /// </summary>
    internal readonly record struct Tuning(int Width, bool? Packed, bool Prefetch = true, bool PipelinedCell = true, bool? FusedProjection = null)
    {
        public static Tuning Default => new(Gemm.NativeWidth, null);
    }

    // ------------------------------------------------------------------------------------------------ forward

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void ForwardCore(in RecurrentGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        Span<float> output, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq,
        ReadOnlySpan<float> initialState, Span<float> finalState, Tuning tuning, PackedRecurrentWeights? packed = null)
    {
        CheckCommon(g, input, parameters, output, lengths, workspace, batch, seq);
        if (!initialState.IsEmpty) CheckLength(initialState.Length, g.StateLength(batch), nameof(initialState), Shape.State, g, batch, seq, orEmpty: true);
        if (!finalState.IsEmpty)
        {
            CheckLength(finalState.Length, g.StateLength(batch), nameof(finalState), Shape.State, g, batch, seq, orEmpty: true);
            ThrowHelper.CheckSameOrDisjoint(initialState, finalState, nameof(initialState), nameof(finalState));
            ThrowHelper.CheckWritable(finalState, nameof(finalState), input, parameters, output, workspace);
        }
        ThrowHelper.CheckNoOverlap(initialState, output, nameof(initialState), nameof(output));
        ThrowHelper.CheckNoOverlap(initialState, workspace, nameof(initialState), nameof(workspace));
        if (batch == 0) return;

        var layout = new RecurrentWorkspace(g, batch, seq);
        fixed (float* x = input, p = parameters, y = output, ws = workspace, s0 = initialState, sN = finalState)
        fixed (int* len = lengths)
        {
            var c = new Context(g, batch, seq, len, ws, layout, tuning, direction: 0);
            var c1 = g.Directions == 2 ? new Context(g, batch, seq, len, ws, layout, tuning, direction: 1) : c;
            float* layerIn = c.TimeMajorInput(x, g.InputSize, ws + layout.XT, zeroPadded: false);   // [seq·batch, in]
            int inL = g.InputSize;
            for (int l = 0; l < g.Layers; l++)
            {
                // The top layer writes the caller's batch-first output directly when it returns sequences; the others
                // ping-pong between two time-major buffers.
                bool direct = l == g.Layers - 1 && g.ReturnSequences;
                float* seqOut = direct ? y : ws + (l % 2 == 0 ? layout.SeqA : layout.SeqB);
                var call = new LayerCall(LayerPass.Forward, l, layerIn, inL, p) { SeqOut = seqOut, Direct = direct, S0 = s0, SN = sN, Packed = packed };
                RunLayer(g, c, c1, call);
                ZeroPadded(c, seqOut, c.DH, direct);
                layerIn = seqOut;
                inL = c.DH;
            }
            if (!g.ReturnSequences) GatherOutput(c, layerIn, y);
        }
    }

    /// <summary>Inference forward of one layer-direction: projection, recurrence, and (if asked) its final state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ForwardDirection(in RecurrentGeometry g, in Context c, in LayerCall a, int d)
    {
        int gh = c.GH, h = c.H, batch = c.Batch, l = a.Layer, inL = a.InputSize;
        var w = new Weights(g, a.Parameters, l, d);
        float* xproj = c.XProj;   // [seq·batch, GH]
        bool fused = c.FuseProjection(g.Cell, inL);
        // A predictor's W_ih was packed once (the same panels Project packs per call), and so were its step
        // kernel's panels, [W_ih | W_hh] wherever the projection may run inside the steps (else W_hh alone).
        if (!fused && a.Packed is not null && c.Width != 0) ProjectPrepacked(a.LayerIn, a.Packed.InputWeight(l, d), xproj, c.BS);
        else if (!fused) Project(a.LayerIn, w.Ih, xproj, c.BS, inL, gh, c.Width);
        c.LoadBias(g.Cell, w);
        long stateBlock = (long)g.Layers * g.Directions * batch * h;   // floats of h_0 (c_0 follows)
        long slot = (long)(l * g.Directions + d) * batch * h;
        float* h0 = a.S0 == null ? null : a.S0 + slot;
        float* cState = c.CState;   // [batch, H] LSTM cell state, updated in place
        if (g.Cell == RecurrentCell.Lstm)
        {
            if (a.S0 == null) new Span<float>(cState, batch * h).Clear();
            else new ReadOnlySpan<float>(a.S0 + stateBlock + slot, batch * h).CopyTo(new Span<float>(cState, batch * h));
        }
        int panelInput = 0;
        float* panels = a.Packed is null ? null : a.Packed.Panels(l, d, c.Width, out panelInput);
        if (fused && panelInput != inL) panels = null;   // summing x_t·W_ihᵀ in the steps needs W_ih in the panels
        var dir = new Direction(w.Hh, xproj, a.SeqOut + d * h, a.Direct, h0, cState, null, null, reverse: d == 1, train: false,
            fused ? w.Ih : null, a.LayerIn, fused ? inL : 0, panels, panelInput);
        RunDirection(c, g.Cell, dir);
        if (a.SN != null)
        {
            GatherLast(c, a.SeqOut + d * h, c.DH, a.Direct, reverse: d == 1, a.SN + slot);
            if (g.Cell == RecurrentCell.Lstm)
                new ReadOnlySpan<float>(cState, batch * h).CopyTo(new Span<float>(a.SN + stateBlock + slot, batch * h));
        }
    }

    // ------------------------------------------------------------------------------------------------ training forward

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void TrainForwardCore(in RecurrentGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq,
        float dropout, Rng rng, Tuning tuning)
    {
        CheckCommon(g, input, parameters, output, lengths, workspace, batch, seq);
        CheckLength(kept.Length, g.KeptLength(batch, seq), nameof(kept), Shape.Kept, g, batch, seq);
        ThrowHelper.CheckWritable(kept, nameof(kept), input, parameters, output, workspace);
        if (!(dropout >= 0f && dropout <= 1f)) ThrowHelper.ThrowArgumentOutOfRange(nameof(dropout), dropout, "must be in [0, 1]");
        if (g.Layers > 1 && dropout > 0f) ArgumentNullException.ThrowIfNull(rng);
        if (batch == 0) return;

        var layout = new RecurrentWorkspace(g, batch, seq);
        fixed (float* x = input, p = parameters, y = output, k = kept, ws = workspace)
        fixed (int* len = lengths)
        {
            var c = new Context(g, batch, seq, len, ws, layout, tuning, direction: 0);
            var c1 = g.Directions == 2 ? new Context(g, batch, seq, len, ws, layout, tuning, direction: 1) : c;
            var planes = new KeptPlanes(g, k, c.BS);
            int dh = c.DH;
            float* layerIn = c.TimeMajorInput(x, g.InputSize, ws + layout.XT, zeroPadded: false);   // [seq·batch, in]
            int inL = g.InputSize;
            for (int l = 0; l < g.Layers; l++)
            {
                float* seqOut = planes.Seq(l);   // [seq·batch, DH]
                RunLayer(g, c, c1, new LayerCall(LayerPass.Train, l, layerIn, inL, p) { SeqOut = seqOut, Planes = planes });
                ZeroPadded(c, seqOut, dh, batchFirst: false);
                if (l < g.Layers - 1)
                {
                    int n = (int)(c.BS * dh);
                    var dropped = new Span<float>(planes.Dropped(l), n);
                    var mask = new Span<float>(planes.Mask(l), n);
                    if (dropout == 0f)
                    {
                        // Backward multiplies by the mask whatever p was, so p = 0 still writes a mask of ones (and draws nothing).
                        mask.Fill(1f);
                        new ReadOnlySpan<float>(seqOut, n).CopyTo(dropped);
                    }
                    else Dropout.Forward(new ReadOnlySpan<float>(seqOut, n), dropped, mask, dropout, rng);
                    layerIn = planes.Dropped(l);
                }
                inL = dh;
            }
            float* top = planes.Seq(g.Layers - 1);
            if (g.ReturnSequences) c.ToBatchFirst(top, y, dh);
            else GatherOutput(c, top, y);
        }
    }

    /// <summary>Training forward of one layer-direction: projection into its gate plane, recurrence keeping what backward needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void TrainDirection(in RecurrentGeometry g, in Context c, in LayerCall a, int d)
    {
        int gh = c.GH, l = a.Layer, inL = a.InputSize;
        var w = new Weights(g, a.Parameters, l, d);
        float* gates = a.Planes.Gates(l, d);   // [seq·batch, GH]: the projection, then the activated gates
        bool fused = c.FuseProjection(g.Cell, inL);
        if (!fused) Project(a.LayerIn, w.Ih, gates, c.BS, inL, gh, c.Width);
        c.LoadBias(g.Cell, w);
        var dir = new Direction(w.Hh, gates, a.SeqOut + d * c.H, false, null, null, a.Planes.Cell(l, d), a.Planes.Aux(l, d), reverse: d == 1, train: true,
            fused ? w.Ih : null, a.LayerIn, fused ? inL : 0);
        RunDirection(c, g.Cell, dir);
        // Padded steps' gate rows: the projection of padding, or never written when the steps project; zeros
        // either way, so the kept planes do not depend on the route (backward reads no padded row).
        ZeroPadded(c, gates, gh, batchFirst: false);
    }

    // ------------------------------------------------------------------------------------------------ backward

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void BackwardCore(in RecurrentGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput,
        ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, Tuning tuning)
    {
        CheckCommon(g, input, parameters, dOutput, lengths, workspace, batch, seq, outputName: nameof(dOutput));
        CheckLength(kept.Length, g.KeptLength(batch, seq), nameof(kept), Shape.Kept, g, batch, seq);
        CheckLength(dParameters.Length, g.ParameterCount, nameof(dParameters), Shape.Parameters, g, batch, seq);
        if (!dInput.IsEmpty)
        {
            CheckLength(dInput.Length, g.InputLength(batch, seq), nameof(dInput), Shape.Input, g, batch, seq, orEmpty: true);
            ThrowHelper.CheckWritable(dInput, nameof(dInput), input, parameters, dOutput, workspace, nameof(dOutput));
            ThrowHelper.CheckNoOverlap(kept, dInput, nameof(kept), nameof(dInput));
            ThrowHelper.CheckNoOverlap(dParameters, dInput, nameof(dParameters), nameof(dInput));
        }
        ThrowHelper.CheckWritable(dParameters, nameof(dParameters), input, parameters, dOutput, workspace, nameof(dOutput));
        ThrowHelper.CheckNoOverlap(kept, dParameters, nameof(kept), nameof(dParameters));
        ThrowHelper.CheckNoOverlap(kept, workspace, nameof(kept), nameof(workspace));
        if (batch == 0) return;

        var layout = new RecurrentWorkspace(g, batch, seq);
        fixed (float* dy = dOutput, x = input, p = parameters, k = kept, dp = dParameters, dx = dInput, ws = workspace)
        fixed (int* len = lengths)
        {
            var c = new Context(g, batch, seq, len, ws, layout, tuning, direction: 0);
            var c1 = g.Directions == 2 ? new Context(g, batch, seq, len, ws, layout, tuning, direction: 1) : c;
            var planes = new KeptPlanes(g, k, c.BS);
            int gh = c.GH, dh = c.DH, h = c.H;
            long bs = c.BS;
            float* dSeqA = ws + layout.DSeqA, dSeqB = ws + layout.DSeqB;   // [seq·batch, DH]

            // The gradient reaching the top layer's output sequence: the caller's batch-first dOutput as it lies, or for a
            // last-step output a time-major buffer holding it at each direction's last step.
            float* src;
            bool srcBatchFirst = g.ReturnSequences;
            if (g.ReturnSequences) src = dy;
            else
            {
                src = dSeqA;
                new Span<float>(src, (int)(bs * dh)).Clear();
                for (int b = 0; b < batch; b++)
                {
                    new ReadOnlySpan<float>(dy + (long)b * dh, h).CopyTo(new Span<float>(src + c.TM(b, c.Length(b) - 1) * dh, h));
                    if (g.Directions == 2)
                        new ReadOnlySpan<float>(dy + (long)b * dh + h, h).CopyTo(new Span<float>(src + c.TM(b, 0) * dh + h, h));
                }
            }

            for (int l = g.Layers - 1; l >= 0; l--)
            {
                int inL = g.LayerInputSize(l);
                // Gradient of this layer's input (time-major), or null; layer 0 writes dInput directly at batch 1.
                float* dst = l > 0 ? (src == dSeqA ? dSeqB : dSeqA) : dx == null ? null : batch == 1 ? dx : ws + layout.DXT;
                // dW_ih sums over every row; padded input rows may hold anything (even NaN), so layer 0 reads a zeroed copy.
                float* layerIn = l > 0 ? planes.Dropped(l - 1) : c.TimeMajorInput(x, inL, ws + layout.XCopy, zeroPadded: true);
                RunLayer(g, c, c1, new LayerCall(LayerPass.Backward, l, layerIn, inL, p)
                    { SeqOut = planes.Seq(l), Planes = planes, DSeq = src, DSeqBatchFirst = srcBatchFirst, DParameters = dp });
                if (dst != null)
                {
                    // dX = dX_forward + dX_reverse, always summed in this order (after both directions are done, whichever
                    // thread computed them), so the bits do not depend on the thread count.
                    for (int d = 0; d < g.Directions; d++)
                    {
                        var w = new Weights(g, p, l, d);
                        var dGx = new ReadOnlySpan<float>((d == 0 ? c : c1).DGx, (int)(bs * gh));
                        Gemm.NN(dGx, new ReadOnlySpan<float>(w.Ih, gh * inL), new Span<float>(dst, (int)(bs * inL)), (int)bs, gh, inL, accumulate: d > 0);
                    }
                }
                if (l > 0)
                {
                    // Through the dropout between layer l − 1 and l (padded rows are already 0: their dGx rows are).
                    var span = new Span<float>(dst, (int)(bs * dh));
                    Dropout.Backward(span, new ReadOnlySpan<float>(planes.Mask(l - 1), (int)(bs * dh)), span);
                }
                else if (dst != null && dst != dx)
                {
                    c.ToBatchFirst(dst, dx, inL);
                }
                src = dst;
                srcBatchFirst = false;
            }
        }
    }

    /// <summary>
    /// Backward through time of one layer-direction: its gate gradients (kept in its own dGx, which the caller then turns
    /// into dX) and its weight and bias gradients, accumulated into its own slice of dParameters.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void BackwardDirection(in RecurrentGeometry g, in Context c, in LayerCall a, int d)
    {
        int gh = c.GH, dh = c.DH, h = c.H, batch = c.Batch, l = a.Layer, inL = a.InputSize;
        long bs = c.BS;
        bool lstm = g.Cell == RecurrentCell.Lstm;
        float* dGx = c.DGx;                         // [seq·batch, GH]
        float* dGh = lstm ? dGx : c.DGh;            // [seq·batch, GH]
        float* prev = c.HPrev;                      // [seq·batch, (LSTM: inL +) H]: (x |) h_prev per row
        float* seqL = a.SeqOut;                     // [seq·batch, DH] this layer's output
        var w = new Weights(g, a.Parameters, l, d);
        var dw = new Weights(g, a.DParameters, l, d);
        new Span<float>(c.Carry, batch * h).Clear();
        if (c.Padded)
        {
            new Span<float>(dGx, (int)(bs * gh)).Clear();
            if (dGh != dGx) new Span<float>(dGh, (int)(bs * gh)).Clear();
        }
        var dir = new BackDirection(w.Hh, a.DSeq + d * h, a.DSeqBatchFirst, a.Planes.Gates(l, d), a.Planes.Aux(l, d), a.Planes.Cell(l, d), seqL + d * h,
            c.Carry, dGx, dGh, reverse: d == 1);
        RunBackDirection(c, g.Cell, dir);

        var dGxSpan = new ReadOnlySpan<float>(dGx, (int)(bs * gh));
        float* sums = c.Sums;
        if (lstm)
        {
            // One GEMM for both weight gradients: [dW_ih | dW_hh] = dGᵀ·[x | h_prev] (A is packed once, not twice),
            // then added into the two tensors; LSTM's two bias gradients are the same column sums.
            int wide = inL + h;
            BuildPrevious(c, a.LayerIn, inL, seqL + d * h, dh, reverse: d == 1, prev);
            float* both = c.DW;   // [GH, inL + H]
            Gemm.TN(dGxSpan, new ReadOnlySpan<float>(prev, (int)(bs * wide)), new Span<float>(both, gh * wide), gh, (int)bs, wide);
            for (int r = 0; r < gh; r++)
            {
                RowOps.AddTo(ref both[(long)r * wide], ref dw.Ih[(long)r * inL], (nuint)inL);
                RowOps.AddTo(ref both[(long)r * wide + inL], ref dw.Hh[(long)r * h], (nuint)h);
            }
            ColumnSums(dGx, bs, gh, sums);
            RowOps.AddTo(ref sums[0], ref dw.BiasIh[0], (nuint)gh);
            RowOps.AddTo(ref sums[0], ref dw.BiasHh[0], (nuint)gh);
        }
        else
        {
            // GRU: the input side sees d(pre_n), the hidden side d(W_hn h + b_hn): two gate-gradient matrices.
            BuildPrevious(c, null, 0, seqL + d * h, dh, reverse: d == 1, prev);
            Gemm.TN(new ReadOnlySpan<float>(dGh, (int)(bs * gh)), new ReadOnlySpan<float>(prev, (int)(bs * h)), new Span<float>(dw.Hh, gh * h),
                gh, (int)bs, h, accumulate: true);
            Gemm.TN(dGxSpan, new ReadOnlySpan<float>(a.LayerIn, (int)(bs * inL)), new Span<float>(dw.Ih, gh * inL), gh, (int)bs, inL, accumulate: true);
            ColumnSums(dGx, bs, gh, sums);
            RowOps.AddTo(ref sums[0], ref dw.BiasIh[0], (nuint)gh);
            ColumnSums(dGh, bs, gh, sums);
            RowOps.AddTo(ref sums[0], ref dw.BiasHh[0], (nuint)gh);
        }
    }

    // ------------------------------------------------------------------------------------------------ directions on threads

    /// <summary>Which entry point a <see cref="LayerCall"/> serves.</summary>
    private enum LayerPass { Forward, Train, Backward }

    /// <summary>What every direction of one layer shares in one pass (each direction finds its own scratch in its <see cref="Context"/>).</summary>
    private readonly unsafe struct LayerCall(LayerPass pass, int layer, float* layerIn, int inputSize, float* parameters)
    {
        public readonly LayerPass Pass = pass;
        public readonly int Layer = layer;
        public readonly float* LayerIn = layerIn;       // [seq·batch, in_l] time-major layer input
        public readonly int InputSize = inputSize;
        public readonly float* Parameters = parameters;
        public float* SeqOut { get; init; }             // the layer's output sequence (forward: written; backward: read)
        public bool Direct { get; init; }               // inference: SeqOut is the caller's batch-first output
        public float* S0 { get; init; }                 // inference: h_0 (then c_0), or null
        public float* SN { get; init; }                 // inference: h_n (then c_n), or null
        public PackedRecurrentWeights? Packed { get; init; }
        public KeptPlanes Planes { get; init; }
        public float* DSeq { get; init; }               // backward: gradient of SeqOut
        public bool DSeqBatchFirst { get; init; }
        public float* DParameters { get; init; }
    }

    /// <summary>Multiply-adds below which a layer's directions run one after the other (waking a helper would cost more).</summary>
    private const long ParallelMinMacs = Gemm.ParallelMinMacs;

    /// <summary>
    /// Runs every direction of one layer. The two directions of a bidirectional layer share nothing they write (each has
    /// its own scratch, kept planes and gradient slice), so with <see cref="KernelOptions.MaxThreads"/> ≥ 2 they run as one
    /// two-piece job, each on its own thread; otherwise one after the other. Each direction is computed by the same code
    /// either way, so the bits do not depend on the thread count.
    /// </summary>
    private static void RunLayer(in RecurrentGeometry g, in Context c0, in Context c1, in LayerCall a)
    {
        if (g.Directions == 1)
        {
            RunOne(g, c0, a, 0);
            return;
        }
        // Per direction: the input projection plus the recurrent product over every step (backward is about twice that).
        long macs = c0.BS * c0.GH * (a.InputSize + c0.H);
        int parts = KernelOptions.EffectiveThreads >= 2 && macs >= ParallelMinMacs ? 2 : 1;
        DirectionJob.Run(g, c0, c1, a, parts);
    }

    private static void RunOne(in RecurrentGeometry g, in Context c, in LayerCall a, int d)
    {
        switch (a.Pass)
        {
            case LayerPass.Forward: ForwardDirection(g, c, a, d); break;
            case LayerPass.Train: TrainDirection(g, c, a, d); break;
            default: BackwardDirection(g, c, a, d); break;
        }
    }

    private static long s_helperDirections;

    /// <summary>Directions computed by a helper thread (not by their caller) since the process started (for tests).</summary>
    internal static long HelperDirections => Interlocked.Read(ref s_helperDirections);

    /// <summary>
    /// The two directions of one layer as a <see cref="ParallelJob"/>: piece d is direction d; as one piece, both in order.
    /// A per-caller instance is reused, so steady-state calls allocate nothing. GEMMs inside a piece find the helpers
    /// taken by this job and run on the piece's thread (Threading.cs: no nesting, no deadlock).
    /// </summary>
    private sealed class DirectionJob : ParallelJob
    {
        [ThreadStatic] private static DirectionJob? t_job;

        private RecurrentGeometry _g;
        private Context _c0, _c1;
        private LayerCall _call;
        private int _caller;

        public static void Run(in RecurrentGeometry g, in Context c0, in Context c1, in LayerCall a, int parts)
        {
            DirectionJob job = t_job ??= new DirectionJob();
            job._g = g;
            job._c0 = c0;
            job._c1 = c1;
            job._call = a;
            job._caller = Environment.CurrentManagedThreadId;
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job._call = default;   // the buffers are pinned only for this call; do not keep a predictor alive
                job._c0 = job._c1 = default;
            }
        }

        public override void Execute(int part, int parts)
        {
            if (parts == 1)
            {
                RunOne(_g, _c0, _call, 0);
                RunOne(_g, _c1, _call, 1);
                return;
            }
            if (Environment.CurrentManagedThreadId != _caller) Interlocked.Increment(ref s_helperDirections);
            RunOne(_g, part == 0 ? _c0 : _c1, _call, part);
        }
    }

    // ------------------------------------------------------------------------------------------------ time loops

    private static void RunDirection(in Context c, RecurrentCell cell, in Direction dir)
    {
        if (cell == RecurrentCell.Lstm) RunDirection<LstmCell>(c, dir);
        else RunDirection<GruCell>(c, dir);
    }

    private static void RunDirection<TCell>(in Context c, in Direction dir) where TCell : struct, IRecurrentCell
    {
        if (c.Width == 512) RunDirection<Vector512<float>, TCell>(c, dir);
        else if (c.Width == 256) RunDirection<Vector256<float>, TCell>(c, dir);
        else RunDirection<Vector128<float>, TCell>(c, dir);   // also the scalar path (Width 0), which never touches TV
    }

    /// <summary>One layer-direction's forward recurrence: at iteration i every example with len &gt; i takes one step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RunDirection<TV, TCell>(in Context c, in Direction dir) where TV : struct where TCell : struct, IRecurrentCell
    {
        int h = c.H, gh = c.GH, dh = c.DH, batch = c.Batch;
        bool lstm = TCell.Gates == 4;
        bool packed = c.Width != 0 && (c.Packed ?? true);
        // The step kernel's panels: a predictor's, packed once for this width, else [W_ih |] W_hh repacked into the workspace.
        bool prepacked = packed && dir.Panels != null;
        var args = new CellArgs(h, c.Bias, c.Bias + gh, dir.Train, c.PipelinedCell, dir.InputSize, accFromPlane: packed && lstm && dir.InputSize == 0,
            panelInput: prepacked ? dir.PanelInput : dir.InputSize);
        float* rec = prepacked ? dir.Panels : c.Rec;
        if (packed && !prepacked) RecurrentStep.PackPanels(dir.WIh, dir.InputSize, dir.WHh, c.Rec, h, TCell.Gates, Simd.Count<TV>());
        // Fused projection at inference: nothing reads the projection plane, so nothing is prefetched from it.
        bool prefetch = c.Prefetch && (dir.Train || dir.InputSize == 0);
        var rows = (StepRow*)c.Rows;
        for (int i = 0; i < c.MaxLen; i++)
        {
            int n = 0;
            for (int b = 0; b < batch; b++)
            {
                int len = c.Length(b);
                if (len <= i) continue;
                int t = dir.Reverse ? len - 1 - i : i, tPrev = dir.Reverse ? t + 1 : t - 1;
                long at = c.TM(b, t), atPrev = c.TM(b, tPrev);   // rows of the time-major planes
                long seqAt = dir.SeqBatchFirst ? c.BF(b, t) : at, seqPrev = dir.SeqBatchFirst ? c.BF(b, tPrev) : atPrev;
                StepRow* row = rows + n++;
                row->HPrev = i > 0 ? dir.SeqOut + seqPrev * dh : dir.H0 != null ? dir.H0 + (long)b * h : c.Zeros;
                row->X = dir.X + at * dir.InputSize;
                row->Gates = dir.XProj + at * gh;
                row->NextGates = prefetch && len > i + 1 ? dir.XProj + c.TM(b, dir.Reverse ? t - 1 : t + 1) * gh : null;
                row->HOut = dir.SeqOut + seqAt * dh;
                if (dir.Train)
                {
                    row->Aux = dir.Aux + at * h;
                    if (lstm)
                    {
                        row->CPrev = i > 0 ? dir.Cell + atPrev * h : c.Zeros;
                        row->COut = dir.Cell + at * h;
                    }
                }
                else if (lstm)
                {
                    row->CPrev = row->COut = dir.CState + (long)b * h;
                }
            }
            // From a zero state the first step's h_{t-1}·W_hhᵀ is zero: skipped (one read of W_hh saved per call).
            bool recur = i > 0 || dir.H0 != null;
            if (packed) RecurrentStep.ForwardPacked<TV, TCell>(rows, n, rec, args, c.Tmp, recur, descending: (i & 1) == 1);
            else RecurrentStep.ForwardDot<TV, TCell>(rows, n, dir.WHh, c.Rec, c.Rec + (long)batch * gh, args, c.Width, recur);
        }
    }

    private static void RunBackDirection(in Context c, RecurrentCell cell, in BackDirection dir)
    {
        if (cell == RecurrentCell.Lstm) RunBackDirection<LstmCell>(c, dir);
        else RunBackDirection<GruCell>(c, dir);
    }

    private static void RunBackDirection<TCell>(in Context c, in BackDirection dir) where TCell : struct, IRecurrentCell
    {
        if (c.Width == 512) RunBackDirection<Vector512<float>, TCell>(c, dir);
        else if (c.Width == 256) RunBackDirection<Vector256<float>, TCell>(c, dir);
        else RunBackDirection<Vector128<float>, TCell>(c, dir);
    }

    /// <summary>One layer-direction's backward recurrence, in reverse processing order (forward direction: t = len−1 down to 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RunBackDirection<TV, TCell>(in Context c, in BackDirection dir) where TV : struct where TCell : struct, IRecurrentCell
    {
        int h = c.H, gh = c.GH, dh = c.DH, batch = c.Batch;
        bool lstm = TCell.Gates == 4;
        float* w = dir.WHh;
        int ldw = h;
        if (c.Width != 0 && h % Simd.Count<TV>() != 0)
        {
            // Zero-padded copy [G·H, ⌈H/w⌉·w] so the tiles' last unit vector stays inside each row.
            ldw = (h + Simd.Count<TV>() - 1) / Simd.Count<TV>() * Simd.Count<TV>();
            for (int r = 0; r < gh; r++)
            {
                new ReadOnlySpan<float>(dir.WHh + (long)r * h, h).CopyTo(new Span<float>(c.Rec + (long)r * ldw, h));
                new Span<float>(c.Rec + (long)r * ldw + h, ldw - h).Clear();
            }
            w = c.Rec;
        }
        var rows = (BackRow*)c.Rows;
        for (int i = 0; i < c.MaxLen; i++)
        {
            int n = 0;
            for (int b = 0; b < batch; b++)
            {
                int len = c.Length(b);
                if (len <= i) continue;
                // Forward direction: t = len−1−i, its successor in forward time t+1, predecessor t−1; reverse: mirrored.
                int t = dir.Reverse ? i : len - 1 - i;
                int tNext = dir.Reverse ? t - 1 : t + 1, tPrev = dir.Reverse ? t + 1 : t - 1;
                bool hasPrev = dir.Reverse ? t + 1 < len : t >= 1;
                long at = c.TM(b, t);
                BackRow* row = rows + n++;
                row->DGNext = i > 0 ? dir.DGh + c.TM(b, tNext) * gh : c.Zeros;
                row->DHOut = dir.DSeq + (dir.DSeqBatchFirst ? c.BF(b, t) : at) * dh;
                row->Gates = dir.Gates + at * gh;
                row->Aux = dir.Aux + at * h;
                long atPrev = c.TM(b, tPrev);
                row->Prev = !hasPrev ? c.Zeros : lstm ? dir.Cell + atPrev * h : dir.Seq + atPrev * dh;
                row->Carry = dir.Carry + (long)b * h;
                row->DGx = dir.DGx + at * gh;
                row->DGh = dir.DGh + at * gh;
                if (c.Prefetch && len > i + 1)
                {
                    // The next iteration processes t − 1 (forward direction) or t + 1 (reverse): tPrev here.
                    long atNext = c.TM(b, tPrev);
                    int tBefore = dir.Reverse ? tPrev + 1 : tPrev - 1;
                    bool nextHasPrev = dir.Reverse ? tBefore < len : tBefore >= 0;
                    row->NextGates = dir.Gates + atNext * gh;
                    row->NextDGx = dir.DGx + atNext * gh;
                    row->NextAux = dir.Aux + atNext * h;
                    row->NextPrev = !nextHasPrev ? c.Zeros : lstm ? dir.Cell + c.TM(b, tBefore) * h : dir.Seq + c.TM(b, tBefore) * dh;
                    row->NextDHOut = dir.DSeq + (dir.DSeqBatchFirst ? c.BF(b, tPrev) : atNext) * dh;
                }
                else row->NextGates = null;
            }
            if (c.Width != 0) RecurrentStep.BackwardVector<TV, TCell>(rows, n, w, ldw, h, recur: i > 0, c.Tmp, descending: (i & 1) == 1);
            else RecurrentStep.BackwardScalar<TCell>(rows, n, dir.WHh, h, recur: i > 0, c.Rec, c.Rec + (long)batch * h);
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>
    /// P [rows, gh] = X [rows, inL]·W_ihᵀ (one GEMM for every step of the batch). Always the packed GEMM when vectors are
    /// accelerated: with a short reduction (the input width) the dot path, which Gemm picks for few rows, spends more on
    /// horizontal sums than on products (measured 2.5× slower at 50 × 32 · 32 × 512).
    /// </summary>
    private static unsafe void Project(float* x, float* wIh, float* p, long rows, int inL, int gh, int width)
        => Gemm.Multiply(new ReadOnlySpan<float>(x, (int)(rows * inL)), new ReadOnlySpan<float>(wIh, gh * inL), new Span<float>(p, (int)(rows * gh)),
            (int)rows, inL, gh, transA: false, transB: true, accumulate: false, width == 0 ? Gemm.Path.Direct : Gemm.Path.Packed);

    /// <summary>Writes 0 to the padded steps (t ≥ len) of a [batch, seq, width] or time-major [seq, batch, width] buffer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ZeroPadded(in Context c, float* buffer, int width, bool batchFirst)
    {
        if (!c.Padded) return;
        for (int b = 0; b < c.Batch; b++)
        {
            int len = c.Length(b);
            if (batchFirst)
            {
                if (len < c.Seq) new Span<float>(buffer + c.BF(b, len) * width, (c.Seq - len) * width).Clear();
            }
            else
            {
                for (int t = len; t < c.Seq; t++) new Span<float>(buffer + c.TM(b, t) * width, width).Clear();
            }
        }
    }

    /// <summary>state[b, :] = the direction's h after its last real step (forward: t = len−1; reverse: t = 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GatherLast(in Context c, float* seqOut, int dh, bool batchFirst, bool reverse, float* state)
    {
        for (int b = 0; b < c.Batch; b++)
        {
            int t = reverse ? 0 : c.Length(b) - 1;
            long row = batchFirst ? c.BF(b, t) : c.TM(b, t);
            new ReadOnlySpan<float>(seqOut + row * dh, c.H).CopyTo(new Span<float>(state + (long)b * c.H, c.H));
        }
    }

    /// <summary>output [batch, DH] = forward features at t = len−1, reverse features at t = 0, from a time-major sequence.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GatherOutput(in Context c, float* seqOut, float* output)
    {
        int h = c.H, dh = c.DH;
        for (int b = 0; b < c.Batch; b++)
        {
            new ReadOnlySpan<float>(seqOut + c.TM(b, c.Length(b) - 1) * dh, h).CopyTo(new Span<float>(output + (long)b * dh, h));
            if (dh > h) new ReadOnlySpan<float>(seqOut + c.TM(b, 0) * dh + h, h).CopyTo(new Span<float>(output + (long)b * dh + h, h));
        }
    }

    /// <summary>
    /// dst [seq·batch, xw + H], time-major: per row the layer input x (xw = 0: none) and the h that step started from
    /// (0 at a direction's first step and at padded rows), aligned with the rows of the gate gradients.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void BuildPrevious(in Context c, float* x, int xw, float* seqOut, int dh, bool reverse, float* dst)
    {
        int h = c.H, wide = xw + h;
        for (int t = 0; t < c.Seq; t++)
            for (int b = 0; b < c.Batch; b++)
            {
                long r = c.TM(b, t);
                if (xw > 0) new ReadOnlySpan<float>(x + r * xw, xw).CopyTo(new Span<float>(dst + r * wide, xw));
                var hp = new Span<float>(dst + r * wide + xw, h);
                int len = c.Length(b), tPrev = reverse ? t + 1 : t - 1;
                if (t < len && tPrev >= 0 && tPrev < len) new ReadOnlySpan<float>(seqOut + c.TM(b, tPrev) * dh, h).CopyTo(hp);
                else hp.Clear();
            }
    }

    /// <summary>sums[j] = Σ_r m[r, j] (rows in order, so the result does not depend on alignment).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ColumnSums(float* m, long rows, int cols, float* sums)
    {
        new Span<float>(sums, cols).Clear();
        for (long r = 0; r < rows; r++)
            RowOps.AddTo(ref m[r * cols], ref sums[0], (nuint)cols);
    }

    // ------------------------------------------------------------------------------------------------ validation

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CheckCommon(in RecurrentGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, ReadOnlySpan<float> output,
        ReadOnlySpan<int> lengths, ReadOnlySpan<float> workspace, int batch, int seq, string outputName = "output")
    {
        if (!g.IsValid)
            throw new ArgumentException($"'{nameof(g)}' is default({nameof(RecurrentGeometry)}); create it with its constructor.", nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (seq < 1) throw new ArgumentOutOfRangeException(nameof(seq), seq, $"'{nameof(seq)}' must be at least 1 but is {seq}.");
        CheckLength(input.Length, g.InputLength(batch, seq), nameof(input), Shape.Input, g, batch, seq);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, seq);
        CheckLength(output.Length, g.OutputLength(batch, seq), outputName, Shape.Output, g, batch, seq);
        if (!lengths.IsEmpty) CheckLength(lengths.Length, batch, nameof(lengths), Shape.Lengths, g, batch, seq, orEmpty: true);
        ThrowHelper.CheckCompositeOperands(input, parameters, output, outputName, lengths, workspace, g.WorkspaceLength(batch, seq), batch, seq);
    }

    private enum Shape { Input, Parameters, Output, Lengths, State, Kept }

    /// <summary>Throws unless the operand has the expected length; the shape description is formatted only when throwing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckLength(int actual, long expected, string operand, Shape shape, in RecurrentGeometry g, int batch, int seq, bool orEmpty = false)
    {
        if (actual != expected) ThrowLength(actual, expected, operand, shape, g, batch, seq, orEmpty);
    }

    [DoesNotReturn]
    private static void ThrowLength(int actual, long expected, string operand, Shape shape, in RecurrentGeometry g, int batch, int seq, bool orEmpty)
    {
        string description = shape switch
        {
            Shape.Input => $"[batch={batch}, seq={seq}, InputSize={g.InputSize}]",
            Shape.Parameters => $"ParameterCount of {g}",
            Shape.Output when g.ReturnSequences => $"[batch={batch}, seq={seq}, OutputFeatures={g.OutputFeatures}]",
            Shape.Output => $"[batch={batch}, OutputFeatures={g.OutputFeatures}] (ReturnSequences is false)",
            Shape.Lengths => $"[batch={batch}]",
            Shape.State => $"StateLength(batch={batch}): [Layers·Directions={g.Layers * g.Directions}, batch={batch}, Hidden={g.Hidden}]"
                + (g.Cell == RecurrentCell.Lstm ? " for h, then the same for c" : ""),
            _ => $"KeptLength(batch={batch}, seq={seq}) = batch·seq·TrainingStepLength({g.TrainingStepLength})",
        };
        throw new ArgumentException($"'{operand}' must have {expected} elements ({description}){(orEmpty ? " or be empty" : "")} but has {actual}.", operand);
    }

    // ------------------------------------------------------------------------------------------------ per-call state

    /// <summary>Sizes and workspace pointers shared by every layer-direction of one call.</summary>
    private readonly unsafe struct Context
    {
        public readonly int H, GH, DH, Batch, Seq, MaxLen, Width;
        public readonly long BS;
        public readonly bool? Packed;
        public readonly bool Prefetch;
        public readonly bool PipelinedCell;
        public readonly bool? FusedProjection;
        public readonly bool Padded;             // some example is shorter than seq
        public readonly int* Lengths;            // [batch] or null
        public readonly float* Zeros;            // [GH] zeros: h_0, c_0 and "no next step" rows
        public readonly float* Tmp;              // tail scratch of a tile
        public readonly void* Rows;              // [batch] StepRow or BackRow, pointer-aligned
        public readonly float* Bias;             // [GH + H] summed biases, then GRU's b_hn
        public readonly float* Rec;              // packed W_hh, padded W_hh copy, or dot-path scratch
        // This direction's own planes (a bidirectional layer's two directions may run at once on two threads).
        public readonly float* XProj;            // forward: [seq·batch, GH] input projection
        public readonly float* CState;           // inference: [batch, H] LSTM cell state
        public readonly float* DGx, DGh;         // backward: [seq·batch, GH] gate gradients (GRU's hidden side in DGh)
        public readonly float* HPrev;            // backward: [seq·batch, (LSTM: in +) H] (x |) h_prev per row
        public readonly float* DW;               // backward: [GH, in + H] LSTM's [dW_ih | dW_hh] of this call
        public readonly float* Sums;             // backward: [GH] bias gradient column sums
        public readonly float* Carry;            // backward: [batch, H] the gradient carried between steps

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Context(in RecurrentGeometry g, int batch, int seq, int* lengths, float* ws, in RecurrentWorkspace layout, Tuning tuning, int direction)
        {
            H = g.Hidden;
            GH = g.GateCount * g.Hidden;
            DH = g.OutputFeatures;
            Batch = batch;
            Seq = seq;
            BS = (long)batch * seq;
            Width = tuning.Width;
            Packed = tuning.Packed;
            Prefetch = tuning.Prefetch;
            PipelinedCell = tuning.PipelinedCell;
            FusedProjection = tuning.FusedProjection;
            Lengths = lengths;
            int maxLen = lengths == null ? seq : 0;
            bool padded = false;
            if (lengths != null)
                for (int b = 0; b < batch; b++)
                {
                    maxLen = Math.Max(maxLen, lengths[b]);
                    padded |= lengths[b] < seq;
                }
            MaxLen = maxLen;
            Padded = padded;
            // The zeros are shared (read only once cleared); everything a direction writes is its own.
            Zeros = ws + layout.Zeros;
            if (direction == 0) new Span<float>(Zeros, GH).Clear();
            float* step = ws + direction * layout.StepStride;
            Tmp = step + layout.Tmp;
            Rows = (void*)(((nint)(step + layout.Rows) + 7) & ~(nint)7);
            Bias = step + layout.Bias;
            Rec = step + layout.Rec;
            float* fwd = ws + direction * layout.ForwardStride;
            XProj = fwd + layout.XProj;
            CState = fwd + layout.CState;
            float* back = ws + direction * layout.BackwardStride;
            DGx = back + layout.DGx;
            DGh = back + layout.DGh;
            HPrev = back + layout.HPrev;
            DW = back + layout.DW;
            Sums = back + layout.Sums;
            Carry = back + layout.Carry;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Length(int b) => Lengths == null ? Seq : Lengths[b];

        /// <summary>
        /// Whether an LSTM layer-direction on the packed path computes W_ih·x_t inside its steps, over panels of [W_ih | W_hh],
        /// instead of one GEMM into the projection plane first. The steps then run the projection at the register tile's
        /// rate and nothing writes or re-reads the plane (1.6 MB in W6 at batch 16, beyond L2), but they stream W_ih once per
        /// step: worth it from one full register tile of rows (compute per weight byte as in the recurrent product), not
        /// below, where the steps are bound by streaming the weights. GRU never: its n gate keeps W_in·x apart from W_hn·h.
        /// Either way an LSTM output has the same bits (see <see cref="CellArgs.AccFromPlane"/>), so the batch may decide,
        /// provided the GEMM sums the input in one KC slice.
        /// </summary>
        public bool FuseProjection(RecurrentCell cell, int inputSize)
            => cell == RecurrentCell.Lstm && Width != 0 && (Packed ?? true) && inputSize <= Gemm.KC
                && (FusedProjection ?? Batch >= RecurrentStep.ForwardRows(4));

        /// <summary>Row of (b, t) in a time-major [seq, batch, ·] plane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public long TM(int b, int t) => (long)t * Batch + b;

        /// <summary>Row of (b, t) in a batch-first [batch, seq, ·] tensor.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public long BF(int b, int t) => (long)b * Seq + t;

        /// <summary>
        /// The caller's batch-first input as a time-major [seq·batch, width] matrix: itself at batch 1 (the layouts coincide),
        /// else transposed into <paramref name="scratch"/>; <paramref name="zeroPadded"/> also zeroes padded rows (a copy then).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public float* TimeMajorInput(float* x, int width, float* scratch, bool zeroPadded)
        {
            if (Batch == 1 && !(zeroPadded && Padded)) return x;
            for (int t = 0; t < Seq; t++)
                for (int b = 0; b < Batch; b++)
                {
                    var dst = new Span<float>(scratch + TM(b, t) * width, width);
                    if (zeroPadded && t >= Length(b)) dst.Clear();
                    else new ReadOnlySpan<float>(x + BF(b, t) * width, width).CopyTo(dst);
                }
            return scratch;
        }

        /// <summary>dst [batch, seq, width] = src [seq, batch, width] transposed.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void ToBatchFirst(float* src, float* dst, int width)
        {
            for (int b = 0; b < Batch; b++)
                for (int t = 0; t < Seq; t++)
                    new ReadOnlySpan<float>(src + TM(b, t) * width, width).CopyTo(new Span<float>(dst + BF(b, t) * width, width));
        }

        /// <summary>Bias = b_ih + b_hh (GRU's n gate: b_in only), then b_hn for GRU.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void LoadBias(RecurrentCell cell, in Weights w)
        {
            int sumCount = cell == RecurrentCell.Lstm ? GH : 2 * H;
            for (int j = 0; j < sumCount; j++) Bias[j] = w.BiasIh[j] + w.BiasHh[j];
            if (cell == RecurrentCell.Gru)
                for (int j = 0; j < H; j++)
                {
                    Bias[2 * H + j] = w.BiasIh[2 * H + j];
                    Bias[GH + j] = w.BiasHh[2 * H + j];
                }
        }
    }

    /// <summary>The four tensors of one layer-direction inside a parameter (or gradient) slice.</summary>
    private readonly unsafe struct Weights
    {
        public readonly float* Ih, Hh, BiasIh, BiasHh;   // [GH, in_l], [GH, H], [GH], [GH]

        public Weights(in RecurrentGeometry g, float* p, int layer, int direction)
        {
            int gh = g.GateCount * g.Hidden;
            Ih = p + g.ParameterOffset(layer, direction);
            Hh = Ih + (long)gh * g.LayerInputSize(layer);
            BiasIh = Hh + (long)gh * g.Hidden;
            BiasHh = BiasIh + gh;
        }
    }

    /// <summary>One layer-direction of the forward pass. SeqOut and H0 are already offset to this direction's columns / slot.</summary>
    private readonly unsafe struct Direction(float* wHh, float* xProj, float* seqOut, bool seqBatchFirst, float* h0, float* cState, float* cell, float* aux,
        bool reverse, bool train, float* wIh, float* x, int inputSize, float* panels = null, int panelInput = 0)
    {
        public readonly float* WHh = wHh;        // [GH, H]
        public readonly float* Panels = panels;  // the step kernel's panels packed once for this call's width (a predictor's), or null
        public readonly int PanelInput = panelInput;   // rows of W_ih at the head of each of those panels (0: W_hh alone)
        public readonly float* WIh = wIh;        // [GH, in] when the projection runs inside the steps, else null
        public readonly float* X = x;            // [seq·batch, in] the layer's time-major input
        public readonly int InputSize = inputSize;   // in when the projection runs inside the steps, else 0
        public readonly float* XProj = xProj;    // [seq·batch, GH] projection; training: becomes the gates
        public readonly float* SeqOut = seqOut;  // [seq·batch, DH] at column d·H (or the caller's [batch, seq, DH] output)
        public readonly bool SeqBatchFirst = seqBatchFirst;
        public readonly float* H0 = h0;          // [batch, H] or null (zeros)
        public readonly float* CState = cState;  // inference LSTM [batch, H]
        public readonly float* Cell = cell;      // training LSTM [seq·batch, H] c_t
        public readonly float* Aux = aux;        // training [seq·batch, H]: LSTM tanh(c_t), GRU W_hn h + b_hn
        public readonly bool Reverse = reverse, Train = train;
    }

    /// <summary>One layer-direction of the backward pass (DSeq and Seq offset to this direction's columns).</summary>
    private readonly unsafe struct BackDirection(float* wHh, float* dSeq, bool dSeqBatchFirst, float* gates, float* aux, float* cell, float* seq,
        float* carry, float* dGx, float* dGh, bool reverse)
    {
        public readonly float* WHh = wHh;       // [GH, H]
        public readonly float* DSeq = dSeq;     // [seq·batch, DH] gradient of this layer's output (or the caller's batch-first dOutput)
        public readonly bool DSeqBatchFirst = dSeqBatchFirst;
        public readonly float* Gates = gates;   // [seq·batch, GH]
        public readonly float* Aux = aux;       // [seq·batch, H]
        public readonly float* Cell = cell;     // [seq·batch, H] LSTM c_t (null for GRU)
        public readonly float* Seq = seq;       // [seq·batch, DH] this layer's output (GRU reads h_{t-1} from it)
        public readonly float* Carry = carry;   // [batch, H]
        public readonly float* DGx = dGx, DGh = dGh;   // [seq·batch, GH]
        public readonly bool Reverse = reverse;
    }

    /// <summary>The kept buffer's planes, layer after layer: per direction gates [GH] and LSTM c, tanh c / GRU hn [H each],
    /// then the layer output [DH], then (below the top) the dropout mask and the dropped output [DH each]; each plane is time-major
    /// [seq, batch, width].</summary>
    private readonly unsafe struct KeptPlanes
    {
        private readonly float* _kept;
        private readonly long _bs;
        private readonly int _h, _gh, _dh, _directions, _layers;
        private readonly bool _lstm;

        public KeptPlanes(in RecurrentGeometry g, float* kept, long bs)
        {
            _kept = kept;
            _bs = bs;
            _h = g.Hidden;
            _gh = g.GateCount * g.Hidden;
            _dh = g.OutputFeatures;
            _directions = g.Directions;
            _layers = g.Layers;
            _lstm = g.Cell == RecurrentCell.Lstm;
        }

        private int PerDirection => _gh + (_lstm ? 2 : 1) * _h;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private float* Layer(int l)
        {
            long offset = 0;
            for (int i = 0; i < l; i++)
                offset += RecurrentGeometry.KeptPerStep(_lstm ? RecurrentCell.Lstm : RecurrentCell.Gru, _h, _directions, i, _layers);
            return _kept + offset * _bs;
        }

        public float* Gates(int l, int d) => Layer(l) + (long)d * PerDirection * _bs;
        public float* Cell(int l, int d) => _lstm ? Gates(l, d) + _gh * _bs : null;
        public float* Aux(int l, int d) => Gates(l, d) + (_gh + (_lstm ? _h : 0)) * _bs;
        public float* Seq(int l) => Layer(l) + (long)_directions * PerDirection * _bs;
        public float* Mask(int l) => Seq(l) + _dh * _bs;
        public float* Dropped(int l) => Seq(l) + 2L * _dh * _bs;
    }
}

/// <summary>
/// Where each scratch buffer lives in the workspace (offsets in floats). One workspace serves all three entry points. Every
/// buffer a direction writes exists once per direction (direction d's at its offset + d·stride of its group), so the two
/// directions of a bidirectional layer can run at once on two threads.
/// </summary>
internal readonly struct RecurrentWorkspace
{
    // Shared by every entry point: the zeros, then per direction the step kernels' scratch.
    public readonly long Zeros, Tmp, Rows, Bias, Rec, StepStride;
    // Forward (inference and training): shared planes, then per direction the projection and the cell state.
    public readonly long XT, SeqA, SeqB, XProj, CState, ForwardStride;
    // Backward: shared planes, then per direction the gate gradients and the weight-gradient scratch.
    public readonly long DSeqA, DSeqB, XCopy, DXT, DGx, DGh, HPrev, DW, Sums, Carry, BackwardStride;
    public readonly long Total;

    public unsafe RecurrentWorkspace(in RecurrentGeometry g, int batch, int seq)
    {
        long h = g.Hidden, gh = g.GateCount * h, dh = g.OutputFeatures, bs = (long)batch * seq, directions = g.Directions;
        long rowFloats = (Math.Max(sizeof(StepRow), sizeof(BackRow)) + 3) / 4;
        long offset = 0;
        Zeros = Take(ref offset, gh);
        long start = offset;
        Tmp = Take(ref offset, RecurrentStep.TailScratch);
        Rows = Take(ref offset, batch * rowFloats + 2);   // +2: room to align the pointers to 8 bytes
        Bias = Take(ref offset, gh + h);
        // Packed [W_ih |] W_hh (or W_hh's padded copy in backward), or the dot/scalar path's [batch, GH] + [batch, max(GH, H)] scratch.
        int widestInput = g.Cell == RecurrentCell.Lstm ? Math.Max(g.InputSize, g.Layers > 1 ? g.OutputFeatures : 0) : 0;   // W_ih columns in the panels
        Rec = Take(ref offset, Math.Max(RecurrentStep.PackedLength(g.Hidden, g.GateCount, widestInput), batch * (gh + gh)));
        StepStride = Stride(start, ref offset, directions);
        long phase = offset;

        // Forward and training forward.
        XT = Take(ref offset, bs * g.InputSize);
        SeqA = Take(ref offset, bs * dh);
        SeqB = Take(ref offset, bs * dh);
        start = offset;
        XProj = Take(ref offset, bs * gh);
        CState = Take(ref offset, batch * h);
        ForwardStride = Stride(start, ref offset, directions);
        long forwardEnd = offset;

        // Backward.
        long widest = Math.Max(g.InputSize, dh) + h;   // LSTM's [x | h_prev] rows
        offset = phase;
        DSeqA = Take(ref offset, bs * dh);
        DSeqB = Take(ref offset, bs * dh);
        XCopy = Take(ref offset, bs * g.InputSize);
        DXT = Take(ref offset, bs * g.InputSize);
        start = offset;
        DGx = Take(ref offset, bs * gh);
        DGh = Take(ref offset, g.Cell == RecurrentCell.Gru ? bs * gh : 0);
        HPrev = Take(ref offset, bs * (g.Cell == RecurrentCell.Lstm ? widest : h));
        DW = Take(ref offset, g.Cell == RecurrentCell.Lstm ? gh * widest : 0);
        Sums = Take(ref offset, gh);
        Carry = Take(ref offset, batch * h);
        BackwardStride = Stride(start, ref offset, directions);
        Total = Math.Max(forwardEnd, offset);
    }

    /// <summary>
    /// The stride of a per-direction group that started at <paramref name="start"/> (rounded up to 64 bytes, so each direction's
    /// buffers have the same alignment as direction 0's), and moves past all its copies.
    /// </summary>
    private static long Stride(long start, ref long offset, long directions)
    {
        long stride = (offset - start + 15) / 16 * 16;
        offset = start + directions * stride;
        return stride;
    }

    public static long Length(in RecurrentGeometry g, int batch, int seq) => new RecurrentWorkspace(g, batch, seq).Total;

    private static long Take(ref long offset, long length)
    {
        long start = offset;
        offset += length;
        return start;
    }
}
