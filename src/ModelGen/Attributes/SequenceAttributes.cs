// Sequence layers: token embeddings, recurrent layers and layer normalisation, with PyTorch's semantics,
// defaults and state-dict names (emb.weight; lstm.weight_ih_l0 ...; norm.weight/bias).
namespace ModelGen;

/// <summary>
/// A lookup table of token vectors (PyTorch <c>nn.Embedding</c>): [T] ids → [T, dim], <c>weight</c> [vocab, dim]
/// initialised from N(0, 1). The first layer of a token model (the model's input is then <c>int</c> ids).
/// </summary>
public sealed class EmbeddingAttribute : LayerAttribute
{
    /// <summary>Declares an embedding of <paramref name="vocab"/> tokens into <paramref name="dim"/> features.</summary>
    /// <param name="vocab">Number of token ids, 0 to vocab − 1 (PyTorch <c>num_embeddings</c>).</param>
    /// <param name="dim">Features per token (PyTorch <c>embedding_dim</c>).</param>
    public EmbeddingAttribute(int vocab, int dim)
    {
        Vocab = vocab;
        Dim = dim;
    }

    /// <summary>Number of token ids: valid ids are [0, vocab).</summary>
    public int Vocab { get; }

    /// <summary>Features per token.</summary>
    public int Dim { get; }

    /// <summary>An id whose row is initialised to zero and receives no gradient (PyTorch <c>padding_idx</c>); -1: none.</summary>
    public int PaddingIdx { get; set; } = -1;

    /// <summary>
    /// Which id of each position this table reads, when the input holds several per position
    /// (<c>[Model(Dim.Seq, 3, InputType = typeof(int))]</c>: e.g. word, suffix and shape ids); default 0.
    /// </summary>
    public int Column { get; set; }
}

/// <summary>
/// Long short-term memory (PyTorch <c>nn.LSTM</c>, batch-first): [T, in] → [T, D·hidden], or [D·hidden] (the last real
/// step of each direction, as <c>h_n</c>) when <see cref="ReturnSequences"/> is false. Gates i, f, g, o; tensors
/// <c>weight_ih_l{k}</c> [4H, in], <c>weight_hh_l{k}</c> [4H, H], <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c> (+ <c>_reverse</c>).
/// </summary>
public sealed class LSTMAttribute : LayerAttribute
{
    /// <summary>Declares an LSTM with <paramref name="hidden"/> features per direction.</summary>
    /// <param name="hidden">Hidden features per direction (PyTorch <c>hidden_size</c>); a bidirectional layer outputs 2 × hidden.</param>
    public LSTMAttribute(int hidden) => Hidden = hidden;

    /// <summary>Hidden features per direction.</summary>
    public int Hidden { get; }

    /// <summary>Stacked layers (default 1).</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Runs a second, reversed direction and concatenates its features (default false).</summary>
    public bool Bidirectional { get; set; }

    /// <summary>Outputs every step [T, D·H] (default) or only the final state [D·H].</summary>
    public bool ReturnSequences { get; set; } = true;

    /// <summary>Dropout on the outputs of every layer but the last, in training (PyTorch's <c>dropout</c>).</summary>
    public double Dropout { get; set; }
}

/// <summary>
/// Gated recurrent unit (PyTorch <c>nn.GRU</c>, batch-first), gates r, z, n with
/// <c>n = tanh(W_in x + b_in + r·(W_hn h + b_hn))</c>; shapes and names as <see cref="LSTMAttribute"/> with 3H rows.
/// </summary>
public sealed class GRUAttribute : LayerAttribute
{
    /// <summary>Declares a GRU with <paramref name="hidden"/> features per direction.</summary>
    /// <param name="hidden">Hidden features per direction (PyTorch <c>hidden_size</c>); a bidirectional layer outputs 2 × hidden.</param>
    public GRUAttribute(int hidden) => Hidden = hidden;

    /// <summary>Hidden features per direction.</summary>
    public int Hidden { get; }

