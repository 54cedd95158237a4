namespace ModelGen.Tests.Models;

/// <summary>
/// Shape-generic blocks at run time: a model using one block class at two input shapes computes bit for bit what the
/// same model with one shaped block class per use computes (same parameter layout, names and values), its backward
/// matches finite differences, and the block properties are views of that use (shapes, names, buffer).
/// </summary>
public class GenericBlockTests
{
    [Fact]
    public void Conv_TwoShapes_SameLayoutAsShapedBlocks()
    {
        var generic = new GenericBodyNet(3);
        var shaped = new ShapedBodyNet(3);
        Assert.Equal(Describe(shaped.ParameterInfos), Describe(generic.ParameterInfos));
        Assert.Equal(ShapedBodyNet.ParameterCount, GenericBodyNet.ParameterCount);
        // The same seed draws the same weights: initialisation runs over the same inlined nodes.
        Assert.Equal(shaped.Parameters.ToArray(), generic.Parameters.ToArray());
        // Only the block kinds differ in the summary (and so the column widths).
        static string Cells(string summary) => string.Join("\n", summary.Split('\n').Select(l => string.Join(" ", l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
        Assert.Equal(Cells(ShapedBodyNet.Summary().Replace("ShapedBodyNet", "GenericBodyNet").Replace("ShapedBody365", "GenericBody").Replace("ShapedBody433", "GenericBody")),
            Cells(GenericBodyNet.Summary()));
    }

    [Fact]
    public void Conv_TwoShapes_ForwardAndBackwardBitIdenticalToShapedBlocks()
    {
        var generic = new GenericBodyNet(1);
        var shaped = new ShapedBodyNet(2);
        var weights = ModelTestData.RandomArray(GenericBodyNet.ParameterCount, 5, 0.5f);
        weights.CopyTo(generic.Parameters);
        weights.CopyTo(shaped.Parameters);
        foreach (var p in generic.BufferInfos.Where(p => p.Name.EndsWith("running_var")))
        {
            generic.Buffers.Slice(p.Offset, p.Length).Fill(1.5f);
            shaped.Buffers.Slice(p.Offset, p.Length).Fill(1.5f);
        }
        foreach (int batch in new[] { 1, 3 })
        {
            var input = ModelTestData.RandomArray(batch * GenericBodyNet.InputSize, 6 + batch);
            var a = new float[batch * GenericBodyNet.OutputSize];
            var b = new float[a.Length];
            generic.Forward(input, a, batch);
            shaped.Forward(input, b, batch);
            Assert.Equal(b, a);

            generic.ForwardTrain(input, a, batch);
            shaped.ForwardTrain(input, b, batch);
            Assert.Equal(b, a);
            var dOut = ModelTestData.RandomArray(a.Length, 9);
            var dA = new float[input.Length];
            var dB = new float[input.Length];
            generic.Gradients.Clear();
            shaped.Gradients.Clear();
            generic.Backward(dOut, dA);
            shaped.Backward(dOut, dB);
            Assert.Equal(dB, dA);
            Assert.Equal(shaped.Gradients.ToArray(), generic.Gradients.ToArray());
        }
        Assert.Equal(shaped.Parameters.ToArray(), generic.Parameters.ToArray()); // running statistics updated alike
    }

    [Fact]
    public void Conv_BlockViews_TakeShapesAndNamesFromTheirUse()
    {
        var model = new GenericBodyNet(4);
        Assert.Equal(new[] { 3, 6, 5 }, model.Block1.InputShape.ToArray());
        Assert.Equal(new[] { 4, 6, 5 }, model.Block1.OutputShape.ToArray());
        Assert.Equal(new[] { 4, 3, 3 }, model.Block2.InputShape.ToArray());
        Assert.Equal(new[] { 4, 3, 3 }, model.Block2.C1.InputShape);
        Assert.Equal(4 * 3 * 9, model.Block1.C1.Parameter("weight").Length);
        Assert.Equal(new[] { 4, 3, 3, 3 }, model.Block1.ParameterInfos.Single(p => p.Name == "c1.weight").Shape);
        Assert.Equal(new[] { 4, 4, 3, 3 }, model.Block2.ParameterInfos.Single(p => p.Name == "c1.weight").Shape);
        // The block's own names are relative (as a shaped block's are); the parent's are prefixed.
        Assert.Equal(new[] { "c1.weight", "c1.bias", "bn1.weight", "bn1.bias", "c2.weight", "c2.bias" },
            model.Block2.ParameterInfos.Select(p => p.Name));
        Assert.Equal(new[] { ("bn1.running_mean", 0), ("bn1.running_var", 4), ("bn1.num_batches_tracked", 8) },
            model.Block2.BufferInfos.Select(b => (b.Name, b.Offset)));
        model.Block2.Bn1.Buffer("running_var")[3] = 2.5f;   // a view of the enclosing model's buffers at this use
        Assert.Equal(2.5f, model.Buffers[model.BufferInfos.Single(b => b.Name == "block2.bn1.running_var").Offset + 3]);
        Assert.Equal(new[] { "c1", "bn1", "c2" }, model.Block2.Layers.Select(l => l.Name));
        Assert.Equal("Conv2D", model.Block2.C2.Kind);

        // Views of the enclosing model's buffers, not copies, at this use's offset.
        foreach (var (block, prefix) in new[] { ((IModel)model.Block1, "block1."), (model.Block2, "block2.") })
        {
            var view = block.Layers[0].Parameter("weight");
            view[1] = 42f;
            Assert.Equal(42f, model.Parameters[model.ParameterInfos.Single(p => p.Name == prefix + "c1.weight").Offset + 1]);
            // As for a shaped block, the view spans the block's own tensors; a projection shortcut belongs to the using member.
            Assert.Equal(model.ParameterInfos.Where(p => p.Name.StartsWith(prefix) && !p.Name.Contains("downsample")).Sum(p => p.Length), block.Parameters.Length);
        }
        model.Block2.Gradients[0] = 7f;
        Assert.Equal(7f, model.Gradients[model.ParameterInfos.Single(p => p.Name == "block2.c1.weight").Offset]);
        Assert.Contains("GenericBody: [4, 3, 3] -> [4, 3, 3]", model.Block2.Summary());
        Assert.Contains("Residual(GenericBody)", GenericBodyNet.Summary().Split('\n').Single(l => l.StartsWith("block2")));
    }

    [Fact]
    public void Conv_Backward_MatchesFiniteDifferences()
    {
        var model = new GenericBodyNet(7);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * GenericBodyNet.InputSize, 21);
        var weights = ModelTestData.RandomArray(batch * GenericBodyNet.OutputSize, 22);
        var output = new float[weights.Length];
        var dInput = new float[input.Length];
        model.Gradients.Clear();
        model.ForwardTrain(input, output, batch);
        model.Backward(weights, dInput);
        var analytic = model.Gradients.ToArray();
        double Loss()
        {
            model.ForwardTrain(input, output, batch);
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        CheckFiniteDifferences("GenericBodyNet", model, analytic, input, dInput, Loss);
    }

    [Fact]
    public void Sequence_ForwardAndBackwardBitIdenticalToShapedBlocks()
    {
        var generic = new GenericSequenceNet(1);
        var shaped = new ShapedSequenceNet(1);
        Assert.Equal(Describe(shaped.ParameterInfos), Describe(generic.ParameterInfos));
        Assert.Contains("outer.inner.up.weight", generic.ParameterInfos.Select(p => p.Name));
        Assert.Equal(shaped.Parameters.ToArray(), generic.Parameters.ToArray());
        const int batch = 2, seq = 7;
        var input = ModelTestData.RandomArray(batch * seq * GenericSequenceNet.InputSize, 3);
        int[] lengths = { 7, 4 };
        var a = new float[batch * seq * GenericSequenceNet.OutputSize];
        var b = new float[a.Length];
        generic.Forward(input, a, batch, seq, lengths);
        shaped.Forward(input, b, batch, seq, lengths);
        Assert.Equal(b, a);
        generic.ForwardTrain(input, a, batch, seq, lengths);
        shaped.ForwardTrain(input, b, batch, seq, lengths);
        Assert.Equal(b, a);
        var dOut = ModelTestData.RandomArray(a.Length, 4);
        for (int t = lengths[1]; t < seq; t++)
            dOut.AsSpan(((1 * seq) + t) * GenericSequenceNet.OutputSize, GenericSequenceNet.OutputSize).Clear();
        var dA = new float[input.Length];
        var dB = new float[input.Length];
        generic.Backward(dOut, dA);
        shaped.Backward(dOut, dB);
        Assert.Equal(dB, dA);
        Assert.Equal(shaped.Gradients.ToArray(), generic.Gradients.ToArray());

        // Nested views: the inner block of the outer one sees [T, 5] and its own relative names.
        Assert.Equal(new[] { -1, 5 }, generic.Outer.Inner.InputShape.ToArray());
        Assert.Equal(new[] { -1, 3 }, generic.Mix.Norm.InputShape);
        Assert.Equal(7 * 3, generic.Mix.Up.Parameter("weight").Length);
        Assert.Equal(new[] { 7, 5 }, generic.Outer.Inner.ParameterInfos.Single(p => p.Name == "up.weight").Shape);
        generic.Outer.Inner.Up.Parameter("bias")[2] = 9f;
        Assert.Equal(9f, generic.Parameters[generic.ParameterInfos.Single(p => p.Name == "outer.inner.up.bias").Offset + 2]);
    }

    [Fact]
    public void Sequence_Backward_MatchesFiniteDifferences()
    {
        var model = new GenericSequenceNet(5);
        const int batch = 2, seq = 3;
        int[] lengths = { 3, 1 };
        var input = ModelTestData.RandomArray(batch * seq * GenericSequenceNet.InputSize, 31);
        var weights = ModelTestData.RandomArray(batch * seq * GenericSequenceNet.OutputSize, 32);
        for (int t = lengths[1]; t < seq; t++)
            weights.AsSpan((seq + t) * GenericSequenceNet.OutputSize, GenericSequenceNet.OutputSize).Clear();
        var output = new float[weights.Length];
        var dInput = new float[input.Length];
        model.Gradients.Clear();
        model.ForwardTrain(input, output, batch, seq, lengths);
        model.Backward(weights, dInput);
        var analytic = model.Gradients.ToArray();
        double Loss()
        {
            model.ForwardTrain(input, output, batch, seq, lengths);
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        CheckFiniteDifferences("GenericSequenceNet", model, analytic, input, dInput, Loss);
    }

    [Fact]
    public void ShapedBlockInsideGenericBlock_IsAViewAtThisUsesOffset()
    {
        var model = new HolderNet(2);
        Assert.Equal(4 * 4, model.Holder.Mix.Parameter("weight").Length); // Conv2D without out: 4 -> 4 channels
        Assert.Equal(ShapedBody433.ParameterCount, model.Holder.Body.Parameters.Length);
        model.Holder.Body.C2.Parameter("bias")[3] = 5f;
        Assert.Equal(5f, model.Parameters[model.ParameterInfos.Single(p => p.Name == "holder.body.c2.bias").Offset + 3]);
        Assert.Equal(model.ParameterInfos.Single(p => p.Name == "holder.body.c1.weight").Offset,
            model.ParameterInfos.Single(p => p.Name == "holder.mix.bias").Offset + 4);
    }

    private static string[] Describe(IReadOnlyList<ParameterInfo> infos) => infos.Select(p => $"{p.Name} {p.ShapeText} @{p.Offset}").ToArray();

    /// <summary>Every parameter and input gradient against central differences of <paramref name="loss"/> (float forward, double sums).</summary>
    private static void CheckFiniteDifferences(string network, IModel model, float[] analytic, float[] input, float[] dInput, Func<double> loss)
    {
        const float h = 1e-2f;
        double Numeric(Span<float> values, int i)
        {
            float saved = values[i];
            values[i] = saved + h;
            double plus = loss();
            values[i] = saved - h;
            double minus = loss();
            values[i] = saved;
            return (plus - minus) / (2 * h);
        }
        void Check(string what, double expected, float actual) =>
            Assert.True(Math.Abs(expected - actual) <= 3e-3 + 2e-2 * Math.Abs(expected), $"{network} {what}: finite difference {expected}, backward {actual}");
        foreach (var info in model.ParameterInfos)
            for (int i = 0; i < info.Length; i++)
                Check($"{info.Name}[{i}]", Numeric(model.Parameters, info.Offset + i), analytic[info.Offset + i]);
        for (int i = 0; i < input.Length; i++)
            Check($"input[{i}]", Numeric(input, i), dInput[i]);
    }
}
