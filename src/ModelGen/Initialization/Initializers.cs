// Parameter initialisation with PyTorch's formulas, drawn from the model's seeded Rng in a fixed order (every weight
// element in buffer order, then every bias element) so a seed reproduces the same weights on every machine and in
// every build. Generated models call Initialize once per layer in declaration order.
namespace ModelGen;

/// <summary>Fills weights and biases with PyTorch's initialisation schemes.</summary>
public static class Initializers
{
    /// <summary>
    /// Initialises one layer's <paramref name="weight"/> and <paramref name="bias"/> with the scheme <paramref name="init"/>:
    /// <list type="bullet">
    /// <item><see cref="Init.Default"/>: PyTorch's <c>nn.Linear</c>/<c>nn.ConvNd</c> <c>reset_parameters</c>: weight
    /// <c>kaiming_uniform_(a=√5)</c>, i.e. U(±1/√fanIn), and bias U(±1/√fanIn).</item>
    /// <item><see cref="Init.HeUniform"/>: <c>kaiming_uniform_(nonlinearity='relu', mode='fan_in')</c>, U(±√(6/fanIn)); bias zero.</item>
    /// <item><see cref="Init.HeNormal"/>: <c>kaiming_normal_(nonlinearity='relu', mode='fan_in')</c>, N(0, 2/fanIn); bias zero.</item>
    /// <item><see cref="Init.XavierUniform"/>: <c>xavier_uniform_</c>, U(±√(6/(fanIn + fanOut))); bias zero.</item>
    /// <item><see cref="Init.XavierNormal"/>: <c>xavier_normal_</c>, N(0, 2/(fanIn + fanOut)); bias zero.</item>
    /// <item><see cref="Init.Zeros"/>: everything zero.</item>
    /// </list>
    /// Draws come from <paramref name="rng"/>: weight elements in order, then bias elements (only for <see cref="Init.Default"/>).
    /// </summary>
    /// <param name="weight">Dense [fanOut, fanIn] or convolution [out, in/groups, k...]; its length is a multiple of <paramref name="fanIn"/>.</param>
    /// <param name="bias">[out] (the weight's length / fanIn), or empty when the layer has no bias.</param>
    /// <param name="fanIn">Inputs per output: Dense <c>in</c>; convolution <c>in/groups · Πk</c> (PyTorch's <c>_calculate_fan_in_and_fan_out</c>).</param>
    /// <param name="fanOut">Dense <c>out</c>; convolution <c>out · Πk</c>.</param>
    /// <param name="init">The scheme.</param>
    /// <param name="rng">The seeded generator the draws come from.</param>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A fan is not positive, or <paramref name="init"/> is not a defined value.</exception>
    /// <exception cref="ArgumentException">The weight or bias length does not fit <paramref name="fanIn"/>.</exception>
    public static void Initialize(Span<float> weight, Span<float> bias, int fanIn, int fanOut, Init init, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanIn);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanOut);
        if (weight.Length == 0 || weight.Length % fanIn != 0)
            throw new ArgumentException($"Weight length {weight.Length} is not a positive multiple of fanIn {fanIn}.", nameof(weight));
        int outputs = weight.Length / fanIn;
        if (bias.Length != 0 && bias.Length != outputs)
            throw new ArgumentException(
                $"Bias length must be {outputs} (weight length {weight.Length} / fanIn {fanIn}) or 0, but was {bias.Length}.", nameof(bias));

        switch (init)
        {
            case Init.Default:
            {
                double bound = 1.0 / Math.Sqrt(fanIn);
                FillUniform(weight, bound, rng);
                FillUniform(bias, bound, rng);
                return;
            }
            case Init.HeUniform:
                FillUniform(weight, Math.Sqrt(6.0 / fanIn), rng);
                break;
            case Init.HeNormal:
                FillNormal(weight, Math.Sqrt(2.0 / fanIn), rng);
                break;
            case Init.XavierUniform:
                FillUniform(weight, Math.Sqrt(6.0 / ((double)fanIn + fanOut)), rng);
                break;
            case Init.XavierNormal:
                FillNormal(weight, Math.Sqrt(2.0 / ((double)fanIn + fanOut)), rng);
                break;
            case Init.Zeros:
                weight.Clear();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(init), init, "Unknown initialisation scheme.");
        }
        bias.Clear();
    }

    /// <summary>U(-bound, bound), as <c>torch.nn.init.uniform_</c>.</summary>
    private static void FillUniform(Span<float> values, double bound, Rng rng)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)(bound * (2.0 * rng.NextDouble() - 1.0));
    }

    /// <summary>N(0, std²), as <c>torch.nn.init.normal_</c>.</summary>
    private static void FillNormal(Span<float> values, double std, Rng rng)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)(std * rng.NextGaussian());
    }

    /// <summary>
    /// PyTorch's <c>nn.Embedding</c> initialisation: every element from N(0, 1), then the row <paramref name="paddingIdx"/>
    /// (if not -1) set to zero.
    /// </summary>
    /// <param name="weight">The table [vocab, dim].</param>
    /// <param name="dim">Features per token.</param>
    /// <param name="paddingIdx">The padding row, or -1 for none.</param>
    /// <param name="rng">The seeded generator the draws come from.</param>
    /// <exception cref="ArgumentException">The table is not a whole number of rows, or the padding row is outside it.</exception>
    public static void InitializeEmbedding(Span<float> weight, int dim, int paddingIdx, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        if (weight.Length % dim != 0)
            throw new ArgumentException($"Embedding table length {weight.Length} is not a multiple of dim {dim}.", nameof(weight));
        if (paddingIdx < -1 || paddingIdx >= weight.Length / dim)
            throw new ArgumentException($"Padding row {paddingIdx} is outside the table's {weight.Length / dim} rows.", nameof(paddingIdx));
        FillNormal(weight, 1.0, rng);
        if (paddingIdx >= 0) weight.Slice(paddingIdx * dim, dim).Clear();
    }

    /// <summary>
    /// PyTorch's <c>nn.LSTM</c>/<c>nn.GRU</c> initialisation: every weight and bias from U(±1/√hidden), drawn in the
    /// state-dict order the tensors have in <paramref name="parameters"/>.
    /// </summary>
    /// <param name="parameters">All of the layer's tensors, contiguous.</param>
    /// <param name="hidden">Hidden features per direction.</param>
    /// <param name="rng">The seeded generator the draws come from.</param>
    public static void InitializeRecurrent(Span<float> parameters, int hidden, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        FillUniform(parameters, 1.0 / Math.Sqrt(hidden), rng);
    }
}
