using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Tests;

/// <summary>The Roslyn-free shape core, called directly on specs.</summary>
public class ShapeInferenceTests
{
    private static ModelSpec Spec(int[] input, params LayerSpec[] layers) =>
        new("Demo", "M", "Demo.M", EquatableArray<string>.Empty, input.ToEquatableArray(),
            layers.Select(l => new MemberSpec(l.Name, "public", "global::ModelGen.Layer", true, l)).ToEquatableArray(),
            EquatableArray<ModelProblem>.Empty);

    [Fact]
    public void Infer_Mlp_GivesShapesParametersAndFlops()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { 1, 28, 28 },
            new FlattenSpec("flat"), new DenseSpec("fc1", 256, ActivationKind.ReLU, true, InitKind.Default),
            new DropoutSpec("drop", 0.5), new DenseSpec("fc2", 10, ActivationKind.None, false, InitKind.Default)));

        Assert.True(shapes.IsValid);
        Assert.Equal(new[] { 784 }, shapes.Layers[0].Output);
        Assert.Equal(new[] { 256 }, shapes.Layers[1].Output);
        Assert.Equal(new[] { "fc1.weight", "fc1.bias" }, shapes.Layers[1].Params.Select(p => p.Name));
        Assert.Equal(new[] { 256, 784 }, shapes.Layers[1].Params[0].Shape);
        Assert.Equal(2L * 784 * 256, shapes.Layers[1].Flops);
        Assert.Equal(new[] { "fc2.weight" }, shapes.Layers[3].Params.Select(p => p.Name));
    }

    [Fact]
    public void Infer_DenseOnImage_ReportsMissingFlatten()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { 16, 5, 5 }, new DenseSpec("fc2", 120, ActivationKind.None, true, InitKind.Default)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.ExpectsFlatInput, problem.Id);
        Assert.Equal("Dense 'fc2' expects a flat input but receives [16, 5, 5] from the model input; add [Flatten] before it", problem.Message);
    }

    [Fact]
    public void Infer_DenseAfterLayer_NamesThePreviousLayer()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { 3, 4 }, new ActivationSpec("act", ActivationKind.ReLU, 0), new DenseSpec("fc", 2, ActivationKind.None, true, InitKind.Default)));
        Assert.Contains("receives [3, 4] from 'act'", Assert.Single(shapes.Problems).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Infer_NonPositiveUnits_IsInvalidHyperParameter(int units)
    {
        var shapes = ShapeInference.Infer(Spec(new[] { 4 }, new DenseSpec("fc", units, ActivationKind.None, true, InitKind.Default)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.InvalidHyperParameter, problem.Id);
        Assert.Equal($"Dense 'fc' has {units} units; units must be positive", problem.Message);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void Infer_DropoutOutOfRange_IsInvalidHyperParameter(double p)
    {
        var shapes = ShapeInference.Infer(Spec(new[] { 4 }, new DropoutSpec("drop", p)));
        Assert.Equal(ProblemIds.InvalidHyperParameter, Assert.Single(shapes.Problems).Id);
    }

    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { 28, 0 })]
    [InlineData(new[] { -2 })]   // -1 is Dim.Seq
    public void Infer_BadInputShape_IsReported(int[] input)
    {
        var shapes = ShapeInference.Infer(Spec(input, new FlattenSpec("flat")));
        Assert.Equal(ProblemIds.InvalidInputShape, Assert.Single(shapes.Problems).Id);
    }

    [Fact]
    public void Infer_NoLayers_IsReported()
    {
        Assert.Equal(ProblemIds.NoLayers, Assert.Single(ShapeInference.Infer(Spec(new[] { 4 })).Problems).Id);
    }

    [Fact]
    public void Infer_DuplicateWeightNames_AreReported()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { 4 }, new DenseSpec("fc", 3, ActivationKind.None, true, InitKind.Default), new DenseSpec("fc", 3, ActivationKind.None, true, InitKind.Default)));
        Assert.Equal(ProblemIds.DuplicateLayerName, Assert.Single(shapes.Problems).Id);
    }

    [Fact]
    public void Plan_InferenceSchedule_RunsActivationsInPlaceAndWritesOutputDirectly()
    {
        var plan = Planner.Plan(Spec(new[] { 8 },
            new DenseSpec("fc1", 6, ActivationKind.None, true, InitKind.Default),
            new ActivationSpec("act", ActivationKind.ReLU, 0),
            new DropoutSpec("drop", 0.2),
            new DenseSpec("fc2", 4, ActivationKind.None, true, InitKind.Default),
            new ActivationSpec("out", ActivationKind.Sigmoid, 0)));

        var input = new Place(PlaceKind.Input);
        var slot0 = new Place(PlaceKind.Slot, 0);
        var output = new Place(PlaceKind.Output);
        Assert.Equal(new[]
        {
            new InferenceStep(0, new[] { input }.ToEquatableArray(), slot0),
            new InferenceStep(1, new[] { slot0 }.ToEquatableArray(), slot0),   // in place
            new InferenceStep(3, new[] { slot0 }.ToEquatableArray(), output),  // dropout is a view; the last Dense writes the output
            new InferenceStep(4, new[] { output }.ToEquatableArray(), output),
        }, plan.Inference);
        Assert.Equal(1, plan.InferenceSlots);
    }

    [Fact]
    public void Plan_SkipConnection_KeepsTheSkippedTensorAlive()
    {
        var spec = new ModelSpec("Demo", "M", "Demo.M", EquatableArray<string>.Empty, new[] { 8 }.ToEquatableArray(), new[]
        {
            new MemberSpec("Fc1", "public", "global::ModelGen.Layer", true, new DenseSpec("fc1", 8, ActivationKind.None, true, InitKind.Default)),
            new MemberSpec("Act", "public", "global::ModelGen.Layer", true, new ActivationSpec("act", ActivationKind.ReLU, 0)),
            new MemberSpec("Fc2", "public", "global::ModelGen.Layer", true, new DenseSpec("fc2", 8, ActivationKind.None, true, InitKind.Default)),
            new MemberSpec("Sum", "public", "global::ModelGen.Layer", true, new MergeSpec("sum", false, new[] { "Fc1", "Fc2" }.ToEquatableArray())),
        }.ToEquatableArray(), EquatableArray<ModelProblem>.Empty);
        var plan = Planner.Plan(spec);

        Assert.True(plan.IsValid);
        // fc1 stays alive for the Add, so the ReLU cannot overwrite it; the Add then runs in place on fc1, so fc1
        // itself is written straight into the output span and no final copy is needed. fc2 (read only by the Add)
        // fuses into it: no step of its own, and the Add reads fc2's input (the ReLU's output) for the product.
        var output = new Place(PlaceKind.Output);
        Assert.Equal(new[] { 0, 2 }, plan.Shapes.Nodes[3].Inputs);
        Assert.Equal(new[] { new ResidualFusion(2, 3, 0) }, plan.ResidualFusions.ToArray());
        Assert.Equal(3, plan.Inference.Count);
        Assert.Equal(output, plan.Inference[0].Destination);
        Assert.Equal(new Place(PlaceKind.Slot, 0), plan.Inference[1].Destination);
        Assert.Equal(new InferenceStep(3, new[] { output, new Place(PlaceKind.Slot, 0) }.ToEquatableArray(), output), plan.Inference[2]);
        Assert.Equal(1, plan.InferenceSlots);
    }

    [Fact]
    public void Plan_TrainingLayout_KeepsPreActivationsMasksAndAliasesFlatten()
    {
        var plan = Planner.Plan(Spec(new[] { 2, 3 },
            new FlattenSpec("flat"),
            new DenseSpec("fc1", 5, ActivationKind.ReLU, true, InitKind.Default),
            new DropoutSpec("drop", 0.5)));

        Assert.Equal(new TrainingSlot(0, -1, -1, -1, -1), plan.Training[0]);  // flatten is a view of the copied input
        Assert.Equal(new TrainingSlot(11, 6, -1, -1, 0), plan.Training[1]);   // pre at 6..11, output at 11..16
        Assert.Equal(new TrainingSlot(21, -1, 16, -1, 5), plan.Training[2]);  // mask at 16..21, output at 21..26
        Assert.Equal(26, plan.TrainingArenaLength);
        Assert.Equal(10, plan.GradientArenaLength);
    }

    [Theory]
    [InlineData(784, 4096, 10)]          // the gradient arena (outputs + 2 slots of 4,096) binds
    [InlineData(50_000, 8, 3)]           // the training arena (the copied input dominates) binds
    [InlineData(1_000_000, 1_000, 10)]   // a million inputs per example: 2,143 examples at most
    public void Plan_MaxBatch_IsTheLargestBatchWhoseArenasFitInAnArray(int inputs, int hidden, int outputs)
    {
        var plan = Planner.Plan(Spec(new[] { inputs },
            new DenseSpec("fc1", hidden, ActivationKind.ReLU, true, InitKind.Default),
            new DenseSpec("fc2", outputs, ActivationKind.None, true, InitKind.Default)));

        long[] Arenas(long batch) => new[]
        {
            batch * plan.InferenceSlots * plan.SlotLength,
            batch * plan.TrainingArenaLength + plan.TrainingFixedLength,
            batch * (plan.GradientArenaLength + 2L * plan.ScratchLength),
        };
        Assert.All(Arenas(plan.MaxBatch), length => Assert.InRange(length, 0, ModelPlan.MaxArrayLength));
        Assert.Contains(Arenas(plan.MaxBatch + 1L), length => length > ModelPlan.MaxArrayLength);
    }

    [Fact]
    public void Plan_ScratchLength_HoldsAWideInputGradientOnlyWhenSeveralLayersReadTheInput()
    {
        // One reader: dInput is written directly; scratch holds at most a layer's output (8).
        var single = Planner.Plan(Spec(new[] { 50 }, new DenseSpec("a", 8, ActivationKind.Tanh, true, InitKind.Default),
            new DenseSpec("b", 3, ActivationKind.None, true, InitKind.Default)));
        Assert.Equal(8, single.ScratchLength);
        // Two readers of the input (the second through From = Layer.Input): one gradient is added to the other's, via scratch of 50.
        var members = new[]
        {
            new MemberSpec("a", "public", "global::ModelGen.Layer", true, new DenseSpec("a", 8, ActivationKind.Tanh, true, InitKind.Default)),
            new MemberSpec("b", "public", "global::ModelGen.Layer", true, new DenseSpec("b", 8, ActivationKind.Tanh, true, InitKind.Default), MemberSpec.InputName),
            new MemberSpec("sum", "public", "global::ModelGen.Layer", true, new MergeSpec("sum", false, new[] { "a", "b" }.ToEquatableArray())),
        };
        var spec = new ModelSpec("Demo", "M", "Demo.M", EquatableArray<string>.Empty, new[] { 50 }.ToEquatableArray(), members.ToEquatableArray(), EquatableArray<ModelProblem>.Empty);
        var branches = Planner.Plan(spec);
        Assert.True(branches.IsValid);
        Assert.Equal(8, branches.SlotLength);
        Assert.Equal(50, branches.ScratchLength);
    }

    [Theory]
    [InlineData(new[] { 784 }, int.MaxValue, "Dense 'fc' has a weight of [2147483647, 784]")]
    [InlineData(new[] { 784 }, 5_000_000, "Dense 'fc' has a weight of [5000000, 784] = 3,920,000,000 floats")]
    public void Infer_WeightLargerThanAnArray_IsModelTooLarge(int[] input, int units, string message)
    {
        var shapes = ShapeInference.Infer(Spec(input, new DenseSpec("fc", units, ActivationKind.None, true, InitKind.Default)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.ModelTooLarge, problem.Id);
        Assert.StartsWith(message, problem.Message);
    }

    [Fact]
    public void Infer_ImageFlattenedIntoAHugeDense_IsModelTooLarge()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { 3, 224, 224 }, new FlattenSpec("flat"), new DenseSpec("fc", 20000, ActivationKind.None, true, InitKind.Default)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.ModelTooLarge, problem.Id);
        Assert.Equal("fc", problem.Member);
        Assert.Contains("[20000, 150528] = 3,010,560,000 floats", problem.Message);
    }

    [Fact]
    public void Infer_ParametersAddingUpPastAnArray_IsModelTooLarge()
    {
        // Each weight fits (1,400,000,000 floats), their sum does not.
        var shapes = ShapeInference.Infer(Spec(new[] { 40_000 }, new DenseSpec("a", 35_000, ActivationKind.None, false, InitKind.Default),
            new DenseSpec("b", 40_000, ActivationKind.None, false, InitKind.Default)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.ModelTooLarge, problem.Id);
        Assert.StartsWith("Dense 'b' brings the model to 2,800,000,000 parameters", problem.Message);
    }

    [Fact]
    public void Infer_RecurrentGateRowsPastAnArray_IsModelTooLarge()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { ModelSpec.Seq, 4 }, new RecurrentSpec("rnn", false, 1_200_000_000, 1, false, true, 0)));
        Assert.Equal(ProblemIds.ModelTooLarge, Assert.Single(shapes.Problems).Id);
    }
}
