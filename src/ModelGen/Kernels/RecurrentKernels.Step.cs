// The per-step work of the LSTM/GRU recurrence (RecurrentKernels.cs drives it over layers, directions and time).
// Forward, one step for the active rows of the batch: gates = x-projection (precomputed for all steps by one GEMM)
// + bias + h_{t-1}·W_hhᵀ, then the cell update. W_hh is repacked once per call so that, for a block of w hidden units (w =
// the vector width), the G gate rows of those units lie side by side for every k: panel[k][gate][w]. A register tile of up
// to 6 batch rows x G gate vectors accumulates h_{t-1}[r, k]·panel[k] (broadcast-FMA, no horizontal sums), and the gate
// nonlinearities and the cell update run on the accumulators right after. For an LSTM from one full register tile of
// rows, W_ih is packed into the same panels ahead of W_hh, so the tile also sums x_t·W_ihᵀ and no projection GEMM runs;
// otherwise the tile starts from the GEMM's projection, which sums in the same order, so both routes give the same bits. The alternative kept beside it, the dot path
// (Gemm's dot-product kernels over W_hh as it lies into a [rows, G·H] scratch, then the cell update), needs no packing but
// measured slower at every batch from 1 to 16 (W6: 200 vs 173 us at batch 1); it remains the scalar path's structure.
// Backward through time, one step: dh_t = dOut_t + dGh_{t+1}·W_hh (plus the carried terms), fused the same way: a
// register tile of rows x up to 4 unit vectors accumulates dGh_{t+1}[r, k]·W_hh[k, j..j+w) (W_hh's natural layout is
// already [G·H, H], so nothing is packed), then the cell's backward formulas produce this step's gate gradients.
// Hidden sizes that are not a multiple of w run their last unit vector zero-padded and finish its valid lanes in scalar
// code; without hardware vectors everything runs through Gemm's scalar path and the scalar cell formulas.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Kernels;

/// <summary>Pointers of one batch row for one forward step (rows may sit at different times: see RecurrentKernels).</summary>
internal unsafe struct StepRow
{
    /// <summary>[H] h_{t-1}: the previous step's output, h_0, or zeros.</summary>
    public float* HPrev;
    /// <summary>[in] x_t, read only when the input projection runs inside the step (<see cref="CellArgs.InputInAcc"/>).</summary>
    public float* X;
    /// <summary>[G·H] the input projection W_ih·x_t (no bias), unless it runs inside the step; the training forward writes the
    /// activated gates here.</summary>
    public float* Gates;
    /// <summary>[H] h_t.</summary>
    public float* HOut;
    /// <summary>[H] LSTM c_{t-1} (c_0 or zeros at the first step).</summary>
    public float* CPrev;
    /// <summary>[H] LSTM c_t; the same memory as <see cref="CPrev"/> at inference, where c is updated in place.</summary>
    public float* COut;
    /// <summary>[H] training only: LSTM tanh(c_t); GRU W_hn·h_{t-1} + b_hn.</summary>
    public float* Aux;
    /// <summary>[G·H] this example's <see cref="Gates"/> row at the next iteration, or null: prefetched into L2 while this step runs.</summary>
    public float* NextGates;
}

/// <summary>Pointers of one batch row for one backward step.</summary>
internal unsafe struct BackRow
{
    /// <summary>[G·H] hidden-side gate gradient of the step after this one in forward time (zeros at the last real step).</summary>
    public float* DGNext;
    /// <summary>[H] gradient reaching h_t from above (the output gradient or the next layer's input gradient).</summary>
    public float* DHOut;
    /// <summary>[G·H] activated gates kept by the training forward.</summary>
    public float* Gates;
    /// <summary>[H] LSTM tanh(c_t); GRU W_hn·h_{t-1} + b_hn.</summary>
    public float* Aux;
    /// <summary>[H] LSTM c_{t-1}; GRU h_{t-1} (zeros at the first step).</summary>
    public float* Prev;
    /// <summary>[H] in: the gradient carried from step t+1 (LSTM dc_{t+1}·f_{t+1}; GRU dh_{t+1}·z_{t+1}); out: this step's.</summary>
    public float* Carry;
    /// <summary>[G·H] gradient of the input-side pre-activations (feeds dW_ih, db_ih and dx).</summary>
    public float* DGx;
    /// <summary>[G·H] gradient of the hidden-side pre-activations (feeds dW_hh, db_hh and the recurrence); LSTM: the same as <see cref="DGx"/>.</summary>
    public float* DGh;
    /// <summary>This example's <see cref="Gates"/>, <see cref="DGx"/>, <see cref="Aux"/>, <see cref="Prev"/> and <see cref="DHOut"/> rows at the
    /// next iteration (null when it has none): prefetched into L2 while this step runs.</summary>
    public float* NextGates, NextDGx, NextAux, NextPrev, NextDHOut;
}

/// <summary>Per layer-direction constants of the forward cell update.</summary>
internal readonly unsafe struct CellArgs(int hidden, float* bias, float* biasHn, bool train, bool pipelined = true, int inputSize = 0, bool accFromPlane = false,
    int panelInput = 0)
{
    public readonly int H = hidden;
    /// <summary>[G·H] b_ih + b_hh (GRU's n gate: b_in only, as b_hn sits inside r ⊙ (·)).</summary>
    public readonly float* Bias = bias;
    /// <summary>[H] GRU b_hn.</summary>
    public readonly float* BiasHn = biasHn;
    /// <summary>Keep the activated gates and the auxiliary plane for backward.</summary>
    public readonly bool Train = train;
    /// <summary>Full unit blocks of a tile finish through <see cref="IRecurrentCell.ForwardRows"/> (false: one
    /// <see cref="IRecurrentCell.Forward"/> call per row; kept to measure and test the difference).</summary>
    public readonly bool Pipelined = pipelined;
    /// <summary>Input width when the step's accumulators already hold W_ih·x_t (LSTM only: panels of W_ih and W_hh, see
    /// <see cref="RecurrentStep.PackPanels"/>); 0 when W_ih·x_t is read from <see cref="StepRow.Gates"/>.</summary>
    public readonly int InputSize = inputSize;
    /// <summary>LSTM packed path with the projection in <see cref="StepRow.Gates"/>: the tile starts its accumulators from it
    /// (so they sum exactly as when <see cref="InputSize"/> puts W_ih inside the step: the GEMM's per-element chain of
    /// FMAs over the input, then the step's over h).</summary>
    public readonly bool AccFromPlane = accFromPlane;
    /// <summary>Rows of W_ih at the head of each packed panel: <see cref="InputSize"/>, or W_ih's width when a predictor's
    /// [W_ih | W_hh] panels serve the route that reads the projection plane (the tile then skips those rows).</summary>
    public readonly int PanelInput = panelInput;
    /// <summary>The accumulators include W_ih·x_t: the cell adds only the bias.</summary>
    public bool InputInAcc => InputSize > 0 || AccFromPlane;
}

/// <summary>A recurrent cell's element-wise forward and backward, at a vector width and in scalar form.</summary>
/// <remarks>a0..a3 are the hidden-side accumulators Σ_k h_{t-1}[k]·W_hh[gate·H + j, k] of the gates in PyTorch order.</remarks>
internal unsafe interface IRecurrentCell
{
    static abstract int Gates { get; }
    static abstract void Forward<TV>(StepRow* row, int j, TV a0, TV a1, TV a2, TV a3, in CellArgs args) where TV : struct;
    static abstract void ForwardScalar(StepRow* row, int j, float a0, float a1, float a2, float a3, in CellArgs args);
    /// <summary>The cell update of <paramref name="count"/> rows at units [j, j + w) from spilled accumulators: row q's gate
    /// vector g at acc[q·accStride + g·w]. The same results as <see cref="Forward"/> per row, bit for bit.</summary>
    static abstract void ForwardRows<TV>(StepRow* rows, int count, int j, float* acc, int accStride, in CellArgs args) where TV : struct;
    static abstract void Backward<TV>(BackRow* row, int j, TV dhRec, int hidden) where TV : struct;
    static abstract void BackwardScalar(BackRow* row, int j, float dhRec, int hidden);
}

