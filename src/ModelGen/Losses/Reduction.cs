// PyTorch's `reduction` argument as an enum: how a loss turns its per-row or per-element terms into the value it returns.
namespace ModelGen;

/// <summary>How a <see cref="Loss"/> reduces its terms, PyTorch's <c>reduction</c> argument.</summary>
public enum Reduction
{
    /// <summary>
    /// <c>'none'</c>: no reduction. The terms are written into the <c>losses</c> span of
    /// <see cref="Loss.Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/>
    /// and the gradient is that of their sum.
    /// </summary>
    None,

    /// <summary><c>'mean'</c> (PyTorch's default): the sum of the terms divided by their count, or by the summed class weights of the counted rows for weighted class-index targets.</summary>
    Mean,

    /// <summary><c>'sum'</c>: the sum of the terms.</summary>
    Sum,

    /// <summary><c>'batchmean'</c>, accepted by <see cref="KLDivLoss"/> only: the sum of the terms divided by the batch size (the true KL divergence per example).</summary>
    BatchMean,
}
