// The training recipe (schedule values the issue states, AdamW's hyper-parameters), the trainer on the LSTM
// stand-in (it learns, follows the schedule, allocates nothing per step) and the model factory.
using TextGen;

namespace ModelGen.Tests.TextGeneration;

public class TextGenTrainingTests
{
    /// <summary>The issue's formula: 1e-3·(t+1)/200 for t &lt; 200, then 1e-4 + 0.45e-3·(1 + cos(π(t−200)/1800)).</summary>
    private static double IssueLearningRate(int t) => t < 200 ? 1e-3 * (t + 1) / 200 : 1e-4 + 0.45e-3 * (1 + Math.Cos(Math.PI * (t - 200) / 1800));

    [Theory]
    [InlineData(0, 5e-6)]
    [InlineData(199, 1e-3)]
    [InlineData(200, 1e-3)]
    [InlineData(1100, 5.5e-4)]
    [InlineData(1999, 1.00000685389e-4)]
    public void Schedule_RecipeSteps_GiveTheIssuesLearningRates(int step, double expected)
    {
        double lr = CharTrainingRecipe.Torch.LearningRate * (double)CharTrainingRecipe.Torch.Schedule.Factor(step, CharTrainingRecipe.Torch.Steps);
        Assert.Equal(expected, lr, 1e-10);
        Assert.Equal(IssueLearningRate(step), lr, 1e-10);
    }

    [Fact]
    public void Schedule_EveryRecipeStep_MatchesTheFormula()
    {
        for (int t = 0; t < CharTrainingRecipe.Torch.Steps; t++)
            Assert.True(Math.Abs(IssueLearningRate(t) - CharTrainingRecipe.Torch.LearningRate * (double)CharTrainingRecipe.Torch.Schedule.Factor(t, CharTrainingRecipe.Torch.Steps)) < 1e-10, $"step {t}");
    }

    [Fact]
    public void CreateOptimizer_IsAdamWWithTheRecipesHyperParameters()
    {
        var adamW = CharTrainingRecipe.Torch.CreateOptimizer();
        Assert.Equal((1e-3f, 0.9f, 0.99f, 0.01f, 1e-8f), (adamW.LearningRate, adamW.Beta1, adamW.Beta2, adamW.WeightDecay, adamW.Epsilon));
        Assert.Equal((1f, 32, 2000), (CharTrainingRecipe.ClipNorm, CharTrainingRecipe.Torch.BatchSize, CharTrainingRecipe.Torch.Steps));
    }

    [Theory]
    [InlineData(0, 3e-5)]
    [InlineData(99, 3e-3)]
    [InlineData(100, 3e-3)]
    [InlineData(1050, 1.65e-3)]
    [InlineData(2000, 3e-4)]
    public void Schedule_SampleRecipe_WarmsUpFor100StepsThenFallsTo3e4(int step, double expected)
    {
        var r = CharTrainingRecipe.Sample;
        Assert.Equal((3e-3f, 100, 0.1f, 2000, 32), (r.LearningRate, r.WarmupSteps, r.MinFactor, r.Steps, r.BatchSize));
        Assert.Equal(expected, r.LearningRate * (double)r.Schedule.Factor(step, r.Steps), 1e-9);
        var adamW = r.CreateOptimizer();
        Assert.Equal((3e-3f, 0.9f, 0.99f, 0.01f, 1e-8f), (adamW.LearningRate, adamW.Beta1, adamW.Beta2, adamW.WeightDecay, adamW.Epsilon));
    }

    [Fact]
    public void Recipes_ByName_SelectTheModelDeclaration()
    {
        Assert.Same(CharTrainingRecipe.Torch, CharTrainingRecipe.For("torch"));
        Assert.Same(CharTrainingRecipe.Sample, CharTrainingRecipe.For("sample"));
        Assert.Contains("expected one of: sample, torch", Assert.Throws<ArgumentException>(() => CharTrainingRecipe.For("adam")).Message);
        Assert.Same(TextGenModel.GptTorch, CharTrainingRecipe.Torch.ModelFor("gpt"));
        Assert.Same(TextGenModel.Gpt, CharTrainingRecipe.Sample.ModelFor("gpt"));
        Assert.Same(TextGenModel.Lstm, CharTrainingRecipe.Torch.ModelFor("lstm"));
        var torch = TextGenModel.GptTorch.Create(1);
        Assert.IsType<CharGptTorch>(torch);
        Assert.Equal((TextSizes.CalibrationVocabulary, TextSizes.CalibrationVocabulary), (TextGenModel.GptTorch.Vocabulary, torch.OutputLength));
        Assert.Equal(TextSizes.Vocabulary, TextGenModel.Gpt.Vocabulary);
        // The calibration network drops inside each block but not after the feed-forward activation; the sample's has no dropout.
        Assert.Contains("Dropout", CharGptTorch.Summary());
        Assert.DoesNotContain("Dropout", CharGpt.Summary());
    }

