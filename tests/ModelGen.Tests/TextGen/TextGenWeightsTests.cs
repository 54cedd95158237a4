// The weights file samples/TextGen writes and samples/TextGen.Generate reads: the model's kind and vocabulary travel
// in the metadata, a loaded model samples exactly the text the saved one does (same seed stream), and every wrong
// file fails with a message naming the file and the entry or tensor.
using ModelGen.Serialization;
using TextGen;

namespace ModelGen.Tests.TextGeneration;

public sealed class TextGenWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelgen-textgen-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>83 distinct characters, like the Brown training text's: with &lt;unk&gt;, the models' 84 ids.</summary>
    private static CharVocabulary Vocabulary() => CharVocabulary.FromText("\n" + new string(Enumerable.Range(' ', 82).Select(c => (char)c).ToArray()));

    private static int[] Generate(TextGenModel recipe, ISequenceTrainable<int> model, string prompt, CharVocabulary vocabulary, int length, float temperature, int topK, int seed)
    {
        var sequence = new int[prompt.Length + length];
        vocabulary.Encode(prompt, sequence.AsSpan(0, prompt.Length));
        new TokenSampler(recipe.Sampling(model), TextSizes.Vocabulary).Generate(sequence, prompt.Length, temperature, topK, TextGenModel.SamplingRng(seed));
        return sequence;
    }

    [Fact]
    public void Characters_FromTextOfThem_GivesTheSameIds()
    {
        var vocabulary = Vocabulary();
        Assert.Equal(83, vocabulary.Characters.Length);
        Assert.Equal('\n', vocabulary.Characters[0]);   // ids in ordinal order, <unk> (id 0) left out
        var again = CharVocabulary.FromText(vocabulary.Characters);
        Assert.Equal(vocabulary.Count, again.Count);
        for (int id = 0; id < vocabulary.Count; id++) Assert.Equal(vocabulary[id], again[id]);
    }

    [Theory]
    [InlineData("gpt")]
    [InlineData("lstm")]
    public void Load_WhatSaveWrote_GivesTheModelItsParametersAndVocabularyAndTheSameSamples(string name)
    {
        var recipe = TextGenModel.For(name);
        var model = recipe.Create(7);
        var vocabulary = Vocabulary();
        string path = PathOf($"{name}.safetensors");
        TextGenWeights.Save(recipe, model, vocabulary, path);

        var loaded = TextGenWeights.Load(path);
        Assert.Same(recipe, loaded.Recipe);
        Assert.Equal(model.GetType(), loaded.Model.GetType());
        Assert.True(model.Parameters.SequenceEqual(loaded.Model.Parameters), "the loaded parameters differ from the saved ones");
        Assert.Equal(vocabulary.Characters, loaded.Vocabulary.Characters);
        SafeTensors.ReadHeader(path, out var metadata);
        Assert.Equal(name, metadata[TextGenWeights.ModelKey]);

        // The generator's path: past the GPT's 128-position window too (prompt 5 + 140), sampled and greedy.
        foreach (var (temperature, topK, seed) in new[] { (0.8f, 10, 3), (0f, 0, 1) })
            Assert.Equal(Generate(recipe, model, "The c", vocabulary, 140, temperature, topK, seed),
                         Generate(loaded.Recipe, loaded.Model, "The c", loaded.Vocabulary, 140, temperature, topK, seed));
    }

    [Fact]
    public void Save_VocabularyOfTheWrongSize_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            TextGenWeights.Save(TextGenModel.Gpt, new CharGpt(1), CharVocabulary.FromText("abc"), PathOf("w.safetensors")));
        Assert.Contains("4 ids, but the models are declared for 84", ex.Message);
        Assert.False(File.Exists(PathOf("w.safetensors")));
    }

    [Fact]
    public void Load_MissingFile_NamesIt()
    {
        string path = PathOf("absent.safetensors");
        var ex = Assert.Throws<FileNotFoundException>(() => TextGenWeights.Load(path));
        Assert.Equal($"{path}: no such weights file (samples/TextGen writes one: --out FILE).", ex.Message);
        Assert.Throws<UnauthorizedAccessException>(() => TextGenWeights.Load(_dir));
    }

    [Fact]
    public void Load_WeightsWithoutTheMetadata_NamesTheFileAndTheEntry()
    {
        string path = PathOf("plain.safetensors");
        new CharGpt(1).Save(path);   // the generated Save: parameters only
        var ex = Assert.Throws<InvalidDataException>(() => TextGenWeights.Load(path));
        Assert.Equal($"{path}: no 'textgen.model' entry in the metadata; expected a file written by samples/TextGen --out", ex.Message);

        new CharGpt(1).Save(path, new Dictionary<string, string> { [TextGenWeights.ModelKey] = "gpt" });
        ex = Assert.Throws<InvalidDataException>(() => TextGenWeights.Load(path));
        Assert.Equal($"{path}: no 'textgen.vocabulary' entry in the metadata; expected a file written by samples/TextGen --out", ex.Message);
    }

    [Theory]
    [InlineData("rnn", null, "'textgen.model' is 'rnn', expected one of: gpt, lstm")]
    [InlineData("gpt", "ab", "'textgen.vocabulary' holds 2 characters, expected 83 (the models' 84 ids include <unk>)")]
    [InlineData("gpt", "ba", "'textgen.vocabulary' is not a vocabulary: character 1 (U+0061) is not above the one before it, or is the reserved U+FFFD")]
    [InlineData("gpt", "a\uFFFD", "'textgen.vocabulary' is not a vocabulary: character 1 (U+FFFD) is not above the one before it, or is the reserved U+FFFD")]
    public void Load_WrongMetadata_NamesTheFileAndTheEntry(string model, string? characters, string problem)
    {
        string path = PathOf("bad.safetensors");
        new CharGpt(1).Save(path, new Dictionary<string, string>
        {
            [TextGenWeights.ModelKey] = model,
            [TextGenWeights.VocabularyKey] = characters ?? Vocabulary().Characters,
        });
        var ex = Assert.Throws<InvalidDataException>(() => TextGenWeights.Load(path));
        Assert.Equal($"{path}: {problem}", ex.Message);
    }

    [Fact]
    public void Load_LstmTensorsLabelledGpt_NamesTheFileAndAMissingTensor()
    {
        string path = PathOf("lstm-as-gpt.safetensors");
        TextGenWeights.Save(TextGenModel.Lstm, new CharLstm(1), Vocabulary(), path);
        SafeTensors.ReadHeader(path, out var metadata);
        var relabelled = new Dictionary<string, string>(metadata) { [TextGenWeights.ModelKey] = "gpt" };
        new CharLstm(1).Save(path, relabelled);
        var ex = Assert.Throws<InvalidDataException>(() => TextGenWeights.Load(path));
        Assert.StartsWith($"{path}: ", ex.Message);
        Assert.Contains("tensor 'tok.weight' is missing (expected F32 [84, 128])", ex.Message);
        Assert.Contains("unexpected tensor 'lstm.weight_ih_l0'", ex.Message);
    }
}
