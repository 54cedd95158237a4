// Hand-written next-token models for the text-generation tests: causal by construction (row t of a window is a
// function of the window's ids 0..t only), so they exercise the evaluation's window scheme and the sampler without
// the generator. They record every Forward call.
using ModelGen;
using TextGen;

namespace ModelGen.Tests.TextGeneration;

/// <summary>A causal token model whose logits at position t are <see cref="Logits"/> of the row's prefix [0, t].</summary>
internal abstract class FakeTokenModel(int vocabulary) : ISequenceModel<int>
{
    private static readonly int[] s_inputShape = [-1];
    private readonly int[] _outputShape = [-1, vocabulary];

    /// <summary>Every Forward call: (batch, seq, a copy of the ids).</summary>
    public List<(int Batch, int Seq, int[] Ids)> Calls { get; } = new();

    /// <summary>Whether <see cref="Calls"/> records (off for allocation tests).</summary>
    public bool Record { get; set; } = true;

    public int Vocabulary { get; } = vocabulary;

    /// <summary>Writes the logits that follow <paramref name="prefix"/> (the ids of one row up to and including the current position).</summary>
    public abstract void Logits(ReadOnlySpan<int> prefix, Span<float> logits);

    public void Forward(ReadOnlySpan<int> input, Span<float> output, int batch, int seq, ReadOnlySpan<int> lengths = default)
    {
        if (input.Length != batch * seq || output.Length != batch * seq * Vocabulary)
            throw new ArgumentException($"input {input.Length} / output {output.Length} do not match batch {batch} × seq {seq} × V {Vocabulary}.");
        if (Record) Calls.Add((batch, seq, input.ToArray()));
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
                Logits(input.Slice(b * seq, t + 1), output.Slice((b * seq + t) * Vocabulary, Vocabulary));
    }

    public ReadOnlySpan<int> InputShapeDims => s_inputShape;
    public ReadOnlySpan<int> OutputShapeDims => _outputShape;
    public int InputLength => 1;
    public int OutputLength => Vocabulary;
    public IReadOnlyList<Layer> Layers => [];
    public IReadOnlyList<ParameterInfo> ParameterInfos => [];
    public Span<float> Parameters => Span<float>.Empty;
    public IReadOnlyList<BufferInfo> BufferInfos => [];
    public Span<float> Buffers => Span<float>.Empty;
}

/// <summary>Equal logits everywhere: every character costs log2(V) bits.</summary>
internal sealed class UniformModel(int vocabulary) : FakeTokenModel(vocabulary)
{
    public override void Logits(ReadOnlySpan<int> prefix, Span<float> logits) => logits.Fill(0.25f);
}

/// <summary>Knows the data's rule next = (7·last + 3) mod V and puts a logit of 60 on it.</summary>
internal sealed class RuleModel(int vocabulary) : FakeTokenModel(vocabulary)
{
    public static int Next(int id, int vocabulary) => (7 * id + 3) % vocabulary;

    public override void Logits(ReadOnlySpan<int> prefix, Span<float> logits)
    {
        logits.Clear();
        logits[Next(prefix[^1], Vocabulary)] = 60f;
    }
}

/// <summary>Logits that depend on the whole prefix (its length and every id), so a wrong window shows in the score.</summary>
internal sealed class PrefixModel(int vocabulary) : FakeTokenModel(vocabulary)
{
    public override void Logits(ReadOnlySpan<int> prefix, Span<float> logits)
    {
        int hash = prefix.Length;
        foreach (int id in prefix) hash = hash * 31 + id;
        for (int k = 0; k < logits.Length; k++) logits[k] = 3f * MathF.Sin(0.37f * k + 0.011f * (hash % 9973));
    }
}

/// <summary>A fixed distribution, whatever the context.</summary>
internal sealed class FixedLogitsModel(float[] logits) : FakeTokenModel(logits.Length)
{
    public override void Logits(ReadOnlySpan<int> prefix, Span<float> output) => logits.CopyTo(output);
}

/// <summary>An incremental model that records Reset/Append and answers like <see cref="PrefixModel"/> over what it has read.</summary>
internal sealed class RecordingIncrementalModel(int vocabulary, int capacity) : IIncrementalTokenModel
{
    private readonly PrefixModel _reference = new(vocabulary) { Record = false };
    private readonly List<int> _read = new();

    public int Capacity { get; } = capacity;
    public int VocabularySize { get; } = vocabulary;
    public int Resets { get; private set; }
    public List<int[]> Appends { get; } = new();

    public void Reset()
    {
        Resets++;
        _read.Clear();
    }

    public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Appends.Add(tokens.ToArray());
        foreach (int token in tokens) _read.Add(token);
        Assert.True(_read.Count <= Capacity, $"read {_read.Count} tokens, capacity {Capacity}");
        _reference.Logits(_read.ToArray(), logits);
    }
}
