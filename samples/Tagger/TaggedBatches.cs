// Sentences as ids, and padded minibatches of them for a sequence tagger. Layout follows PyTorch's padded-batch
// convention (batch_first=True): ids and labels are [B, T] row-major with T = the longest sentence in that batch,
// padding id 0 (<pad>), padding label -100 (CrossEntropyLoss's default ignore_index), plus lengths [B] for
// packing or masking. Sentences are encoded once into flat arrays, so a batch is a few copies into buffers the
// batcher owns: no allocation per batch (the buffers are sized for the longest possible batch up front).
namespace Tagger;

/// <summary>Sentences encoded once as word, tag and feature ids, stored back to back.</summary>
public sealed class EncodedSentences
{
    private readonly int[] _starts;     // [Count + 1] token offset of each sentence; _starts[Count] = TokenCount
    private readonly int[] _words;      // [TokenCount] word ids
    private readonly int[] _tags;       // [TokenCount] tag indices, or IgnoreIndex when encoded without tags
    private readonly int[] _suffixes;   // [TokenCount] suffix ids, or empty without features
    private readonly int[] _shapes;     // [TokenCount] shape ids, or empty without features

    private EncodedSentences(int[] starts, int[] words, int[] tags, int[] suffixes, int[] shapes, bool hasFeatures)
    {
        HasFeatures = hasFeatures;
        _starts = starts;
        _words = words;
        _tags = tags;
        _suffixes = suffixes;
        _shapes = shapes;
        for (int i = 0; i < Count; i++) LongestSentence = Math.Max(LongestSentence, Length(i));
    }

    /// <summary>Number of sentences.</summary>
    public int Count => _starts.Length - 1;

    /// <summary>Total number of tokens.</summary>
    public int TokenCount => _words.Length;

    /// <summary>Length of the longest sentence.</summary>
    public int LongestSentence { get; }

    /// <summary>Whether suffix and shape ids were encoded.</summary>
    public bool HasFeatures { get; }

    /// <summary>Encodes tagged sentences (typically the training or test split).</summary>
    /// <param name="sentences">The sentences.</param>
    /// <param name="words">Word ids (unknown words become <see cref="Vocabulary.UnkId"/>).</param>
    /// <param name="tags">Tag indices.</param>
    /// <param name="features">Suffix and shape ids to encode as well, or <see langword="null"/>.</param>
    /// <exception cref="KeyNotFoundException">A sentence has a tag that is not in <paramref name="tags"/>.</exception>
    public static EncodedSentences Encode(IReadOnlyList<Sentence> sentences, Vocabulary words, TagSet tags, WordFeatures? features = null)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        ArgumentNullException.ThrowIfNull(tags);
        return Encode(sentences.Count, i => sentences[i].Words, i => sentences[i].Tags, words, tags, features);
    }

    /// <summary>Encodes untagged sentences (e.g. tokenized user input); every label is <see cref="TaggedBatches.IgnoreIndex"/>.</summary>
    /// <inheritdoc cref="Encode(IReadOnlyList{Sentence}, Vocabulary, TagSet, WordFeatures?)"/>
    /// <exception cref="ArgumentException">A sentence is empty.</exception>
    public static EncodedSentences Encode(IReadOnlyList<string[]> sentences, Vocabulary words, WordFeatures? features = null)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        for (int i = 0; i < sentences.Count; i++)
            if (sentences[i].Length == 0) throw new ArgumentException($"Sentence {i} is empty.", nameof(sentences));
        return Encode(sentences.Count, i => sentences[i], null, words, null, features);
    }

    private static EncodedSentences Encode(int count, Func<int, string[]> wordsOf, Func<int, string[]>? tagsOf,
                                           Vocabulary vocabulary, TagSet? tagSet, WordFeatures? features)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var starts = new int[count + 1];
        for (int i = 0; i < count; i++) starts[i + 1] = checked(starts[i] + wordsOf(i).Length);
        int tokens = starts[count];
        var words = new int[tokens];
        var tags = new int[tokens];
        var suffixes = features is null ? [] : new int[tokens];
        var shapes = features is null ? [] : new int[tokens];
        for (int i = 0; i < count; i++)
        {
            string[] sentence = wordsOf(i);
            string[]? sentenceTags = tagsOf?.Invoke(i);
            for (int t = 0, k = starts[i]; t < sentence.Length; t++, k++)
            {
                words[k] = vocabulary.IdOf(sentence[t]);
                tags[k] = sentenceTags is null ? TaggedBatches.IgnoreIndex : tagSet!.IndexOf(sentenceTags[t]);
                if (features is null) continue;
                suffixes[k] = features.SuffixId(sentence[t]);
                shapes[k] = WordFeatures.ShapeId(sentence[t]);
            }
        }
        return new EncodedSentences(starts, words, tags, suffixes, shapes, features is not null);
    }

    /// <summary>Number of tokens of sentence <paramref name="index"/>.</summary>
    public int Length(int index) => _starts[index + 1] - _starts[index];

    /// <summary>Offset of sentence <paramref name="index"/>'s first token among all tokens (sentences back to back).</summary>
    public int Start(int index) => _starts[index];

    /// <summary>Word ids of sentence <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> WordIds(int index) => _words.AsSpan(_starts[index], Length(index));

    /// <summary>Tag indices of sentence <paramref name="index"/> (<see cref="TaggedBatches.IgnoreIndex"/> if encoded without tags).</summary>
    public ReadOnlySpan<int> TagIds(int index) => _tags.AsSpan(_starts[index], Length(index));

    /// <summary>Suffix ids of sentence <paramref name="index"/>, or empty without features.</summary>
    public ReadOnlySpan<int> SuffixIds(int index) => HasFeatures ? _suffixes.AsSpan(_starts[index], Length(index)) : default;

    /// <summary>Shape ids of sentence <paramref name="index"/>, or empty without features.</summary>
    public ReadOnlySpan<int> ShapeIds(int index) => HasFeatures ? _shapes.AsSpan(_starts[index], Length(index)) : default;
}