    /// <summary>Stacked layers (default 1).</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Runs a second, reversed direction and concatenates its features (default false).</summary>
    public bool Bidirectional { get; set; }

    /// <summary>Outputs every step [T, D·H] (default) or only the final state [D·H].</summary>
    public bool ReturnSequences { get; set; } = true;

    /// <summary>Dropout on the outputs of every layer but the last, in training (PyTorch's <c>dropout</c>).</summary>
    public double Dropout { get; set; }
}

/// <summary>
/// Layer normalisation over the last axis (PyTorch <c>nn.LayerNorm(lastDim)</c>):
/// <c>y = (x − mean)/√(var + eps)·weight + bias</c> with the biased variance; works on flat and sequence tensors.
/// </summary>
public sealed class LayerNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance (default 1e-5).</summary>
    public double Eps { get; set; } = 1e-5;

    /// <summary>Learn <c>weight</c> (ones) and <c>bias</c> (zeros) (default true).</summary>
    public bool Affine { get; set; } = true;
}

/// <summary>
/// Adds a position vector to every position of a sequence [T, d] → [T, d]: learned (<c>weight</c> [maxLength, d],
/// initialised from N(0, 1) like <c>nn.Embedding</c>: GPT-style) or, with <see cref="Sinusoidal"/>, the fixed
/// sine/cosine encoding of "Attention Is All You Need" (no parameters). T may not exceed <see cref="MaxLength"/>.
/// </summary>
public sealed class PositionEmbeddingAttribute : LayerAttribute
{
    /// <summary>Declares position embeddings for up to <paramref name="maxLength"/> positions.</summary>
    /// <param name="maxLength">Positions the table holds; the model's sequence length may not exceed it.</param>
    public PositionEmbeddingAttribute(int maxLength) => MaxLength = maxLength;

    /// <summary>The number of positions the table holds.</summary>
    public int MaxLength { get; }

    /// <summary>Use the fixed sinusoidal encoding instead of a learned table (default false).</summary>
    public bool Sinusoidal { get; set; }
}

/// <summary>
/// A stack of Transformer encoder layers (PyTorch <c>nn.TransformerEncoder</c> of <c>nn.TransformerEncoderLayer(d,
/// Heads, FeedForward, Dropout, Activation, batch_first=True, norm_first=NormFirst)</c>): [T, d] → [T, d], self-attention
/// with key padding from the call's lengths (and a causal mask with <see cref="Causal"/>), then a feed-forward block,
/// each with a residual connection and LayerNorm. Tensors per layer i: <c>layers.{i}.self_attn.in_proj_weight</c>
/// [3d, d], <c>...in_proj_bias</c>, <c>...out_proj.weight</c>/<c>bias</c>, <c>layers.{i}.linear1.*</c>,
/// <c>linear2.*</c>, <c>norm1.*</c>, <c>norm2.*</c>. The stack runs as one loop over the layers' parameters.
/// With <see cref="Rotary"/>, every layer's attention rotates its queries and keys by their positions (RoPE), so no
/// <c>[PositionEmbedding]</c> is needed.
/// </summary>
public sealed class TransformerEncoderAttribute : LayerAttribute
{
    /// <summary>Attention heads; must divide the model width d (default 8, as PyTorch's examples).</summary>
    public int Heads { get; set; } = 8;

    /// <summary>Width of the feed-forward block (PyTorch's <c>dim_feedforward</c>, default 2048).</summary>
    public int FeedForward { get; set; } = 2048;

    /// <summary>Identical layers stacked (default 1).</summary>
    public int Layers { get; set; } = 1;

    /// <summary>LayerNorm before each block (pre-LN, GPT-style) instead of after the residual add (default false, as PyTorch).</summary>
    public bool NormFirst { get; set; }

    /// <summary>Each position attends only to itself and earlier positions (a language model's mask).</summary>
    public bool Causal { get; set; }

