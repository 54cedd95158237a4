// The weights file of a trained text model: what `samples/TextGen --out` writes and samples/TextGen.Generate reads.
// The model's parameters under PyTorch names, plus two safetensors metadata entries that make the file all a
// generator needs (no corpus to rebuild the vocabulary from, no --model to repeat):
//   "textgen.model"       the TextGenModel name ("gpt", "lstm"): which declaration the tensors belong to
//   "textgen.vocabulary"  CharVocabulary.Characters: the characters of ids 1..V−1 in id order (<unk> is id 0)
// Loading checks the metadata first, then lets ModelWeights.Load check every tensor's name, dtype and shape, so a
// wrong or damaged file fails with a message naming the file and the entry or tensor, and no half-loaded model.
using ModelGen;
using ModelGen.Serialization;

namespace TextGen;

/// <summary>A model loaded from a weights file: which one it is, its parameters and its vocabulary.</summary>
/// <param name="Recipe">The model kind named in the file.</param>
/// <param name="Model">The model, holding the file's parameters.</param>
/// <param name="Vocabulary">The characters the model was trained on.</param>
public sealed record LoadedTextModel(TextGenModel Recipe, ISequenceTrainable<int> Model, CharVocabulary Vocabulary);

/// <summary>Saves and loads a text model with its kind and vocabulary in the safetensors metadata.</summary>
public static class TextGenWeights
{
    /// <summary>Metadata key of the model's <see cref="TextGenModel.Name"/>.</summary>
    public const string ModelKey = "textgen.model";

    /// <summary>Metadata key of the vocabulary's <see cref="CharVocabulary.Characters"/>.</summary>
    public const string VocabularyKey = "textgen.vocabulary";

    /// <summary>Writes <paramref name="model"/>'s parameters to <paramref name="path"/> with its kind and vocabulary (atomically, see <see cref="ModelWeights.Save"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="vocabulary"/> does not have the models' <see cref="TextSizes.Vocabulary"/> ids.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not create or replace the file.</exception>
    /// <exception cref="IOException">The file could not be written (the message names <paramref name="path"/>).</exception>
    public static void Save(TextGenModel recipe, ISequenceTrainable<int> model, CharVocabulary vocabulary, string path)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (vocabulary.Count != TextSizes.Vocabulary)
            throw new ArgumentException($"The vocabulary has {vocabulary.Count} ids, but the models are declared for {TextSizes.Vocabulary}.", nameof(vocabulary));
        model.Save(path, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ModelKey] = recipe.Name,
            [VocabularyKey] = vocabulary.Characters,
        });
    }

    /// <summary>
    /// Loads the model a file written by <see cref="Save"/> holds: its kind and vocabulary from the metadata, then every
    /// parameter tensor (all validated before the model is used).
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/> (the message names it).</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not safetensors, lacks or has a wrong <see cref="ModelKey"/> or <see cref="VocabularyKey"/> entry, or does
    /// not hold exactly the named model's tensors as F32 with its shapes. The message names the file and the entry or tensor.
    /// </exception>
    /// <exception cref="UnauthorizedAccessException">The process may not read the file, or <paramref name="path"/> is a directory.</exception>
    public static LoadedTextModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            if (Directory.Exists(path)) throw new UnauthorizedAccessException($"{path}: is a directory, not a weights file.");
            throw new FileNotFoundException($"{path}: no such weights file (samples/TextGen writes one: --out FILE).", path);
        }
        SafeTensors.ReadHeader(path, out var metadata);

        if (!metadata.TryGetValue(ModelKey, out string? name))
            throw Invalid(path, $"no '{ModelKey}' entry in the metadata; expected a file written by samples/TextGen --out");
        TextGenModel? recipe = null;
        foreach (var candidate in TextGenModel.All)
            if (candidate.Name == name) recipe = candidate;
        if (recipe is null)
            throw Invalid(path, $"'{ModelKey}' is '{name}', expected one of: {string.Join(", ", TextGenModel.All.Select(m => m.Name))}");

        if (!metadata.TryGetValue(VocabularyKey, out string? characters))
            throw Invalid(path, $"no '{VocabularyKey}' entry in the metadata; expected a file written by samples/TextGen --out");
        // Written as CharVocabulary.Characters: distinct characters in ascending ordinal order, without <unk>'s U+FFFD.
        for (int i = 0; i < characters.Length; i++)
            if (characters[i] == CharVocabulary.UnkCharacter || (i > 0 && characters[i] <= characters[i - 1]))
                throw Invalid(path, $"'{VocabularyKey}' is not a vocabulary: character {i} (U+{(int)characters[i]:X4}) is not above the one before it, or is the reserved U+FFFD");
        if (characters.Length != TextSizes.Vocabulary - 1)
            throw Invalid(path, $"'{VocabularyKey}' holds {characters.Length} characters, expected {TextSizes.Vocabulary - 1} (the models' {TextSizes.Vocabulary} ids include {CharVocabulary.UnkToken})");
        var vocabulary = CharVocabulary.FromText(characters);

        // Seed 0: the initial values are overwritten, and ModelWeights.Load checks every tensor before touching the model.
        var model = recipe.Create(0);
        model.Load(path);
        return new LoadedTextModel(recipe, model, vocabulary);
    }

    private static InvalidDataException Invalid(string path, string problem) => new($"{path}: {problem}");
}