/// <summary>
/// One padded minibatch. Every <c>[Size, SeqLength]</c> span is row-major; row <c>b</c> holds sentence
/// <c>SentenceIndices[b]</c> in its first <c>Lengths[b]</c> positions and padding after. The spans point into the
/// batcher's buffers and are valid until the next <see cref="TaggedBatches.TryNext"/>.
/// </summary>
public readonly ref struct TaggedBatch
{
    internal TaggedBatch(int size, int seqLength, int tokenCount, ReadOnlySpan<int> ids, ReadOnlySpan<int> labels,
                         ReadOnlySpan<int> lengths, ReadOnlySpan<int> suffixes, ReadOnlySpan<int> shapes, ReadOnlySpan<int> sentenceIndices)
    {
        Size = size;
        SeqLength = seqLength;
        TokenCount = tokenCount;
        Ids = ids;
        Labels = labels;
        Lengths = lengths;
        Suffixes = suffixes;
        Shapes = shapes;
        SentenceIndices = sentenceIndices;
    }

    /// <summary>Sentences in this batch (the last batch of an epoch may be smaller).</summary>
    public int Size { get; }

    /// <summary>T: the longest (possibly truncated) sentence in this batch.</summary>
    public int SeqLength { get; }

    /// <summary>Real (non-padding) positions: the sum of <see cref="Lengths"/>.</summary>
    public int TokenCount { get; }

    /// <summary>Word ids <c>[Size, SeqLength]</c>, <see cref="Vocabulary.PadId"/> past each sentence's end.</summary>
    public ReadOnlySpan<int> Ids { get; }

    /// <summary>Tag indices <c>[Size, SeqLength]</c>, <see cref="TaggedBatches.IgnoreIndex"/> (-100) past each sentence's end.</summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>Sentence lengths after truncation <c>[Size]</c>, each in [1, <see cref="SeqLength"/>].</summary>
    public ReadOnlySpan<int> Lengths { get; }

    /// <summary>Suffix ids <c>[Size, SeqLength]</c>, 0 at padding; empty if the sentences were encoded without features.</summary>
    public ReadOnlySpan<int> Suffixes { get; }

    /// <summary>Shape ids <c>[Size, SeqLength]</c>, 0 at padding; empty if the sentences were encoded without features.</summary>
    public ReadOnlySpan<int> Shapes { get; }

    /// <summary>Which sentences of the <see cref="EncodedSentences"/> the rows hold <c>[Size]</c>.</summary>
    public ReadOnlySpan<int> SentenceIndices { get; }
}

/// <summary>
/// Iterates <see cref="EncodedSentences"/> in padded minibatches of <c>batchSize</c> sentences, optionally in a seeded
/// random order per epoch (the order of epoch e depends only on (seed, e), as in ModelGen's <c>BatchLoader</c>).
/// Sentences longer than <c>maxLength</c> are cut to their first <c>maxLength</c> tokens. Allocates nothing per batch.
/// Not thread-safe.
/// </summary>
/// <example>
/// <code>
/// var batches = new TaggedBatches(train, batchSize: 32, shuffle: true, seed: 1);
/// for (int epoch = 0; epoch &lt; 5; epoch++)
/// {
///     batches.StartEpoch(epoch);
///     while (batches.TryNext(out var batch)) { /* batch.Ids, batch.Labels: [batch.Size, batch.SeqLength] */ }
/// }
/// </code>
/// </example>
public sealed class TaggedBatches
{
    /// <summary>Label of padding positions: PyTorch's <c>CrossEntropyLoss</c> default <c>ignore_index</c>.</summary>
    public const int IgnoreIndex = -100;

    /// <summary>The default truncation length for training sentences.</summary>
    public const int DefaultMaxLength = 100;

