// The taggers. Both read the vendored corpus's vocabulary (words seen at least twice in training, plus <pad> and
// <unk>) and use PyTorch's state-dict names, so their weights load in nn.Embedding/nn.LSTM/nn.Linear.
//   BrownTagger         the plain recipe: word embeddings, a bidirectional LSTM, a linear layer per position.
//   BrownFeatureTagger  the sample's recipe: the same network, also reading each word's suffix and spelling shape
//                       (three ids per position, one embedding each), which is what tags words the vocabulary lacks.
using ModelGen;

namespace Tagger;

/// <summary>Sizes fixed by the vendored corpus (checked against the data when the sample starts).</summary>
public static class BrownSizes
{
    /// <summary>Vocabulary: training words seen at least twice, plus &lt;pad&gt; and &lt;unk&gt;.</summary>
    public const int Words = Vocabulary.ExpectedBrownWordCount;

    /// <summary>Suffix vocabulary: lower-cased last three characters seen at least twice, plus &lt;pad&gt; and &lt;unk&gt;.</summary>
    public const int Suffixes = 3_230;

    /// <summary>Tags of the recipe's tag rule.</summary>
    public const int Tags = 104;
}

/// <summary>Word ids [T] → 104 tag logits per position (the plain recipe).</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class BrownTagger
{
    [Embedding(BrownSizes.Words, 100, PaddingIdx = Vocabulary.PadId)] public partial Layer Emb { get; }
    [Dropout(0.25)]                                                   public partial Layer EmbDrop { get; }
    [LSTM(128, Bidirectional = true)]                                 public partial Layer Lstm { get; }
    [Dropout(0.25)]                                                   public partial Layer LstmDrop { get; }
    [Dense(BrownSizes.Tags)]                                          public partial Layer Fc { get; }
}

/// <summary>(word, suffix, shape) ids [T, 3] → 104 tag logits per position.</summary>
[Model(Dim.Seq, 3, InputType = typeof(int))]
public partial class BrownFeatureTagger
{
    [Embedding(BrownSizes.Words, 100, PaddingIdx = Vocabulary.PadId)]                                   public partial Layer Emb { get; }
    [Embedding(BrownSizes.Suffixes, 32, PaddingIdx = Vocabulary.PadId, Column = 1, From = Layer.Input)] public partial Layer SuffixEmb { get; }
    [Embedding(WordFeatures.ShapeCount, 8, PaddingIdx = 0, Column = 2, From = Layer.Input)]             public partial Layer ShapeEmb { get; }
    [Concat(nameof(Emb), nameof(SuffixEmb), nameof(ShapeEmb))]                                          public partial Layer Features { get; }
    [Dropout(0.25)]                                                                                     public partial Layer EmbDrop { get; }
    [LSTM(128, Bidirectional = true)]                                                                   public partial Layer Lstm { get; }
    [Dropout(0.25)]                                                                                     public partial Layer LstmDrop { get; }
    [Dense(BrownSizes.Tags)]                                                                            public partial Layer Fc { get; }
}
