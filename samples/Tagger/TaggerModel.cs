// The tagger: the plain recipe (a bidirectional LSTM over word embeddings, a linear layer to the tags per
// position), with the vocabulary size fixed by the vendored corpus (words seen at least twice in training, plus
// <pad> and <unk>) and PyTorch's state-dict names, so its weights load in nn.Embedding/nn.LSTM/nn.Linear.
using ModelGen;

namespace Tagger;

/// <summary>Word ids [T] → 104 tag logits per position.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class BrownTagger
{
    /// <summary>Vocabulary size of the recipe (checked against the data when the sample starts).</summary>
    public const int Words = Vocabulary.ExpectedBrownWordCount;

    /// <summary>Tags of the recipe's tag rule.</summary>
    public const int Tags = 104;

    [Embedding(Words, 100, PaddingIdx = Vocabulary.PadId)] public partial Layer Emb { get; }
    [Dropout(0.25)]                                        public partial Layer EmbDrop { get; }
    [LSTM(128, Bidirectional = true)]                      public partial Layer Lstm { get; }
    [Dropout(0.25)]                                        public partial Layer LstmDrop { get; }
    [Dense(Tags)]                                          public partial Layer Fc { get; }
}