    /// <summary>
    /// Dropout on the attention and feed-forward outputs and inside the feed-forward block, in training (default 0.1, PyTorch's
    /// <c>dropout</c>); also the attention-weight dropout unless <see cref="AttentionDropout"/> says otherwise, as PyTorch passes
    /// <c>dropout</c> to the layer's <c>self_attn</c>.
    /// </summary>
    public double Dropout { get; set; } = 0.1;

    /// <summary>
    /// Dropout on the attention weights (PyTorch's <c>nn.MultiheadAttention(dropout)</c> inside the layer): in training each
    /// softmax weight is multiplied by <c>(u ≥ p)/(1 − p)</c>, u uniform in [0, 1) per (example, head, query, key), before the
    /// product with the values; in [0, 1). Any negative value, like the default -1, means "the same as <see cref="Dropout"/>",
    /// which is PyTorch's <c>nn.TransformerEncoderLayer(dropout=p)</c>; set 0 to drop only the block outputs (GPT-2-style recipes
    /// that leave the weights alone).
    /// </summary>
    public double AttentionDropout { get; set; } = -1;

    /// <summary>
    /// Dropout inside the feed-forward block only (after the activation: <c>linear2(Drop(act(linear1(x))))</c>), in [0, 1); any
    /// negative value, like the default -1, means "the same as <see cref="Dropout"/>", which is PyTorch's
    /// <c>nn.TransformerEncoderLayer</c>. Set it to 0 for GPT-style blocks that drop only the attention and feed-forward outputs.
    /// </summary>
    public double FeedForwardDropout { get; set; } = -1;

    /// <summary>The feed-forward activation: <see cref="Activation.ReLU"/> (default) or <see cref="Activation.GELU"/>.</summary>
    public Activation Activation { get; set; } = Activation.ReLU;

    /// <summary>
    /// Rotary position embeddings (RoPE) in every layer's attention (default false), as torchtune's
    /// <c>RotaryPositionalEmbeddings(head_dim, MaxLength, RotaryBase)</c> applied to q and k after the in-projection: each
    /// head's pairs are rotated by the position p, <c>q'[2i] = q[2i]·cos(p·θ_i) − q[2i+1]·sin(p·θ_i)</c>,
    /// <c>q'[2i+1] = q[2i+1]·cos(p·θ_i) + q[2i]·sin(p·θ_i)</c>, <c>θ_i = RotaryBase^(−2i/head_dim)</c> (k likewise), so
    /// attention scores depend on relative positions. Needs an even head width (MG0115) and the model's <c>MaxLength</c>,
    /// which sizes the fixed cos/sin table (MG0110); adds no parameters, and the table is recomputed, never saved.
    /// </summary>
    public bool Rotary { get; set; }

    /// <summary>The base of the rotary frequencies θ_i (torchtune's <c>base</c>, default 10000); must be greater than 1.</summary>
    public double RotaryBase { get; set; } = 10000;
}

/// <summary>
/// A stack of Transformer decoder layers with cross-attention, as PyTorch <c>nn.TransformerDecoder</c> over
/// <c>nn.TransformerDecoderLayer(d, Heads, FeedForward, Dropout, Activation, batch_first=True, norm_first=NormFirst)</c>:
/// [T, d] → [T, d], keys and values of the cross-attention from <see cref="Memory"/>, another member's [T, dm] output (an
/// encoder's) with the input's T and lengths. Per layer, with x the input and m the memory: pre-norm
/// <c>x = x + SA(norm1(x))</c>, <c>x = x + MHA(norm2(x), m)</c>, <c>x = x + FF(norm3(x))</c>; post-norm (PyTorch's default)
/// <c>x = norm1(x + SA(x))</c>, <c>x = norm2(x + MHA(x, m))</c>, <c>x = norm3(x + FF(x))</c>, where
/// <c>FF(x) = linear2(Dropout(act(linear1(x))))</c>. Tensors per layer <c>layers.{i}.</c>: <c>self_attn.*</c> and
/// <c>multihead_attn.*</c> (as <see cref="MultiHeadAttentionAttribute"/>; <c>q_proj_weight</c>, <c>k_proj_weight</c>,
/// <c>v_proj_weight</c> when dm ≠ d), <c>linear1</c>, <c>linear2</c>, <c>norm1</c>, <c>norm2</c>, <c>norm3</c>. Keys at padded
/// positions get no attention in either block; self-attention is causal by default, cross-attention never. A two-input model
/// whose causal decoder reads the second input decodes incrementally (<c>PrepareSource</c>, then <c>ForwardStep</c>); a decoder
/// whose memory is over T has no incremental step (its cross-attention would see later memory positions).
/// </summary>
public sealed class TransformerDecoderAttribute : LayerAttribute
{
    /// <summary>Attention heads of both attention blocks; must divide the model width d (default 8).</summary>
    public int Heads { get; set; } = 8;