    [Fact]
    public void Step_CharGptTorchOnARepeatedVerse_LearnsAndNeverPredictsTheUnusedIds()
    {
        var vocabulary = CharVocabulary.FromText(BrownTextTests.Brown.Value.Train);
        int[] text = RepeatedText(vocabulary, 2_000);
        var model = new CharGptTorch(1);
        var trainer = new LanguageModelTrainer(model, text, TextSizes.CalibrationVocabulary, batchSize: 2, context: 32, totalSteps: 60, seed: 1,
            CharTrainingRecipe.Torch);
        float first = trainer.Step();
        Assert.InRange(first, Math.Log(96) - 1.5, Math.Log(96) + 1.5);
        for (int i = 1; i < 60; i++) trainer.Step();
        double after = BitsPerCharacter.Evaluate(model, text.AsSpan(0, 257), 32, TextSizes.CalibrationVocabulary).Bpc;
        Assert.True(after < first / Math.Log(2) - 1.0, $"bpc {first / Math.Log(2):F3} -> {after:F3}");
    }

    private static int[] RepeatedText(CharVocabulary vocabulary, int characters)
    {
        const string verse = "the cat sat on the mat.\na dog ran to the log.\n";
        return vocabulary.Encode(string.Concat(Enumerable.Repeat(verse, characters / verse.Length + 1)).AsSpan(0, characters));
    }

    [Fact]
    public void Step_CharLstmOnARepeatedVerse_LearnsAndFollowsTheSchedule()
    {
        var vocabulary = CharVocabulary.FromText(BrownTextTests.Brown.Value.Train);
        int[] text = RepeatedText(vocabulary, 4_000);
        var model = new CharLstm(1);
        double before = BitsPerCharacter.Evaluate(model, text, 32, TextSizes.Vocabulary).Bpc;
        var trainer = new LanguageModelTrainer(model, text, TextSizes.Vocabulary, batchSize: 8, context: 32, totalSteps: 2000, seed: 1);
        Assert.Equal(8 * 32, trainer.CharactersPerStep);

        float first = trainer.Step();
        Assert.Equal(5e-6, trainer.LearningRate, 1e-12);
        Assert.True(float.IsFinite(trainer.GradientNorm) && trainer.GradientNorm > 0, $"gradient norm {trainer.GradientNorm}");
        Assert.InRange(first, Math.Log(84) - 0.2, Math.Log(84) + 0.2);   // a fresh model is close to uniform
        float last = 0;
        for (int i = 1; i < 250; i++) last = trainer.Step();
        Assert.Equal(250, trainer.StepsDone);
        Assert.Equal(IssueLearningRate(249), trainer.LearningRate, 1e-9);
        double after = BitsPerCharacter.Evaluate(model, text, 32, TextSizes.Vocabulary).Bpc;
        Assert.True(last < first - 1.5, $"loss {first} -> {last}");
        Assert.True(after < before - 2.5, $"bpc {before:F3} -> {after:F3}");
    }

    [Fact]
    public void Step_SteadyState_AllocatesNothing()
    {
        var vocabulary = CharVocabulary.FromText("the cat sat on the mat.\n");
        int[] text = vocabulary.Encode(string.Concat(Enumerable.Repeat("the cat sat on the mat.\n", 50)));
        var trainer = new LanguageModelTrainer(new CharLstm(2), text, TextSizes.Vocabulary, batchSize: 4, context: 16, totalSteps: 100, seed: 3);
        AllocationAssert.SteadyStateAllocatesNothing(() => trainer.Step(), callsPerWindow: 5, warmUpCalls: 3);
    }

    [Fact]
    public void For_Names_GiveTheFactoryOrAListOfNames()
    {
        Assert.Same(TextGenModel.Lstm, TextGenModel.For("lstm"));
        Assert.Same(TextGenModel.Gpt, TextGenModel.For("gpt"));
        var e = Assert.Throws<ArgumentException>(() => TextGenModel.For("rnn"));
        Assert.Contains("expected one of: gpt, lstm", e.Message);
        Assert.IsType<CharGpt>(TextGenModel.Gpt.Create(1));

        var a = TextGenModel.Lstm.Create(4);
        var b = TextGenModel.Lstm.Create(4);
        Assert.IsType<CharLstm>(a);
        Assert.Equal(TextSizes.Vocabulary, a.OutputLength);
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());   // the seed fixes the initialisation
        Assert.Equal(TextSizes.Context, TextGenModel.Lstm.Context);
        Assert.Contains("lstm", TextGenModel.Lstm.Summary);
    }
}
