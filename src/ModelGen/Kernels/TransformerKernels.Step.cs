// Incremental decoding for causal Transformer stacks (llama.cpp-style KV cache): the vectors of ONE new position per example
// run through every layer; each layer appends the position's keys and values to its cache and attends over the cached
// rows [0, position]. The cache is the keys [Layers, batch, Heads, maxLength, HeadSize] followed by the values in the same
// layout, so one head's keys (and values) are contiguous rows and a new position appends one row. Because the stack is
// causal, the keys and values of earlier positions never change, and the step's output equals row `position` of a full
// Forward over positions 0..position.
using static ModelGen.Kernels.TransformerBlocks;

namespace ModelGen.Kernels;

public static partial class TransformerKernels
{
    /// <summary>
    /// One decoding step of a causal stack: effectively computes row <paramref name="position"/> of <see cref="Forward"/> over
    /// positions 0..position, given the keys and values of positions 0..position − 1 in <paramref name="cache"/> (written by the
    /// previous steps), and appends this position's keys and values to it.
    /// </summary>
    /// <param name="g">The geometry; must be <see cref="TransformerGeometry.Causal"/>.</param>
    /// <param name="input">The new position's vectors <c>[batch, Model]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, Model]</c>; must not overlap the other operands.</param>
    /// <param name="cache">The key/value cache, <see cref="TransformerGeometry.CacheLength"/>(batch, maxLength) floats: keys
    /// <c>[Layers, batch, Heads, maxLength, HeadSize]</c>, then values in the same layout. Row <paramref name="position"/> of every
    /// layer and head is overwritten; rows before it are read; rows after it are neither read nor written.</param>
    /// <param name="position">The new position, in [0, maxLength).</param>
    /// <param name="maxLength">Rows per head in the cache.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerGeometry.StepWorkspaceLength"/>(batch, maxLength) floats.</param>
    /// <param name="batch">Examples (sequences decoded side by side, all at the same position).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c> or not causal, a span's length does not match its shape,
    /// the workspace is too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="maxLength"/> is less than 1, or
    /// <paramref name="position"/> is outside [0, maxLength) or beyond the positions of <see cref="TransformerGeometry.Rotary"/>.</exception>
    public static void ForwardStep(in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        Span<float> cache, int position, int maxLength, Span<float> workspace, int batch)
    {
        CheckGeometry(g);
        if (!g.Causal)
            throw new ArgumentException(
                $"'{nameof(g)}' must be causal for incremental decoding: without the causal mask earlier positions would see later ones, so cached keys and values would change ({g}).",
                nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"'{nameof(maxLength)}' must be at least 1 but is {maxLength}.");
        if (position < 0 || position >= maxLength)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"'{nameof(position)}' must be in [0, maxLength={maxLength}) but is {position}.");
        if (g.Rotary is not null && position >= g.Rotary.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(position), position,
                $"'{nameof(position)}' ({position}) is beyond the {g.Rotary.MaxLength} positions of the rotary table ({g.Rotary}).");
        CheckLength(input.Length, (long)batch * g.Model, nameof(input), Shape.Step, g, batch, 1);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, 1);
        CheckLength(output.Length, (long)batch * g.Model, nameof(output), Shape.Step, g, batch, 1);
        CheckLength(cache.Length, g.CacheLength(batch, maxLength), nameof(cache), Shape.Cache, g, batch, maxLength);
        long need = g.StepWorkspaceLength(batch, maxLength);
        if (workspace.Length < need)
            throw new ArgumentException(
                $"'{nameof(workspace)}' must have at least {need} elements (StepWorkspaceLength(batch={batch}, maxLength={maxLength})) but has {workspace.Length}.", nameof(workspace));
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(parameters, output, nameof(parameters), nameof(output));
        ThrowHelper.CheckNoOverlap(workspace, output, nameof(workspace), nameof(output));
        ThrowHelper.CheckNoOverlap(cache, output, nameof(cache), nameof(output));
        ThrowHelper.CheckWritable(cache, nameof(cache), input, parameters, output, workspace);
        ThrowHelper.CheckNoOverlap(input, workspace, nameof(input), nameof(workspace));
        ThrowHelper.CheckNoOverlap(parameters, workspace, nameof(parameters), nameof(workspace));
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu) StepCore(default(GeluActivation), g, input, parameters, output, cache, position, maxLength, workspace, batch);
        else StepCore(default(ReluActivation), g, input, parameters, output, cache, position, maxLength, workspace, batch);
    }

    private static unsafe void StepCore<TAct>(TAct act, in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> cache, int position, int maxLength, Span<float> workspace, int batch) where TAct : struct, IActivation
    {
        int d = g.Model, ff = g.FeedForward, hs = g.HeadSize, heads = g.Heads;
        long plane = (long)g.Layers * batch * maxLength * d;   // floats of all keys (the values follow)
        fixed (float* x = input, p = parameters, y = output, kv = cache, ws = workspace)
        {
            float* a = ws;                                          // [batch, d] LayerNorm output
            float* wide = a + (long)batch * d;                      // [batch, 3d] q/k/v, then [batch, ff] the activation
            float* o = wide + (long)batch * Math.Max(3 * d, ff);    // [batch, d] attention output
            float* scores = o + (long)batch * d;                    // [maxLength]
            for (int l = 0; l < g.Layers; l++)
            {
                var w = new LayerWeights(g, p, l);
                float* res = l == 0 ? x : y;
                float* keys = kv + (long)l * batch * maxLength * d;   // [batch, heads, maxLength, hs] of this layer
                float* values = keys + plane;
                if (g.NormFirst)
                {
                    LayerNorm(res, w.Norm1Weight, w.Norm1Bias, a, null, null, batch, d, g.Eps);
                    Linear(default(IdentityActivation), a, w.InProjWeight, w.InProjBias, wide, null, batch, d, 3 * d);
                }
                else Linear(default(IdentityActivation), res, w.InProjWeight, w.InProjBias, wide, null, batch, d, 3 * d);
                // The cache holds rotated keys: each is rotated once, by its own position, as the full forward rotates it.
                if (g.Rotary is not null) RotaryKernels.ForwardUnchecked(g.Rotary, wide, batch, 1, 3 * d, 2 * d, position);
                for (int b = 0; b < batch; b++)
                    for (int h = 0; h < heads; h++)
                    {
                        float* row = wide + (long)b * 3 * d + h * hs;                        // this example's q of head h; k at +d, v at +2d
                        long head = ((long)b * heads + h) * maxLength * hs;                  // [maxLength, hs] of (b, h)
                        new ReadOnlySpan<float>(row + d, hs).CopyTo(new Span<float>(keys + head + (long)position * hs, hs));
                        new ReadOnlySpan<float>(row + 2 * d, hs).CopyTo(new Span<float>(values + head + (long)position * hs, hs));
                        AttentionKernels.Decode(row, keys + head, values + head, position + 1, o + (long)b * d + h * hs, scores, hs);
                    }
                LinearResidual(o, w.OutProjWeight, w.OutProjBias, res, y, batch, d, d);
                if (g.NormFirst)
                {
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, a, null, null, batch, d, g.Eps);
                    Linear(act, a, w.Linear1Weight, w.Linear1Bias, wide, null, batch, d, ff);
                    LinearResidual(wide, w.Linear2Weight, w.Linear2Bias, y, y, batch, ff, d);
                }
                else
                {
                    LayerNorm(y, w.Norm1Weight, w.Norm1Bias, y, null, null, batch, d, g.Eps);
                    Linear(act, y, w.Linear1Weight, w.Linear1Bias, wide, null, batch, d, ff);
                    LinearResidual(wide, w.Linear2Weight, w.Linear2Bias, y, y, batch, ff, d);
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, y, null, null, batch, d, g.Eps);
                }
            }
        }
    }
}