    /// <summary>Width of the feed-forward block (PyTorch's <c>dim_feedforward</c>, default 2048).</summary>
    public int FeedForward { get; set; } = 2048;

    /// <summary>Identical layers stacked (default 1).</summary>
    public int Layers { get; set; } = 1;

    /// <summary>LayerNorm before each block (pre-LN) instead of after the residual add (default false, as PyTorch).</summary>
    public bool NormFirst { get; set; }

    /// <summary>Self-attention sees only the same and earlier positions (default true: PyTorch's <c>tgt_is_causal</c> with the square subsequent mask).</summary>
    public bool Causal { get; set; } = true;

    /// <summary>
    /// Dropout on the outputs of both attention blocks and the feed-forward block and inside the latter, in training (default 0.1);
    /// also the attention-weight dropout unless <see cref="AttentionDropout"/> says otherwise (as PyTorch's <c>dropout</c>).
    /// </summary>
    public double Dropout { get; set; } = 0.1;

    /// <summary>
    /// Dropout on the attention weights of the self- and cross-attention blocks (PyTorch's <c>self_attn</c> and <c>multihead_attn</c>
    /// dropout): in training each softmax weight is multiplied by <c>(u ≥ p)/(1 − p)</c>, u uniform in [0, 1) per (example, head,
    /// query, key); in [0, 1). Any negative value, like the default -1, means "the same as <see cref="Dropout"/>", as PyTorch.
    /// </summary>
    public double AttentionDropout { get; set; } = -1;

    /// <summary>The feed-forward activation: <see cref="Activation.ReLU"/> (default) or <see cref="Activation.GELU"/>.</summary>
    public Activation Activation { get; set; } = Activation.ReLU;

    /// <summary>The member whose [T, dm] output the cross-attention reads keys and values from (use <c>nameof</c>); it must come earlier in the model. Required.</summary>
    public string Memory { get; set; } = "";
}

/// <summary>
/// One multi-head attention layer (PyTorch <c>nn.MultiheadAttention(d, heads, bias=UseBias, kdim, vdim, batch_first=True)</c>):
/// [T, d] → [T, d]. Self-attention by default (queries, keys and values from the input); with <see cref="Memory"/>,
/// cross-attention (queries from the input, keys and values from another member's [T, dm] output of the same model).
/// Keys at padded positions (from the call's lengths) get no attention; <see cref="Causal"/> adds the causal mask.
/// Tensors: <c>in_proj_weight</c> [3d, d] (or, when dm ≠ d, <c>q_proj_weight</c> [d, d], <c>k_proj_weight</c> and
/// <c>v_proj_weight</c> [d, dm]), <c>in_proj_bias</c> [3d], <c>out_proj.weight</c> [d, d], <c>out_proj.bias</c> [d].
/// <see cref="Dropout"/> is PyTorch's attention-weight dropout (training only). A memory from a second model input with its own length
/// (an encoder-decoder pair) is not supported: the memory has the input's T and lengths.
/// </summary>
public sealed class MultiHeadAttentionAttribute : LayerAttribute
{
    /// <summary>Declares attention with <paramref name="heads"/> heads; they must divide the width d.</summary>
    /// <param name="heads">Attention heads (PyTorch <c>num_heads</c>); must divide the width d.</param>
    public MultiHeadAttentionAttribute(int heads) => Heads = heads;