/// <summary>
/// LSTM (PyTorch nn.LSTM): i = σ(W_ii x + b_ii + W_hi h + b_hi), f = σ(W_if x + b_if + W_hf h + b_hf),
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg), o = σ(W_io x + b_io + W_ho h + b_ho), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
/// </summary>
/// <remarks>
/// Backward, with dh = ∂L/∂h' (from above and from step t+1) and dc = ∂L/∂c' = dc_carried + dh ⊙ o ⊙ (1 − tanh²c'):
/// d(pre_o) = dh ⊙ tanh c' ⊙ o(1 − o); d(pre_i) = dc ⊙ g ⊙ i(1 − i); d(pre_g) = dc ⊙ i ⊙ (1 − g²);
/// d(pre_f) = dc ⊙ c ⊙ f(1 − f); the carry to step t−1 is dc ⊙ f. 1 − y² is evaluated as (1 − y)(1 + y).
/// </remarks>
internal readonly unsafe struct LstmCell : IRecurrentCell
{
    public static int Gates => 4;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Forward<TV>(StepRow* row, int j, TV a0, TV a1, TV a2, TV a3, in CellArgs args) where TV : struct
    {
        int h = args.H;
        float* x = row->Gates + j, b = args.Bias + j;
        if (args.InputInAcc)
        {
            a0 = Simd.Add(a0, Simd.Load<TV>(b));
            a1 = Simd.Add(a1, Simd.Load<TV>(b + h));
            a2 = Simd.Add(a2, Simd.Load<TV>(b + 2 * h));
            a3 = Simd.Add(a3, Simd.Load<TV>(b + 3 * h));
        }
        else
        {
            a0 = Simd.Add(a0, Simd.Add(Simd.Load<TV>(x), Simd.Load<TV>(b)));
            a1 = Simd.Add(a1, Simd.Add(Simd.Load<TV>(x + h), Simd.Load<TV>(b + h)));
            a2 = Simd.Add(a2, Simd.Add(Simd.Load<TV>(x + 2 * h), Simd.Load<TV>(b + 2 * h)));
            a3 = Simd.Add(a3, Simd.Add(Simd.Load<TV>(x + 3 * h), Simd.Load<TV>(b + 3 * h)));
        }
        // Three divisions: f, σ(i)·tanh(g), σ(o)·tanh(c) (RecurrentMath's remarks); σ and tanh alone only for backward.
        TV m2 = Simd.Broadcast<TV>(-2f);
        TV ei = RecurrentMath.Exp(RecurrentMath.Negate(a0)), ef = RecurrentMath.Exp(RecurrentMath.Negate(a1));
        TV tg = RecurrentMath.Exp(Simd.Multiply(m2, a2)), eo = RecurrentMath.Exp(RecurrentMath.Negate(a3));
        TV c = Simd.Fma(RecurrentMath.SigmoidOf(ef), Simd.Load<TV>(row->CPrev + j), RecurrentMath.SigmoidTimesTanh(ei, tg));
        TV tcExp = RecurrentMath.Exp(Simd.Multiply(m2, c));
        Simd.Store(row->HOut + j, RecurrentMath.SigmoidTimesTanh(eo, tcExp));
        Simd.Store(row->COut + j, c);
        if (args.Train)
        {
            RecurrentMath.SigmoidAndTanh(ei, tg, out TV i, out TV g);
            RecurrentMath.SigmoidAndTanh(eo, tcExp, out TV o, out TV tc);
            Simd.Store(x, i);
            Simd.Store(x + h, RecurrentMath.SigmoidOf(ef));
            Simd.Store(x + 2 * h, g);
            Simd.Store(x + 3 * h, o);
            Simd.Store(row->Aux + j, tc);
        }
    }

    public static void ForwardScalar(StepRow* row, int j, float a0, float a1, float a2, float a3, in CellArgs args)
    {
        int h = args.H;
        float* x = row->Gates + j, b = args.Bias + j;
        bool fused = args.InputInAcc;
        float i = VectorMath.Sigmoid(a0 + (fused ? b[0] : x[0] + b[0]));
        float f = VectorMath.Sigmoid(a1 + (fused ? b[h] : x[h] + b[h]));
        float g = VectorMath.Tanh(a2 + (fused ? b[2 * h] : x[2 * h] + b[2 * h]));
        float o = VectorMath.Sigmoid(a3 + (fused ? b[3 * h] : x[3 * h] + b[3 * h]));
        float c = float.MultiplyAddEstimate(f, row->CPrev[j], i * g);
        float tc = VectorMath.Tanh(c);
        row->HOut[j] = o * tc;
        row->COut[j] = c;
        if (args.Train)
        {
            x[0] = i;
            x[h] = f;
            x[2 * h] = g;
            x[3 * h] = o;
            row->Aux[j] = tc;
        }
    }

    /// <remarks>
    /// Software-pipelined over the rows: row q's four gate activations and row q−1's tanh(c) run as five independent
    /// exponentials in lockstep (<see cref="RecurrentMath.Exp5"/>). One row on its own is two dependent chains of
    /// ~60 cycles (the gates, then tanh of the new c) that the out-of-order window, filled by one row's ~150
    /// instructions, barely overlaps with the next row's; five chains side by side keep the FMA pipes busy instead.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void ForwardRows<TV>(StepRow* rows, int count, int j, float* acc, int accStride, in CellArgs args) where TV : struct
    {
        int h = args.H, w = Simd.Count<TV>();
        bool train = args.Train;
        float* b = args.Bias + j;
        TV bi = Simd.Load<TV>(b), bf = Simd.Load<TV>(b + h), bg = Simd.Load<TV>(b + 2 * h), bo = Simd.Load<TV>(b + 3 * h);
        TV cPending = default, eoPending = default;   // row q−1's c_t and e^{−o}, waiting for e^{−2c_t}
        bool fused = args.InputInAcc;
        for (int q = 0; q < count; q++)
        {
            StepRow* row = rows + q;
            float* x = row->Gates + j, a = acc + (nint)q * accStride;
            TV i, f, g, o;
            if (fused)
            {
                i = Simd.Add(Simd.Load<TV>(a), bi);
                f = Simd.Add(Simd.Load<TV>(a + w), bf);
                g = Simd.Add(Simd.Load<TV>(a + 2 * w), bg);
                o = Simd.Add(Simd.Load<TV>(a + 3 * w), bo);
            }
            else
            {
                i = Simd.Add(Simd.Load<TV>(a), Simd.Add(Simd.Load<TV>(x), bi));
                f = Simd.Add(Simd.Load<TV>(a + w), Simd.Add(Simd.Load<TV>(x + h), bf));
                g = Simd.Add(Simd.Load<TV>(a + 2 * w), Simd.Add(Simd.Load<TV>(x + 2 * h), bg));
                o = Simd.Add(Simd.Load<TV>(a + 3 * w), Simd.Add(Simd.Load<TV>(x + 3 * h), bo));
            }
            TV tc = cPending;   // at q = 0 a dummy zero: one spare exponential per tile
            RecurrentMath.Exp5(ref i, ref f, ref g, ref o, ref tc);   // now e^{−i}, e^{−f}, e^{−2g}, e^{−o}, e^{−2c_{q−1}}
            if (q > 0) FinishRow(row - 1, j, h, eoPending, tc, train);
            TV c = Simd.Fma(RecurrentMath.SigmoidOf(f), Simd.Load<TV>(row->CPrev + j), RecurrentMath.SigmoidTimesTanh(i, g));
            Simd.Store(row->COut + j, c);
            if (train)
            {
                RecurrentMath.SigmoidAndTanh(i, g, out TV si, out TV tg);
                Simd.Store(x, si);
                Simd.Store(x + h, RecurrentMath.SigmoidOf(f));
                Simd.Store(x + 2 * h, tg);
            }
            cPending = c;
            eoPending = o;
        }
        FinishRow(rows + count - 1, j, h, eoPending, RecurrentMath.Exp(Simd.Multiply(Simd.Broadcast<TV>(-2f), cPending)), train);
    }

    /// <summary>h_t = σ(o) ⊙ tanh(c_t) from e^{−o} and e^{−2c_t} (one division), and o and tanh(c_t) kept for backward when training.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishRow<TV>(StepRow* row, int j, int h, TV expO, TV exp2C, bool train) where TV : struct
    {
        Simd.Store(row->HOut + j, RecurrentMath.SigmoidTimesTanh(expO, exp2C));
        if (train)
        {
            RecurrentMath.SigmoidAndTanh(expO, exp2C, out TV o, out TV tc);
            Simd.Store(row->Gates + j + 3 * h, o);
            Simd.Store(row->Aux + j, tc);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Backward<TV>(BackRow* row, int j, TV dhRec, int h) where TV : struct
    {
        float* gt = row->Gates + j;
        TV i = Simd.Load<TV>(gt), f = Simd.Load<TV>(gt + h), g = Simd.Load<TV>(gt + 2 * h), o = Simd.Load<TV>(gt + 3 * h);
        TV tc = Simd.Load<TV>(row->Aux + j), one = Simd.Broadcast<TV>(1f);
        TV dh = Simd.Add(dhRec, Simd.Load<TV>(row->DHOut + j));
        TV dc = Simd.Fma(Simd.Multiply(dh, o), Simd.Multiply(Simd.Subtract(one, tc), Simd.Add(one, tc)), Simd.Load<TV>(row->Carry + j));
        TV dO = Simd.Multiply(Simd.Multiply(dh, tc), Simd.Multiply(o, Simd.Subtract(one, o)));
        TV dI = Simd.Multiply(Simd.Multiply(dc, g), Simd.Multiply(i, Simd.Subtract(one, i)));
        TV dG = Simd.Multiply(Simd.Multiply(dc, i), Simd.Multiply(Simd.Subtract(one, g), Simd.Add(one, g)));
        TV dF = Simd.Multiply(Simd.Multiply(dc, Simd.Load<TV>(row->Prev + j)), Simd.Multiply(f, Simd.Subtract(one, f)));
        Simd.Store(row->Carry + j, Simd.Multiply(dc, f));
        float* d = row->DGx + j;
        Simd.Store(d, dI);
        Simd.Store(d + h, dF);
        Simd.Store(d + 2 * h, dG);
        Simd.Store(d + 3 * h, dO);
    }

    public static void BackwardScalar(BackRow* row, int j, float dhRec, int h)
    {
        float* gt = row->Gates + j;
        float i = gt[0], f = gt[h], g = gt[2 * h], o = gt[3 * h], tc = row->Aux[j];
        float dh = dhRec + row->DHOut[j];
        float dc = float.MultiplyAddEstimate(dh * o, (1f - tc) * (1f + tc), row->Carry[j]);
        float* d = row->DGx + j;
        d[0] = dc * g * (i * (1f - i));
        d[h] = dc * row->Prev[j] * (f * (1f - f));
        d[2 * h] = dc * i * ((1f - g) * (1f + g));
        d[3 * h] = dh * tc * (o * (1f - o));
        row->Carry[j] = dc * f;
    }
}

/// <summary>
/// GRU (PyTorch nn.GRU): r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h  (computed as n + z ⊙ (h − n)).
/// </summary>
/// <remarks>
/// Backward, with dh = ∂L/∂h' (from above, from step t+1 through W_hh, and the carried dh_{t+1} ⊙ z_{t+1}):
/// d(pre_n) = dh ⊙ (1 − z) ⊙ (1 − n²); d(pre_z) = dh ⊙ (h − n) ⊙ z(1 − z); with hn = W_hn h + b_hn,
/// d(hn) = d(pre_n) ⊙ r and d(pre_r) = d(pre_n) ⊙ hn ⊙ r(1 − r). The input side sees d(pre_n), the hidden side d(hn);
/// the carry to step t−1 is dh ⊙ z.
/// </remarks>
internal readonly unsafe struct GruCell : IRecurrentCell
{
    public static int Gates => 3;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Forward<TV>(StepRow* row, int j, TV a0, TV a1, TV a2, TV a3, in CellArgs args) where TV : struct
    {
        int h = args.H;
        float* x = row->Gates + j, b = args.Bias + j;
        TV r = RecurrentMath.Sigmoid(Simd.Add(a0, Simd.Add(Simd.Load<TV>(x), Simd.Load<TV>(b))));
        TV z = RecurrentMath.Sigmoid(Simd.Add(a1, Simd.Add(Simd.Load<TV>(x + h), Simd.Load<TV>(b + h))));
        TV hn = Simd.Add(a2, Simd.Load<TV>(args.BiasHn + j));
        TV n = RecurrentMath.Tanh(Simd.Fma(r, hn, Simd.Add(Simd.Load<TV>(x + 2 * h), Simd.Load<TV>(b + 2 * h))));
        Simd.Store(row->HOut + j, Simd.Fma(z, Simd.Subtract(Simd.Load<TV>(row->HPrev + j), n), n));
        if (args.Train)
        {
            Simd.Store(x, r);
            Simd.Store(x + h, z);
            Simd.Store(x + 2 * h, n);
            Simd.Store(row->Aux + j, hn);
        }
    }

    /// <remarks>One <see cref="Forward"/> per row (the LSTM's pipelining is not applied to the GRU: no workload here measures it).</remarks>
    public static void ForwardRows<TV>(StepRow* rows, int count, int j, float* acc, int accStride, in CellArgs args) where TV : struct
    {
        int w = Simd.Count<TV>();
        for (int q = 0; q < count; q++)
        {
            float* a = acc + (nint)q * accStride;
            Forward(rows + q, j, Simd.Load<TV>(a), Simd.Load<TV>(a + w), Simd.Load<TV>(a + 2 * w), default, args);
        }
    }

    public static void ForwardScalar(StepRow* row, int j, float a0, float a1, float a2, float a3, in CellArgs args)
    {
        int h = args.H;
        float* x = row->Gates + j, b = args.Bias + j;
        float r = VectorMath.Sigmoid(a0 + (x[0] + b[0]));
        float z = VectorMath.Sigmoid(a1 + (x[h] + b[h]));
        float hn = a2 + args.BiasHn[j];
        float n = VectorMath.Tanh(float.MultiplyAddEstimate(r, hn, x[2 * h] + b[2 * h]));
        row->HOut[j] = float.MultiplyAddEstimate(z, row->HPrev[j] - n, n);
        if (args.Train)
        {
            x[0] = r;
            x[h] = z;
            x[2 * h] = n;
            row->Aux[j] = hn;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Backward<TV>(BackRow* row, int j, TV dhRec, int h) where TV : struct
    {
        float* gt = row->Gates + j;
        TV r = Simd.Load<TV>(gt), z = Simd.Load<TV>(gt + h), n = Simd.Load<TV>(gt + 2 * h);
        TV hn = Simd.Load<TV>(row->Aux + j), one = Simd.Broadcast<TV>(1f);
        TV dh = Simd.Add(Simd.Add(dhRec, Simd.Load<TV>(row->DHOut + j)), Simd.Load<TV>(row->Carry + j));
        TV dnp = Simd.Multiply(Simd.Multiply(dh, Simd.Subtract(one, z)), Simd.Multiply(Simd.Subtract(one, n), Simd.Add(one, n)));
        TV dzp = Simd.Multiply(Simd.Multiply(dh, Simd.Subtract(Simd.Load<TV>(row->Prev + j), n)), Simd.Multiply(z, Simd.Subtract(one, z)));
        TV drp = Simd.Multiply(Simd.Multiply(dnp, hn), Simd.Multiply(r, Simd.Subtract(one, r)));
        Simd.Store(row->Carry + j, Simd.Multiply(dh, z));
        float* dx = row->DGx + j, dhh = row->DGh + j;
        Simd.Store(dx, drp);
        Simd.Store(dx + h, dzp);
        Simd.Store(dx + 2 * h, dnp);
        Simd.Store(dhh, drp);
        Simd.Store(dhh + h, dzp);
        Simd.Store(dhh + 2 * h, Simd.Multiply(dnp, r));
    }

    public static void BackwardScalar(BackRow* row, int j, float dhRec, int h)
    {
        float* gt = row->Gates + j;
        float r = gt[0], z = gt[h], n = gt[2 * h], hn = row->Aux[j];
        float dh = dhRec + row->DHOut[j] + row->Carry[j];
        float dnp = dh * (1f - z) * ((1f - n) * (1f + n));
        float dzp = dh * (row->Prev[j] - n) * (z * (1f - z));
        float drp = dnp * hn * (r * (1f - r));
        row->Carry[j] = dh * z;
        float* dx = row->DGx + j, dhh = row->DGh + j;
        dx[0] = drp;
        dx[h] = dzp;
        dx[2 * h] = dnp;
        dhh[0] = drp;
        dhh[h] = dzp;
        dhh[2 * h] = dnp * r;
    }
}

/// <summary>σ and tanh at a generic vector width (VectorMath's inlined single-precision forms: five per hidden unit per step).</summary>
internal static partial class RecurrentMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid<TV>(TV x) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(VectorMath.FastSigmoid(Unsafe.BitCast<TV, Vector512<float>>(x)));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(VectorMath.FastSigmoid(Unsafe.BitCast<TV, Vector256<float>>(x)));
        return Unsafe.BitCast<Vector128<float>, TV>(VectorMath.FastSigmoid(Unsafe.BitCast<TV, Vector128<float>>(x)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TV>(TV x) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(VectorMath.FastTanh(Unsafe.BitCast<TV, Vector512<float>>(x)));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(VectorMath.FastTanh(Unsafe.BitCast<TV, Vector256<float>>(x)));
        return Unsafe.BitCast<Vector128<float>, TV>(VectorMath.FastTanh(Unsafe.BitCast<TV, Vector128<float>>(x)));
    }
}

/// <summary>The LSTM cell's exponentials, and the cell update with three divisions instead of five.</summary>
/// <remarks>
/// With E_x = e^{−x} (E_i, E_f, E_o) and T_x = e^{−2x} (T_g, T_c): σ(x) = 1/(1 + E_x) and tanh(x) = (1 − T_x)/(1 + T_x), so
///   σ(i)·tanh(g) = (1 − T_g) / ((1 + E_i)(1 + T_g))  and  σ(o)·tanh(c) = (1 − T_c) / ((1 + E_o)(1 + T_c)):
/// one division for each product, three per unit with f's (vdivps is the cell's slowest instruction: 5 cycles a zmm on
/// Zen 4, against 2 FMAs a cycle). Products of two 1 + e^{…} must stay finite, and their reciprocal (training's, below) a
/// normal float: the exponent arguments are clamped to [ExpLo, <see cref="CellExpHi"/>] with e^43 = 4.7e18, so a product is
/// at most 2.2e37 &lt; 1/float.MinNormal; at the clamp σ(x) for x &lt; −43 is 2.1e-19 (not smaller) and tanh(x) for x &lt; −21.5
/// is −1 to float precision. NaN propagates (Min/Max keep it). Training keeps σ and tanh themselves for backward: two per
/// division again (<see cref="SigmoidAndTanh"/>) from the same exponentials; the outputs are the products' bits either way.
/// </remarks>
internal static partial class RecurrentMath
{
    /// <summary>Upper clamp of the cell's exponent arguments: 1/(1 + e^43)² = 4.5e-38 is still a normal float (see the remarks).</summary>
    internal const float CellExpHi = 43f;

    /// <summary>
    /// e^{−i}, e^{−f}, e^{−2g}, e^{−o}, e^{−2c} in place, each as <see cref="Exp"/> computes it (bit-identical), with the five
    /// exponentials' steps interleaved so that independent instructions sit next to each other.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp5<TV>(ref TV i, ref TV f, ref TV g, ref TV o, ref TV c) where TV : struct
    {
        TV m2 = Simd.Broadcast<TV>(-2f);
        TV x0 = Clamp(Negate(i)), x1 = Clamp(Negate(f)), x2 = Clamp(Simd.Multiply(m2, g)), x3 = Clamp(Negate(o)), x4 = Clamp(Simd.Multiply(m2, c));
        TV l2e = Simd.Broadcast<TV>(VectorMath.ExpLog2E), sh = Simd.Broadcast<TV>(VectorMath.ExpShifter);
        TV s0 = Simd.Fma(x0, l2e, sh), s1 = Simd.Fma(x1, l2e, sh), s2 = Simd.Fma(x2, l2e, sh), s3 = Simd.Fma(x3, l2e, sh), s4 = Simd.Fma(x4, l2e, sh);
        TV n0 = Simd.Subtract(s0, sh), n1 = Simd.Subtract(s1, sh), n2 = Simd.Subtract(s2, sh), n3 = Simd.Subtract(s3, sh), n4 = Simd.Subtract(s4, sh);
        if (VectorMath.FusedMultiplyAdd)
        {
            TV ln2 = Simd.Broadcast<TV>(-VectorMath.ExpLn2);
            x0 = Simd.Fma(n0, ln2, x0); x1 = Simd.Fma(n1, ln2, x1); x2 = Simd.Fma(n2, ln2, x2); x3 = Simd.Fma(n3, ln2, x3); x4 = Simd.Fma(n4, ln2, x4);
        }
        else
        {
            TV c1 = Simd.Broadcast<TV>(-VectorMath.ExpC1), c2 = Simd.Broadcast<TV>(-VectorMath.ExpC2);
            x0 = Simd.Fma(n0, c2, Simd.Fma(n0, c1, x0)); x1 = Simd.Fma(n1, c2, Simd.Fma(n1, c1, x1)); x2 = Simd.Fma(n2, c2, Simd.Fma(n2, c1, x2));
            x3 = Simd.Fma(n3, c2, Simd.Fma(n3, c1, x3)); x4 = Simd.Fma(n4, c2, Simd.Fma(n4, c1, x4));
        }
        TV e0 = Simd.Broadcast<TV>(VectorMath.GP0), e1 = Simd.Broadcast<TV>(VectorMath.GP1);
        TV p0 = Simd.Fma(e0, x0, e1), p1 = Simd.Fma(e0, x1, e1), p2 = Simd.Fma(e0, x2, e1), p3 = Simd.Fma(e0, x3, e1), p4 = Simd.Fma(e0, x4, e1);
        Horner(ref p0, ref p1, ref p2, ref p3, ref p4, x0, x1, x2, x3, x4, VectorMath.GP2);
        Horner(ref p0, ref p1, ref p2, ref p3, ref p4, x0, x1, x2, x3, x4, VectorMath.GP3);
        TV one = Simd.Broadcast<TV>(1f);
        p0 = Simd.Fma(p0, Simd.Multiply(x0, x0), Simd.Add(x0, one));
        p1 = Simd.Fma(p1, Simd.Multiply(x1, x1), Simd.Add(x1, one));
        p2 = Simd.Fma(p2, Simd.Multiply(x2, x2), Simd.Add(x2, one));
        p3 = Simd.Fma(p3, Simd.Multiply(x3, x3), Simd.Add(x3, one));
        p4 = Simd.Fma(p4, Simd.Multiply(x4, x4), Simd.Add(x4, one));
        i = Scale(p0, s0);
        f = Scale(p1, s1);
        g = Scale(p2, s2);
        o = Scale(p3, s3);
        c = Scale(p4, s4);
    }

    /// <summary>e^x for x clamped to [ExpLo, <see cref="CellExpHi"/>]: <see cref="VectorMath.FastExp(Vector512{float})"/>'s steps (one chain of <see cref="Exp5"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV>(TV x) where TV : struct
    {
        x = Clamp(x);
        TV sh = Simd.Broadcast<TV>(VectorMath.ExpShifter);
        TV s = Simd.Fma(x, Simd.Broadcast<TV>(VectorMath.ExpLog2E), sh);
        TV n = Simd.Subtract(s, sh);
        x = VectorMath.FusedMultiplyAdd
            ? Simd.Fma(n, Simd.Broadcast<TV>(-VectorMath.ExpLn2), x)
            : Simd.Fma(n, Simd.Broadcast<TV>(-VectorMath.ExpC2), Simd.Fma(n, Simd.Broadcast<TV>(-VectorMath.ExpC1), x));
        TV p = Simd.Fma(Simd.Broadcast<TV>(VectorMath.GP0), x, Simd.Broadcast<TV>(VectorMath.GP1));
        p = Simd.Fma(p, x, Simd.Broadcast<TV>(VectorMath.GP2));
        p = Simd.Fma(p, x, Simd.Broadcast<TV>(VectorMath.GP3));
        p = Simd.Fma(p, Simd.Multiply(x, x), Simd.Add(x, Simd.Broadcast<TV>(1f)));
        return Scale(p, s);
    }

    /// <summary>σ(a)·tanh(b) = (1 − T_b) / ((1 + E_a)(1 + T_b)) from E_a = e^{−a} and T_b = e^{−2b}: one division.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SigmoidTimesTanh<TV>(TV expA, TV exp2B) where TV : struct
    {
        TV one = Simd.Broadcast<TV>(1f);
        return Divide(Simd.Subtract(one, exp2B), Simd.Multiply(Simd.Add(one, expA), Simd.Add(one, exp2B)));
    }

    /// <summary>
    /// σ(a) and tanh(b) from E_a = e^{−a} and T_b = e^{−2b} with one division: R = 1/((1 + E_a)(1 + T_b)), σ(a) = (1 + T_b)·R,
    /// tanh(b) = (1 − T_b)(1 + E_a)·R (training keeps them for backward; two roundings more than a quotient each).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SigmoidAndTanh<TV>(TV expA, TV exp2B, out TV sigmoid, out TV tanh) where TV : struct
    {
        TV one = Simd.Broadcast<TV>(1f), da = Simd.Add(one, expA), db = Simd.Add(one, exp2B);
        TV r = Divide(one, Simd.Multiply(da, db));
        sigmoid = Simd.Multiply(db, r);
        tanh = Simd.Multiply(Simd.Multiply(Simd.Subtract(one, exp2B), da), r);
    }

    /// <summary>σ(x) = 1/(1 + E) from E = e^{−x}.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SigmoidOf<TV>(TV expNeg) where TV : struct
    {
        TV one = Simd.Broadcast<TV>(1f);
        return Divide(one, Simd.Add(one, expNeg));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Horner<TV>(ref TV p0, ref TV p1, ref TV p2, ref TV p3, ref TV p4, TV x0, TV x1, TV x2, TV x3, TV x4, float coefficient) where TV : struct
    {
        TV k = Simd.Broadcast<TV>(coefficient);
        p0 = Simd.Fma(p0, x0, k); p1 = Simd.Fma(p1, x1, k); p2 = Simd.Fma(p2, x2, k); p3 = Simd.Fma(p3, x3, k); p4 = Simd.Fma(p4, x4, k);
    }

    /// <summary>The cell's clamp to [ExpLo, <see cref="CellExpHi"/>].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Clamp<TV>(TV x) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.Min(Vector512.Max(Unsafe.BitCast<TV, Vector512<float>>(x), Vector512.Create(VectorMath.ExpLo)), Vector512.Create(CellExpHi)));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.Min(Vector256.Max(Unsafe.BitCast<TV, Vector256<float>>(x), Vector256.Create(VectorMath.ExpLo)), Vector256.Create(CellExpHi)));
        return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Min(Vector128.Max(Unsafe.BitCast<TV, Vector128<float>>(x), Vector128.Create(VectorMath.ExpLo)), Vector128.Create(CellExpHi)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Negate<TV>(TV x) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(-Unsafe.BitCast<TV, Vector512<float>>(x));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(-Unsafe.BitCast<TV, Vector256<float>>(x));
        return Unsafe.BitCast<Vector128<float>, TV>(-Unsafe.BitCast<TV, Vector128<float>>(x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Divide<TV>(TV a, TV b) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(Unsafe.BitCast<TV, Vector512<float>>(a) / Unsafe.BitCast<TV, Vector512<float>>(b));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(Unsafe.BitCast<TV, Vector256<float>>(a) / Unsafe.BitCast<TV, Vector256<float>>(b));
        return Unsafe.BitCast<Vector128<float>, TV>(Unsafe.BitCast<TV, Vector128<float>>(a) / Unsafe.BitCast<TV, Vector128<float>>(b));
    }

    /// <summary>p·2ⁿ with n in the low mantissa bits of <paramref name="shifted"/>: n·2^23 added to p's bits (as FastExp does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Scale<TV>(TV p, TV shifted) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>((Unsafe.BitCast<TV, Vector512<float>>(p).AsInt32()
                + Vector512.ShiftLeft(Unsafe.BitCast<TV, Vector512<float>>(shifted).AsInt32(), 23)).AsSingle());
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>((Unsafe.BitCast<TV, Vector256<float>>(p).AsInt32()
                + Vector256.ShiftLeft(Unsafe.BitCast<TV, Vector256<float>>(shifted).AsInt32(), 23)).AsSingle());
        return Unsafe.BitCast<Vector128<float>, TV>((Unsafe.BitCast<TV, Vector128<float>>(p).AsInt32()
            + Vector128.ShiftLeft(Unsafe.BitCast<TV, Vector128<float>>(shifted).AsInt32(), 23)).AsSingle());
    }
}

/// <summary>A compile-time count for register tiles (the JIT folds <c>Value</c> to a constant per instantiation).</summary>
internal interface ICount { static abstract int Value { get; } }
internal readonly struct C1 : ICount { public static int Value => 1; }
internal readonly struct C2 : ICount { public static int Value => 2; }
internal readonly struct C3 : ICount { public static int Value => 3; }
internal readonly struct C4 : ICount { public static int Value => 4; }
internal readonly struct C5 : ICount { public static int Value => 5; }
internal readonly struct C6 : ICount { public static int Value => 6; }

/// <summary>The per-step kernels (forward step, backward step, W_hh packing).</summary>
internal static unsafe class RecurrentStep
{
    /// <summary>Floats of the scratch a tile spills its accumulators to (6 rows × 4 vectors of the widest width).</summary>
    internal const int TailScratch = 6 * 4 * 16;

    /// <summary>32 vector registers (AVX-512's EVEX encoding, Arm64): tiles of 6 rows; with 16 (SSE/AVX2) fewer rows.</summary>
    private static bool WideRegisterFile => Avx512F.IsSupported || AdvSimd.Arm64.IsSupported;

    /// <summary>Rows per forward tile: G accumulators per row, plus G weight vectors and a broadcast, must fit the register file.</summary>
    internal static int ForwardRows(int gates) => WideRegisterFile ? 6 : gates == 4 ? 2 : 3;

    /// <summary>Rows per backward tile (4 unit vectors per row, plus 4 weight vectors and a broadcast).</summary>
    internal static int BackwardRows => WideRegisterFile ? 6 : 2;

    /// <summary>Floats of the packed W_hh for the widest vector (16 lanes): ⌈H/16⌉·16·G·H (narrower widths need no more).</summary>
    internal static long PackedLength(int hidden, int gates) => (long)((hidden + 15) / 16 * 16) * gates * hidden;

    /// <summary>Floats of the panels of <see cref="PackPanels"/> with <paramref name="inputSize"/> input columns, for the widest vector.</summary>
    internal static long PackedLength(int hidden, int gates, int inputSize) => (long)((hidden + 15) / 16 * 16) * gates * (inputSize + hidden);

    /// <summary>W_hh alone into panels (<see cref="PackPanels"/> without input columns).</summary>
    internal static void PackHidden(float* wHh, float* packed, int hidden, int gates, int w) => PackPanels(null, 0, wHh, packed, hidden, gates, w);

    /// <summary>
    /// Repacks [W_ih | W_hh] ([G·H, in] and [G·H, H]) into panels of <paramref name="w"/> hidden units over k = in + H:
    /// packed[jb][k][gate][l] = W_ih[gate·H + jb·w + l, k] for k &lt; in, then W_hh[·, k − in] (zero where jb·w + l ≥ H), so a
    /// tile reads its G gate vectors for one k contiguously. <paramref name="inputSize"/> 0 packs W_hh only. Full w×w blocks
    /// are transposed in registers where the ISA has the shuffles (AVX-512: 16×16, AVX: 8×8; 6× faster than element by
    /// element, which matters at batch 1 where the pack is a tenth of the call); the rest element by element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackPanels(float* wIh, int inputSize, float* wHh, float* packed, int hidden, int gates, int w)
    {
        int blocks = (hidden + w - 1) / w;
        nint kStride = (nint)gates * w;
        for (int jb = 0; jb < blocks; jb++)
        {
            float* panel = packed + (nint)jb * (inputSize + hidden) * kStride;
            if (inputSize > 0) PackBlock(wIh, inputSize, panel, hidden, gates, w, jb * w);
            PackBlock(wHh, hidden, panel + inputSize * kStride, hidden, gates, w, jb * w);
        }
    }

    /// <summary>Units [j0, j0 + w) of a [G·H, k] matrix into k rows of a panel (row stride G·w).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackBlock(float* m, int kCount, float* panel, int hidden, int gates, int w, int j0)
    {
        nint kStride = (nint)gates * w;
        bool transpose16 = w == 16 && Avx512F.IsSupported, transpose8 = w == 8 && Avx.IsSupported;
        for (int g = 0; g < gates; g++)
        {
            float* src = m + ((nint)g * hidden + j0) * kCount;   // w rows, row stride kCount
            float* dst = panel + g * w;                          // [k] rows of w floats, row stride G·w
            int k = 0;
            if (j0 + w <= hidden)
            {
                if (transpose16)
                    for (; k + 16 <= kCount; k += 16) Transpose16(src + k, kCount, dst + k * kStride, kStride);
                else if (transpose8)
                    for (; k + 8 <= kCount; k += 8) Transpose8(src + k, kCount, dst + k * kStride, kStride);
            }
            for (int l = 0; l < w; l++)
            {
                int j = j0 + l;
                float* row = src + (nint)l * kCount;
                for (int kk = k; kk < kCount; kk++) dst[kk * kStride + l] = j < hidden ? row[kk] : 0f;
            }
        }
    }

    /// <summary>dst[c·ldd + r] = src[r·lds + c] for a 16×16 block (AVX-512: unpack ps, unpack pd, two 128-bit lane shuffles).</summary>
    /// <remarks>The 16 intermediate vectors are locals, not a stackalloc'd array: this assembly does not skip locals
    /// initialisation, so an array would be zeroed (1 KB) on every call, and it would go through memory; 16 locals plus
    /// the four rows in flight fit AVX-512's 32 registers. (W6's whole W_hh repack, CPU time: 15.2 µs with the array, 7.4 µs with locals.)</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(float* src, nint lds, float* dst, nint ldd)
    {
        // Stage 1-2 per 128-bit lane q: u[4i + c] holds column 4q + c of rows 4i..4i+3.
        Quad16(src, lds, out Vector512<float> u0, out Vector512<float> u1, out Vector512<float> u2, out Vector512<float> u3);
        Quad16(src + 4 * lds, lds, out Vector512<float> u4, out Vector512<float> u5, out Vector512<float> u6, out Vector512<float> u7);
        Quad16(src + 8 * lds, lds, out Vector512<float> u8, out Vector512<float> u9, out Vector512<float> u10, out Vector512<float> u11);
        Quad16(src + 12 * lds, lds, out Vector512<float> u12, out Vector512<float> u13, out Vector512<float> u14, out Vector512<float> u15);
        // Stage 3-4: output row 4q + c gathers lane q of u[c], u[4 + c], u[8 + c], u[12 + c].
        Gather16(u0, u4, u8, u12, dst, ldd);
        Gather16(u1, u5, u9, u13, dst + ldd, ldd);
        Gather16(u2, u6, u10, u14, dst + 2 * ldd, ldd);
        Gather16(u3, u7, u11, u15, dst + 3 * ldd, ldd);
    }

    /// <summary>Rows 0..3 of a 16×16 block (row stride <paramref name="lds"/>) → u0..u3, u_c holding per 128-bit lane q column 4q + c of the four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Quad16(float* src, nint lds, out Vector512<float> u0, out Vector512<float> u1, out Vector512<float> u2, out Vector512<float> u3)
    {
        Vector512<float> r0 = Avx512F.LoadVector512(src), r1 = Avx512F.LoadVector512(src + lds);
        Vector512<float> r2 = Avx512F.LoadVector512(src + 2 * lds), r3 = Avx512F.LoadVector512(src + 3 * lds);
        Vector512<double> t0 = Avx512F.UnpackLow(r0, r1).AsDouble(), t1 = Avx512F.UnpackHigh(r0, r1).AsDouble();
        Vector512<double> t2 = Avx512F.UnpackLow(r2, r3).AsDouble(), t3 = Avx512F.UnpackHigh(r2, r3).AsDouble();
        u0 = Avx512F.UnpackLow(t0, t2).AsSingle();
        u1 = Avx512F.UnpackHigh(t0, t2).AsSingle();
        u2 = Avx512F.UnpackLow(t1, t3).AsSingle();
        u3 = Avx512F.UnpackHigh(t1, t3).AsSingle();
    }

    /// <summary>Output rows c, 4 + c, 8 + c, 12 + c (dst already offset by c rows) from u[c], u[4 + c], u[8 + c], u[12 + c].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather16(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float* dst, nint ldd)
    {
        Vector512<float> v0 = Avx512F.Shuffle4x128(a, b, 0x88), v1 = Avx512F.Shuffle4x128(a, b, 0xDD);
        Vector512<float> v2 = Avx512F.Shuffle4x128(c, d, 0x88), v3 = Avx512F.Shuffle4x128(c, d, 0xDD);
        Avx512F.Store(dst, Avx512F.Shuffle4x128(v0, v2, 0x88));
        Avx512F.Store(dst + 8 * ldd, Avx512F.Shuffle4x128(v0, v2, 0xDD));
        Avx512F.Store(dst + 4 * ldd, Avx512F.Shuffle4x128(v1, v3, 0x88));
        Avx512F.Store(dst + 12 * ldd, Avx512F.Shuffle4x128(v1, v3, 0xDD));
    }

    /// <summary>dst[c·ldd + r] = src[r·lds + c] for an 8×8 block (AVX: unpack ps, unpack pd, 128-bit lane permutes).</summary>
    /// <remarks>Locals rather than a stackalloc'd array, as in <see cref="Transpose16"/> (8 + 4 vectors fit AVX's 16 registers).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(float* src, nint lds, float* dst, nint ldd)
    {
        // u[4i + c] holds, per 128-bit lane q, column 4q + c of rows 4i..4i+3.
        Quad8(src, lds, out Vector256<float> u0, out Vector256<float> u1, out Vector256<float> u2, out Vector256<float> u3);
        Quad8(src + 4 * lds, lds, out Vector256<float> u4, out Vector256<float> u5, out Vector256<float> u6, out Vector256<float> u7);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Rows 0..3 of an 8×8 block → u0..u3, u_c holding per 128-bit lane q column 4q + c of the four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Quad8(float* src, nint lds, out Vector256<float> u0, out Vector256<float> u1, out Vector256<float> u2, out Vector256<float> u3)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + lds);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * lds), r3 = Avx.LoadVector256(src + 3 * lds);
        Vector256<double> t0 = Avx.UnpackLow(r0, r1).AsDouble(), t1 = Avx.UnpackHigh(r0, r1).AsDouble();
        Vector256<double> t2 = Avx.UnpackLow(r2, r3).AsDouble(), t3 = Avx.UnpackHigh(r2, r3).AsDouble();
        u0 = Avx.UnpackLow(t0, t2).AsSingle();
        u1 = Avx.UnpackHigh(t0, t2).AsSingle();
        u2 = Avx.UnpackLow(t1, t3).AsSingle();
        u3 = Avx.UnpackHigh(t1, t3).AsSingle();
    }

    // ------------------------------------------------------------------------------------------ forward step

    /// <summary>
    /// Packed path: all rows × all unit blocks. Unit blocks outermost, so each panel (H·G·w floats) is read from L2 once per
    /// step; <paramref name="descending"/> (odd steps) visits them last to first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardPacked<TV, TCell>(StepRow* rows, int n, float* packed, in CellArgs args, float* tmp, bool recur, bool descending)
        where TV : struct where TCell : struct, IRecurrentCell
    {
        int w = Simd.Count<TV>(), hidden = args.H, gates = TCell.Gates, maxRows = ForwardRows(gates);
        int blocks = (hidden + w - 1) / w, rowBlocks = (n + maxRows - 1) / maxRows;
        nint panelSize = (nint)(args.PanelInput + hidden) * gates * w;
        for (int step = 0; step < blocks; step++)
        {
            // Every other step runs the blocks backwards: it starts on the panels the previous step read last, still in L1
            // (W_hh streams from L2 each step; at batch 1 that stream is the bound).
            int jb = descending ? blocks - 1 - step : step;
            int j0 = jb * w, valid = Math.Min(w, hidden - j0);
            float* panel = packed + jb * panelSize;
            // Rows split into near-equal blocks (16 → 6, 5, 5), so no tile runs nearly empty.
            for (int rb = 0, start = 0; rb < rowBlocks; rb++)
            {
                int count = n / rowBlocks + (rb < n % rowBlocks ? 1 : 0);
                StepRow* r = rows + start;
                switch (count)
                {
                    case 1: ForwardTile<TV, TCell, C1>(r, panel, hidden, j0, valid, args, tmp, recur); break;
                    case 2: ForwardTile<TV, TCell, C2>(r, panel, hidden, j0, valid, args, tmp, recur); break;
                    case 3: ForwardTile<TV, TCell, C3>(r, panel, hidden, j0, valid, args, tmp, recur); break;
                    case 4: ForwardTile<TV, TCell, C4>(r, panel, hidden, j0, valid, args, tmp, recur); break;
                    case 5: ForwardTile<TV, TCell, C5>(r, panel, hidden, j0, valid, args, tmp, recur); break;
                    default: ForwardTile<TV, TCell, C6>(r, panel, hidden, j0, valid, args, tmp, recur); break;
                }
                start += count;
            }
        }
    }

    /// <summary>
    /// Rows [0, R) × hidden units [j0, j0 + w): acc[r][gate] = Σ_k h_{t-1}[r, k]·W_hh[gate·H + j0.., k] over the packed panel
    /// (after Σ_k x_t[r, k]·W_ih[..] when the panel holds W_ih too, or starting from the projection plane: see
    /// <see cref="CellArgs"/>), then the cell update on the accumulators. <paramref name="recur"/> false: h_{t-1} is zero (the first step from a zero
    /// state), the product is skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTile<TV, TCell, TR>(StepRow* rows, float* panel, int hidden, int j0, int valid, in CellArgs args, float* tmp, bool recur)
        where TV : struct where TCell : struct, IRecurrentCell where TR : struct, ICount
    {
        int w = Simd.Count<TV>(), G = TCell.Gates, R = TR.Value;
        TV a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default, a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default, a40 = default, a41 = default, a42 = default, a43 = default, a50 = default, a51 = default, a52 = default, a53 = default;
        if (args.AccFromPlane)
        {
            a00 = Start<TV>(rows, 0, 0, j0, valid, hidden, tmp); a01 = Start<TV>(rows, 0, 1, j0, valid, hidden, tmp);
            a02 = Start<TV>(rows, 0, 2, j0, valid, hidden, tmp); a03 = Start<TV>(rows, 0, 3, j0, valid, hidden, tmp);
            if (R > 1)
            {
                a10 = Start<TV>(rows, 1, 0, j0, valid, hidden, tmp); a11 = Start<TV>(rows, 1, 1, j0, valid, hidden, tmp);
                a12 = Start<TV>(rows, 1, 2, j0, valid, hidden, tmp); a13 = Start<TV>(rows, 1, 3, j0, valid, hidden, tmp);
            }
            if (R > 2)
            {
                a20 = Start<TV>(rows, 2, 0, j0, valid, hidden, tmp); a21 = Start<TV>(rows, 2, 1, j0, valid, hidden, tmp);
                a22 = Start<TV>(rows, 2, 2, j0, valid, hidden, tmp); a23 = Start<TV>(rows, 2, 3, j0, valid, hidden, tmp);
            }
            if (R > 3)
            {
                a30 = Start<TV>(rows, 3, 0, j0, valid, hidden, tmp); a31 = Start<TV>(rows, 3, 1, j0, valid, hidden, tmp);
                a32 = Start<TV>(rows, 3, 2, j0, valid, hidden, tmp); a33 = Start<TV>(rows, 3, 3, j0, valid, hidden, tmp);
            }
            if (R > 4)
            {
                a40 = Start<TV>(rows, 4, 0, j0, valid, hidden, tmp); a41 = Start<TV>(rows, 4, 1, j0, valid, hidden, tmp);
                a42 = Start<TV>(rows, 4, 2, j0, valid, hidden, tmp); a43 = Start<TV>(rows, 4, 3, j0, valid, hidden, tmp);
            }
            if (R > 5)
            {
                a50 = Start<TV>(rows, 5, 0, j0, valid, hidden, tmp); a51 = Start<TV>(rows, 5, 1, j0, valid, hidden, tmp);
                a52 = Start<TV>(rows, 5, 2, j0, valid, hidden, tmp); a53 = Start<TV>(rows, 5, 3, j0, valid, hidden, tmp);
            }
        }
        nint stride = (nint)G * w;
        float* p = panel + (args.PanelInput - args.InputSize) * stride;   // past W_ih's rows when they are not summed here
        // Phase 0 (when the panel starts with W_ih's columns): x_t·W_ihᵀ; phase 1: h_{t-1}·W_hhᵀ. One loop body for both,
        // the accumulators stay in registers across them.
        for (int phase = args.InputInAcc ? 0 : 1; phase < 2; phase++)
        {
            bool input = phase == 0;
            float* h0 = input ? rows[0].X : rows[0].HPrev, h1 = input ? rows[R > 1 ? 1 : 0].X : rows[R > 1 ? 1 : 0].HPrev,
                h2 = input ? rows[R > 2 ? 2 : 0].X : rows[R > 2 ? 2 : 0].HPrev, h3 = input ? rows[R > 3 ? 3 : 0].X : rows[R > 3 ? 3 : 0].HPrev,
                h4 = input ? rows[R > 4 ? 4 : 0].X : rows[R > 4 ? 4 : 0].HPrev, h5 = input ? rows[R > 5 ? 5 : 0].X : rows[R > 5 ? 5 : 0].HPrev;
            for (int k = 0, kEnd = input ? args.InputSize : recur ? hidden : 0; k < kEnd; k++, p += stride)
            {
                TV w0 = Simd.Load<TV>(p), w1 = Simd.Load<TV>(p + w), w2 = Simd.Load<TV>(p + 2 * w);
                TV w3 = G > 3 ? Simd.Load<TV>(p + 3 * w) : default;
                TV x = Simd.Broadcast<TV>(h0[k]);
                a00 = Simd.Fma(x, w0, a00); a01 = Simd.Fma(x, w1, a01); a02 = Simd.Fma(x, w2, a02);
                if (G > 3) a03 = Simd.Fma(x, w3, a03);
                if (R > 1)
                {
                    x = Simd.Broadcast<TV>(h1[k]);
                    a10 = Simd.Fma(x, w0, a10); a11 = Simd.Fma(x, w1, a11); a12 = Simd.Fma(x, w2, a12);
                    if (G > 3) a13 = Simd.Fma(x, w3, a13);
                }
                if (R > 2)
                {
                    x = Simd.Broadcast<TV>(h2[k]);
                    a20 = Simd.Fma(x, w0, a20); a21 = Simd.Fma(x, w1, a21); a22 = Simd.Fma(x, w2, a22);
                    if (G > 3) a23 = Simd.Fma(x, w3, a23);
                }
                if (R > 3)
                {
                    x = Simd.Broadcast<TV>(h3[k]);
                    a30 = Simd.Fma(x, w0, a30); a31 = Simd.Fma(x, w1, a31); a32 = Simd.Fma(x, w2, a32);
                    if (G > 3) a33 = Simd.Fma(x, w3, a33);
                }
                if (R > 4)
                {
                    x = Simd.Broadcast<TV>(h4[k]);
                    a40 = Simd.Fma(x, w0, a40); a41 = Simd.Fma(x, w1, a41); a42 = Simd.Fma(x, w2, a42);
                    if (G > 3) a43 = Simd.Fma(x, w3, a43);
                }
                if (R > 5)
                {
                    x = Simd.Broadcast<TV>(h5[k]);
                    a50 = Simd.Fma(x, w0, a50); a51 = Simd.Fma(x, w1, a51); a52 = Simd.Fma(x, w2, a52);
                    if (G > 3) a53 = Simd.Fma(x, w3, a53);
                }
            }
        }
        // Accumulators go to scratch before any call: kept live across the epilogue's calls (which clobber every vector
        // register), the JIT would spill each of them inside the k loop.
        Spill(tmp + 0 * 4 * w, a00, a01, a02, a03, G);
        if (R > 1) Spill(tmp + 1 * 4 * w, a10, a11, a12, a13, G);
        if (R > 2) Spill(tmp + 2 * 4 * w, a20, a21, a22, a23, G);
        if (R > 3) Spill(tmp + 3 * 4 * w, a30, a31, a32, a33, G);
        if (R > 4) Spill(tmp + 4 * 4 * w, a40, a41, a42, a43, G);
        if (R > 5) Spill(tmp + 5 * 4 * w, a50, a51, a52, a53, G);
        if (valid == w && args.Pipelined)
        {
            for (int q = 0; q < R; q++) PrefetchNext(rows + q, j0, args.H, TCell.Gates);
            TCell.ForwardRows<TV>(rows, R, j0, tmp, 4 * w, args);
            return;
        }
        FinishForward<TV, TCell>(rows + 0, j0, valid, tmp + 0 * 4 * w, args);
        if (R > 1) FinishForward<TV, TCell>(rows + 1, j0, valid, tmp + 1 * 4 * w, args);
        if (R > 2) FinishForward<TV, TCell>(rows + 2, j0, valid, tmp + 2 * 4 * w, args);
        if (R > 3) FinishForward<TV, TCell>(rows + 3, j0, valid, tmp + 3 * 4 * w, args);
        if (R > 4) FinishForward<TV, TCell>(rows + 4, j0, valid, tmp + 4 * 4 * w, args);
        if (R > 5) FinishForward<TV, TCell>(rows + 5, j0, valid, tmp + 5 * 4 * w, args);
    }

    /// <summary>Row q's projection W_ih·x_t of one gate at units [j0, j0 + valid), zero past them (staged through
    /// <paramref name="stage"/> when the block is partial, so nothing is read past the gate's H values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Start<TV>(StepRow* rows, int q, int gate, int j0, int valid, int hidden, float* stage) where TV : struct
    {
        float* src = rows[q].Gates + gate * hidden + j0;
        int w = Simd.Count<TV>();
        if (valid == w) return Simd.Load<TV>(src);
        for (int l = 0; l < w; l++) stage[l] = l < valid ? src[l] : 0f;
        return Simd.Load<TV>(stage);
    }

    /// <summary>Stores the first <paramref name="count"/> of four accumulators to acc[0..count·w).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Spill<TV>(float* acc, TV a0, TV a1, TV a2, TV a3, int count) where TV : struct
    {
        int w = Simd.Count<TV>();
        Simd.Store(acc, a0);
        if (count > 1) Simd.Store(acc + w, a1);
        if (count > 2) Simd.Store(acc + 2 * w, a2);
        if (count > 3) Simd.Store(acc + 3 * w, a3);
    }

    /// <summary>Fetches the next step's projection lines of units from j0 into L2 (see <see cref="FinishForward"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNext(StepRow* row, int j0, int hidden, int gates)
    {
        float* next = row->NextGates;
        if (next != null && Sse.IsSupported && (j0 & 15) == 0)
            for (int g = 0; g < gates; g++) Sse.Prefetch1(next + j0 + g * hidden);
    }

    /// <summary>The cell update of one row of a tile from its spilled accumulators acc[gate·w + lane].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishForward<TV, TCell>(StepRow* row, int j0, int valid, float* acc, in CellArgs args)
        where TV : struct where TCell : struct, IRecurrentCell
    {
        int w = Simd.Count<TV>();
        // The projection plane of a whole call (seq·batch rows of G·H floats: 2 MB per direction in W7) does not stay in
        // L2, and a step reads its rows with a 2 KB stride, four lines per row and unit block, which the hardware
        // prefetchers do not follow: fetch the next step's lines of this unit block now, one step ahead, into L2 (not L1,
        // which the W_hh stream sweeps in between).
        PrefetchNext(row, j0, args.H, TCell.Gates);
        if (valid == w)
        {
            TCell.Forward(row, j0, Simd.Load<TV>(acc), Simd.Load<TV>(acc + w), Simd.Load<TV>(acc + 2 * w),
                TCell.Gates > 3 ? Simd.Load<TV>(acc + 3 * w) : default, args);
            return;
        }
        // Last, partial unit block: the padded lanes hold zeros; finish the valid ones in scalar code.
        for (int l = 0; l < valid; l++)
            TCell.ForwardScalar(row, j0 + l, acc[l], acc[w + l], acc[2 * w + l], TCell.Gates > 3 ? acc[3 * w + l] : 0f, args);
    }

    /// <summary>
    /// Dot path: gates [n, G·H] = h_{t-1}·W_hhᵀ through Gemm's dot-product kernels (W_hh as it lies; rows of h gathered when
    /// n &gt; 1), then the cell update over the scratch. <paramref name="width"/> 0 runs Gemm's scalar path and scalar cells;
    /// <paramref name="recur"/> false skips the product (h_{t-1} is zero).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardDot<TV, TCell>(StepRow* rows, int n, float* wHh, float* scratch, float* gather, in CellArgs args, int width, bool recur)
        where TV : struct where TCell : struct, IRecurrentCell
    {
        int hidden = args.H, gh = TCell.Gates * hidden;
        float* a = rows[0].HPrev;
        if (n > 1)
        {
            for (int q = 0; q < n; q++)
                new ReadOnlySpan<float>(rows[q].HPrev, hidden).CopyTo(new Span<float>(gather + (nint)q * hidden, hidden));
            a = gather;
        }
        if (!recur)
        {
            new Span<float>(scratch, n * gh).Clear();
        }
        else if (width != 0)
        {
            var none = default(NoEpilogue);
            Gemm.DotNT(a, wHh, scratch, n, hidden, gh, false, 0, gh, ref none, width);
        }
        else
        {
            Gemm.NT(new ReadOnlySpan<float>(a, n * hidden), new ReadOnlySpan<float>(wHh, gh * hidden), new Span<float>(scratch, n * gh), n, hidden, gh);
        }
        int w = width == 0 ? 0 : Simd.Count<TV>();
        for (int q = 0; q < n; q++)
        {
            float* s = scratch + (nint)q * gh;
            int j = 0;
            if (w != 0)
                for (; j + w <= hidden; j += w)
                    TCell.Forward(rows + q, j, Simd.Load<TV>(s + j), Simd.Load<TV>(s + hidden + j), Simd.Load<TV>(s + 2 * hidden + j),
                        TCell.Gates > 3 ? Simd.Load<TV>(s + 3 * hidden + j) : default, args);
            for (; j < hidden; j++)
                TCell.ForwardScalar(rows + q, j, s[j], s[hidden + j], s[2 * hidden + j], TCell.Gates > 3 ? s[3 * hidden + j] : 0f, args);
        }
    }

    // ------------------------------------------------------------------------------------------ backward step

    /// <summary>
    /// One backward step for rows [0, n): dhRec = DGNext·W_hh through register tiles, then the cell backward. W is W_hh or a
    /// zero-padded copy with row stride <paramref name="ldw"/> (a multiple of the vector width when H is not), so the last
    /// unit vector never reads past a row. <paramref name="recur"/> false: no step follows (dhRec = 0; the product is skipped);
    /// <paramref name="descending"/> visits the unit groups last to first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BackwardVector<TV, TCell>(BackRow* rows, int n, float* w, int ldw, int hidden, bool recur, float* tmp, bool descending)
        where TV : struct where TCell : struct, IRecurrentCell
    {
        int lanes = Simd.Count<TV>(), gh = TCell.Gates * hidden, maxRows = BackwardRows;
        int vectors = (hidden + lanes - 1) / lanes, rowBlocks = (n + maxRows - 1) / maxRows;
        // Unit groups of 4, then 2, then 1 vectors; odd steps visit them last to first (as ForwardPacked, for L1 reuse).
        int groups = vectors / 4 + (vectors % 4) / 2 + vectors % 2;
        for (int gi = 0; gi < groups; gi++)
        {
            int group = descending ? groups - 1 - gi : gi;
            int v0 = group < vectors / 4 ? 4 * group : group < vectors / 4 + (vectors % 4) / 2 ? vectors / 4 * 4 + 2 * (group - vectors / 4) : vectors - 1;
            int u = group < vectors / 4 ? 4 : group < vectors / 4 + (vectors % 4) / 2 ? 2 : 1;
            int j0 = v0 * lanes, lastValid = Math.Min(lanes, hidden - (v0 + u - 1) * lanes);
            for (int rb = 0, start = 0; rb < rowBlocks; rb++)
            {
                int count = n / rowBlocks + (rb < n % rowBlocks ? 1 : 0);
                BackRow* r = rows + start;
                switch (u)
                {
                    case 4: BackwardBlock<TV, TCell, C4>(count, r, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
                    case 2: BackwardBlock<TV, TCell, C2>(count, r, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
                    default: BackwardBlock<TV, TCell, C1>(count, r, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
                }
                start += count;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardBlock<TV, TCell, TU>(int count, BackRow* rows, float* w, int ldw, int gh, int hidden, int j0, int lastValid, bool recur, float* tmp)
        where TV : struct where TCell : struct, IRecurrentCell where TU : struct, ICount
    {
        switch (count)
        {
            case 1: BackwardTile<TV, TCell, C1, TU>(rows, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
            case 2: BackwardTile<TV, TCell, C2, TU>(rows, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
            case 3: BackwardTile<TV, TCell, C3, TU>(rows, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
            case 4: BackwardTile<TV, TCell, C4, TU>(rows, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
            case 5: BackwardTile<TV, TCell, C5, TU>(rows, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
            default: BackwardTile<TV, TCell, C6, TU>(rows, w, ldw, gh, hidden, j0, lastValid, recur, tmp); break;
        }
    }

    /// <summary>Rows [0, R) × U unit vectors from j0: acc[r][u] = Σ_k DGNext[r][k]·W[k, j0 + u·w ..], then the cell backward.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardTile<TV, TCell, TR, TU>(BackRow* rows, float* w, int ldw, int gh, int hidden, int j0, int lastValid, bool recur, float* tmp)
        where TV : struct where TCell : struct, IRecurrentCell where TR : struct, ICount where TU : struct, ICount
    {
        int lanes = Simd.Count<TV>(), R = TR.Value, U = TU.Value;
        TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default, c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default, c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        if (recur)
        {
            float* d0 = rows[0].DGNext, d1 = rows[R > 1 ? 1 : 0].DGNext, d2 = rows[R > 2 ? 2 : 0].DGNext,
                d3 = rows[R > 3 ? 3 : 0].DGNext, d4 = rows[R > 4 ? 4 : 0].DGNext, d5 = rows[R > 5 ? 5 : 0].DGNext;
            float* wp = w + j0;
            for (int k = 0; k < gh; k++, wp += ldw)
            {
                TV w0 = Simd.Load<TV>(wp);
                TV w1 = U > 1 ? Simd.Load<TV>(wp + lanes) : default;
                TV w2 = U > 2 ? Simd.Load<TV>(wp + 2 * lanes) : default;
                TV w3 = U > 2 ? Simd.Load<TV>(wp + 3 * lanes) : default;
                {
                    TV x = Simd.Broadcast<TV>(d0[k]);
                    c00 = Simd.Fma(x, w0, c00);
                    if (U > 1) c01 = Simd.Fma(x, w1, c01);
                    if (U > 2) { c02 = Simd.Fma(x, w2, c02); c03 = Simd.Fma(x, w3, c03); }
                    if (R > 1)
                    {
                        x = Simd.Broadcast<TV>(d1[k]);
                        c10 = Simd.Fma(x, w0, c10);
                        if (U > 1) c11 = Simd.Fma(x, w1, c11);
                        if (U > 2) { c12 = Simd.Fma(x, w2, c12); c13 = Simd.Fma(x, w3, c13); }
                    }
                    if (R > 2)
                    {
                        x = Simd.Broadcast<TV>(d2[k]);
                        c20 = Simd.Fma(x, w0, c20);
                        if (U > 1) c21 = Simd.Fma(x, w1, c21);
                        if (U > 2) { c22 = Simd.Fma(x, w2, c22); c23 = Simd.Fma(x, w3, c23); }
                    }
                    if (R > 3)
                    {
                        x = Simd.Broadcast<TV>(d3[k]);
                        c30 = Simd.Fma(x, w0, c30);
                        if (U > 1) c31 = Simd.Fma(x, w1, c31);
                        if (U > 2) { c32 = Simd.Fma(x, w2, c32); c33 = Simd.Fma(x, w3, c33); }
                    }
                    if (R > 4)
                    {
                        x = Simd.Broadcast<TV>(d4[k]);
                        c40 = Simd.Fma(x, w0, c40);
                        if (U > 1) c41 = Simd.Fma(x, w1, c41);
                        if (U > 2) { c42 = Simd.Fma(x, w2, c42); c43 = Simd.Fma(x, w3, c43); }
                    }
                    if (R > 5)
                    {
                        x = Simd.Broadcast<TV>(d5[k]);
                        c50 = Simd.Fma(x, w0, c50);
                        if (U > 1) c51 = Simd.Fma(x, w1, c51);
                        if (U > 2) { c52 = Simd.Fma(x, w2, c52); c53 = Simd.Fma(x, w3, c53); }
                    }
                }
            }
        }
        // As in ForwardTile: accumulators to scratch first, so none is live across the epilogue's calls.
        Spill(tmp + 0 * 4 * lanes, c00, c01, c02, c03, U);
        if (R > 1) Spill(tmp + 1 * 4 * lanes, c10, c11, c12, c13, U);
        if (R > 2) Spill(tmp + 2 * 4 * lanes, c20, c21, c22, c23, U);
        if (R > 3) Spill(tmp + 3 * 4 * lanes, c30, c31, c32, c33, U);
        if (R > 4) Spill(tmp + 4 * 4 * lanes, c40, c41, c42, c43, U);
        if (R > 5) Spill(tmp + 5 * 4 * lanes, c50, c51, c52, c53, U);
        FinishBackward<TV, TCell>(rows + 0, j0, U, lastValid, tmp + 0 * 4 * lanes, hidden);
        if (R > 1) FinishBackward<TV, TCell>(rows + 1, j0, U, lastValid, tmp + 1 * 4 * lanes, hidden);
        if (R > 2) FinishBackward<TV, TCell>(rows + 2, j0, U, lastValid, tmp + 2 * 4 * lanes, hidden);
        if (R > 3) FinishBackward<TV, TCell>(rows + 3, j0, U, lastValid, tmp + 3 * 4 * lanes, hidden);
        if (R > 4) FinishBackward<TV, TCell>(rows + 4, j0, U, lastValid, tmp + 4 * 4 * lanes, hidden);
        if (R > 5) FinishBackward<TV, TCell>(rows + 5, j0, U, lastValid, tmp + 5 * 4 * lanes, hidden);
    }

    /// <summary>The cell backward of one row of a tile from its spilled accumulators acc[u·w + lane] (u unit vectors from j0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishBackward<TV, TCell>(BackRow* row, int j0, int u, int lastValid, float* acc, int hidden)
        where TV : struct where TCell : struct, IRecurrentCell
    {
        int lanes = Simd.Count<TV>();
        // As FinishForward: the kept planes of a call do not stay in L2 and a step reads them with a row stride the
        // prefetchers do not follow (W7: 2 MB of gates per direction, its output gradient batch-first with a 32 KB stride),
        // so fetch the next step's lines of these units now, into L2. One line per 64 bytes of each row's slice.
        if (row->NextGates != null && Sse.IsSupported)
        {
            int gates = TCell.Gates;
            for (int q = j0, end = j0 + u * lanes; q < end; q += 16)
            {
                for (int g = 0; g < gates; g++)
                {
                    Sse.Prefetch1(row->NextGates + q + g * hidden);
                    Sse.Prefetch1(row->NextDGx + q + g * hidden);
                }
                Sse.Prefetch1(row->NextAux + q);
                Sse.Prefetch1(row->NextPrev + q);
                Sse.Prefetch1(row->NextDHOut + q);
            }
        }
        for (int v = 0; v < u - 1; v++) TCell.Backward(row, j0 + v * lanes, Simd.Load<TV>(acc + v * lanes), hidden);
        float* last = acc + (u - 1) * lanes;
        int j = j0 + (u - 1) * lanes;
        if (lastValid == lanes) TCell.Backward(row, j, Simd.Load<TV>(last), hidden);
        else
            for (int l = 0; l < lastValid; l++) TCell.BackwardScalar(row, j + l, last[l], hidden);
    }

    /// <summary>
    /// Scalar backward step (no hardware vectors): dhRec [n, H] = DGNext [n, G·H]·W_hh through Gemm's scalar path (rows gathered
    /// into <paramref name="gather"/>), then the scalar cell backward.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BackwardScalar<TCell>(BackRow* rows, int n, float* wHh, int hidden, bool recur, float* scratch, float* gather)
        where TCell : struct, IRecurrentCell
    {
        int gh = TCell.Gates * hidden;
        if (recur)
        {
            for (int q = 0; q < n; q++)
                new ReadOnlySpan<float>(rows[q].DGNext, gh).CopyTo(new Span<float>(gather + (nint)q * gh, gh));
            Gemm.NN(new ReadOnlySpan<float>(gather, n * gh), new ReadOnlySpan<float>(wHh, gh * hidden), new Span<float>(scratch, n * hidden), n, gh, hidden);
        }
        else
        {
            new Span<float>(scratch, n * hidden).Clear();
        }
        for (int q = 0; q < n; q++)
            for (int j = 0; j < hidden; j++)
                TCell.BackwardScalar(rows + q, j, scratch[(nint)q * hidden + j], hidden);
    }
}
