// The inference-time dense + residual-add fusion in generated models: Forward (which calls DenseKernels.ForwardResidual
// where a Dense without activation feeds only a two-operand Add) against ForwardTrain (which never fuses), on the dot
// path (small batches) and the packed path (over 96 rows), with the add writing a fresh buffer (x + f(x), whose skip
// is the dense layer's own input) and running in place over its skip operand.
namespace ModelGen.Tests.Models;

/// <summary>Two residual adds: <c>Sum1 = H1 + F1(H1)</c> (cannot overwrite H1, which F1 reads) and <c>Sum2 = G(H2) + Sum1</c> (in place over Sum1).</summary>
[Model(20)]
public partial class ResidualMlp
{
    [Dense(24, Activation = Activation.ReLU)] public partial Layer H1 { get; }
    [Dense(24)] public partial Layer F1 { get; }
    [Add(nameof(H1), nameof(F1))] public partial Layer Sum1 { get; }
    [Dense(17, Activation = Activation.Tanh)] public partial Layer H2 { get; }
    [Dense(24)] public partial Layer G { get; }
    [Add(nameof(G), nameof(Sum1))] public partial Layer Sum2 { get; }
    [Dense(5)] public partial Layer Out { get; }
}

public class DenseResidualFusionTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(130)]   // the packed GEMM path
    public void Forward_ResidualMlp_MatchesUnfusedTrainingForward(int batch)
        => ModelTestData.AssertInferenceMatchesTraining(new ResidualMlp(5), batch, seed: 6);
}