    private readonly EncodedSentences _data;
    private readonly bool _shuffle;
    private readonly bool _dropLast;
    private readonly ulong _seed;
    private readonly int[] _order;             // [Count] sentence indices in this epoch's order
    private readonly int[] _ids;               // [BatchSize, maxT] prefix [Size, SeqLength] in use
    private readonly int[] _labels;            // [BatchSize, maxT]
    private readonly int[] _suffixes;          // [BatchSize, maxT], or empty without features
    private readonly int[] _shapes;            // [BatchSize, maxT], or empty without features
    private readonly int[] _lengths;           // [BatchSize]
    private int _position;

    /// <summary>Creates a batcher positioned at the start of epoch 0.</summary>
    /// <param name="data">The encoded sentences.</param>
    /// <param name="batchSize">Sentences per batch (positive).</param>
    /// <param name="shuffle">Whether each epoch visits the sentences in a seeded random order (otherwise in corpus order).</param>
    /// <param name="seed">Seed of the order.</param>
    /// <param name="maxLength">Tokens kept per sentence; pass <see cref="int.MaxValue"/> to keep whole sentences (evaluation).</param>
    /// <param name="dropLast">Skip the final batch when it would be smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> or <paramref name="maxLength"/> is not positive.</exception>
    public TaggedBatches(EncodedSentences data, int batchSize, bool shuffle, ulong seed = 1, int maxLength = DefaultMaxLength, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        _data = data;
        BatchSize = batchSize;
        MaxLength = maxLength;
        _shuffle = shuffle;
        _seed = seed;
        _dropLast = dropLast;
        // Sized once for the widest batch this data can produce, so TryNext never grows them.
        int rows = Math.Min(batchSize, Math.Max(1, data.Count));
        int width = Math.Max(1, Math.Min(maxLength, data.LongestSentence));
        int capacity = checked(rows * width);
        _order = new int[data.Count];
        _ids = new int[capacity];
        _labels = new int[capacity];
        _suffixes = data.HasFeatures ? new int[capacity] : [];
        _shapes = data.HasFeatures ? new int[capacity] : [];
        _lengths = new int[rows];
        StartEpoch(0);
    }

    /// <summary>Sentences per full batch.</summary>
    public int BatchSize { get; }

    /// <summary>Tokens kept per sentence.</summary>
    public int MaxLength { get; }

    /// <summary>The epoch most recently started.</summary>
    public int Epoch { get; private set; }

    /// <summary>Batches <see cref="TryNext"/> yields per epoch.</summary>
    public int BatchesPerEpoch => _dropLast ? _data.Count / BatchSize : (_data.Count + BatchSize - 1) / BatchSize;

    /// <summary>
    /// Rewinds to the start of <paramref name="epoch"/>. With shuffling, the order is a Fisher–Yates permutation drawn
    /// from <c>Rng.Derive(seed, epoch)</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public void StartEpoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        Epoch = epoch;
        _position = 0;
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (_shuffle) ModelGen.Rng.Derive(_seed, (ulong)epoch).Shuffle(_order.AsSpan());
    }

    /// <summary>
    /// Fills the next batch of this epoch. Returns <see langword="false"/> when the epoch is exhausted (call
    /// <see cref="StartEpoch"/> for the next).
    /// </summary>
    public bool TryNext(out TaggedBatch batch)
    {
        int remaining = _order.Length - _position;
        if (remaining <= 0 || (_dropLast && remaining < BatchSize))
        {
            batch = default;
            return false;
        }
        int size = Math.Min(BatchSize, remaining);
        ReadOnlySpan<int> rows = _order.AsSpan(_position, size);
        int seq = 0, tokens = 0;
        for (int b = 0; b < size; b++)
        {
            _lengths[b] = Math.Min(_data.Length(rows[b]), MaxLength);
            seq = Math.Max(seq, _lengths[b]);
            tokens += _lengths[b];
        }
        bool features = _data.HasFeatures;
        for (int b = 0; b < size; b++)
        {
            int sentence = rows[b], length = _lengths[b], row = b * seq;
            Fill(_ids.AsSpan(row, seq), _data.WordIds(sentence)[..length], Vocabulary.PadId);
            Fill(_labels.AsSpan(row, seq), _data.TagIds(sentence)[..length], IgnoreIndex);
            if (!features) continue;
            Fill(_suffixes.AsSpan(row, seq), _data.SuffixIds(sentence)[..length], Vocabulary.PadId);
            Fill(_shapes.AsSpan(row, seq), _data.ShapeIds(sentence)[..length], 0);
        }
        _position += size;
        int used = size * seq;
        batch = new TaggedBatch(size, seq, tokens, _ids.AsSpan(0, used), _labels.AsSpan(0, used), _lengths.AsSpan(0, size),
                                features ? _suffixes.AsSpan(0, used) : default, features ? _shapes.AsSpan(0, used) : default, rows);
        return true;
    }

    // One padded row: the sentence's values, then the padding value up to T.
    private static void Fill(Span<int> row, ReadOnlySpan<int> values, int padding)
    {
        values.CopyTo(row);
        row[values.Length..].Fill(padding);
    }
}