    /// <summary>Attention heads (PyTorch <c>num_heads</c>).</summary>
    public int Heads { get; }

    /// <summary>Each position attends only to itself and earlier positions (PyTorch <c>is_causal=True</c>).</summary>
    public bool Causal { get; set; }

    /// <summary>Biases on the input and output projections (PyTorch <c>bias</c>, default true).</summary>
    public bool UseBias { get; set; } = true;

    /// <summary>
    /// Dropout on the attention weights (PyTorch <c>dropout</c>, default 0): in training each softmax weight is multiplied by
    /// <c>(u ≥ p)/(1 − p)</c>, u uniform in [0, 1) per (example, head, query, key), before the product with the values; the
    /// weights are never stored, the mask is regenerated from a per-step seed in backward. In [0, 1); inference and
    /// incremental decoding never drop.
    /// </summary>
    public double Dropout { get; set; }

    /// <summary>The member whose output gives the keys and values (cross-attention; <c>nameof(Member)</c>); empty for self-attention.</summary>
    public string Memory { get; set; } = "";

    /// <summary>
    /// Rotary position embeddings (RoPE, default false), as torchtune's <c>RotaryPositionalEmbeddings(head_dim, MaxLength, RotaryBase)</c>
    /// applied after the in-projection: each head's pairs of q at position p are rotated by p·θ_i,
    /// <c>q'[2i] = q[2i]·cos(p·θ_i) − q[2i+1]·sin(p·θ_i)</c>, <c>q'[2i+1] = q[2i+1]·cos(p·θ_i) + q[2i]·sin(p·θ_i)</c>,
    /// <c>θ_i = RotaryBase^(−2i/head_dim)</c>, and k likewise by its own position (the memory position for cross-attention), so
    /// scores depend on relative positions. Needs an even head width (MG0115) and the model's <c>MaxLength</c>, which sizes the
    /// fixed cos/sin table (MG0110); adds no parameters, and the table is recomputed, never saved.
    /// </summary>
    public bool Rotary { get; set; }

    /// <summary>The base of the rotary frequencies θ_i (torchtune's <c>base</c>, default 10000); must be greater than 1.</summary>
    public double RotaryBase { get; set; } = 10000;
}

/// <summary>
/// Reorders the axes of each example (PyTorch <c>x.permute(0, dims[0] + 1, dims[1] + 1, …)</c>, made contiguous): the
/// output's axis k is the input's axis <c>dims[k]</c>, counted from 0 and excluding the batch. <c>[Permute(1, 0)]</c>
/// turns a sequence <c>[T, F]</c> into <c>[F, T]</c>, the <c>[channels, length]</c> layout <see cref="Conv1DAttribute"/> reads,
/// and back. Keras' <c>Permute</c> counts the same axes from 1: Keras <c>Permute((2, 1))</c> is <c>[Permute(1, 0)]</c>.
/// No parameters; the output is a new tensor (data moves).
/// </summary>
/// <remarks>
/// There is no separate <c>Transpose</c> attribute: on the per-example tensors of a model (rank 2 or 3) a swap of two axes is
/// always a short <c>Permute</c>, and one spelling keeps diagnostics and docs in one place.
/// </remarks>
public sealed class PermuteAttribute : LayerAttribute
{
    /// <summary>Declares the permutation: <paramref name="dims"/> lists each input axis (0-based, batch excluded) once, in output order.</summary>
    /// <param name="dims">Each input axis (0-based, batch excluded) once, in output order: <c>1, 0</c> swaps [T, F] into [F, T].</param>
    public PermuteAttribute(params int[] dims) => Dims = dims;

    /// <summary>The output's axis k is the input's axis <c>Dims[k]</c>.</summary>
    public int[] Dims { get; }
}
