// Dataset.Split (a seeded, stratified validation split taken from the training data) and the NumPy constructors.
namespace ModelGen.Data;

public sealed partial class Dataset
{
    /// <summary>
    /// Splits this (training) set into a training part and a validation part of about <paramref name="fraction"/> of the
    /// examples, like scikit-learn's <c>train_test_split(..., stratify=y)</c>. Call it on the training data only: the test
    /// set stays untouched. With class labels the split is stratified: each class <c>c</c> of <c>n_c</c> examples sends
    /// <c>round(fraction × n_c)</c> (halves away from zero) of them, drawn by a Fisher–Yates shuffle from
    /// <c>Rng.Derive(seed, c)</c>, to validation; without labels <c>round(fraction × Count)</c> examples are drawn from
    /// <c>Rng.Derive(seed, 0)</c>. Both parts keep the original relative order, the class count and the class names, and
    /// are copies. The same seed always gives the same split.
    /// </summary>
    /// <param name="fraction">The validation share, in (0, 1).</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is not strictly between 0 and 1.</exception>
    /// <exception cref="ArgumentException">The split would leave the training or the validation part empty (the message gives the counts).</exception>
    public (Dataset Train, Dataset Validation) Split(double fraction, ulong seed)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation fraction must be strictly between 0 and 1.");
        var inValidation = ValidationMask(Count, Labels, ClassCount, fraction, seed);
        int validationCount = 0;
        foreach (bool v in inValidation) if (v) validationCount++;
        if (validationCount == 0 || validationCount == Count)
            throw new ArgumentException(
                $"A validation fraction of {fraction} of {Count} examples{(Labels is null ? "" : $" in {ClassCount} classes (rounded per class)")} leaves " +
                $"{Count - validationCount} for training and {validationCount} for validation; both must be non-empty.", nameof(fraction));
        return (Subset(inValidation, false, Count - validationCount), Subset(inValidation, true, validationCount));
    }

    /// <summary>
    /// Which of <paramref name="count"/> examples go to validation: per class (when <paramref name="labels"/> is given) a
    /// Fisher–Yates shuffle of the class's indices from <c>Rng.Derive(seed, class)</c>, the first round(fraction × n) of
    /// them; otherwise the same over all indices from <c>Rng.Derive(seed, 0)</c>.
    /// </summary>
    internal static bool[] ValidationMask(int count, int[]? labels, int classCount, double fraction, ulong seed)
    {
        var inValidation = new bool[count];
        if (labels is not null)
        {
            var members = new List<int>[classCount];
            for (int i = 0; i < count; i++) (members[labels[i]] ??= []).Add(i);
            for (int c = 0; c < classCount; c++)
            {
                if (members[c] is not { } list) continue;
                var indices = list.ToArray();
                Rng.Derive(seed, (ulong)c).Shuffle(indices.AsSpan());
                int take = (int)Math.Round(fraction * indices.Length, MidpointRounding.AwayFromZero);
                for (int k = 0; k < take; k++) inValidation[indices[k]] = true;
            }
        }
        else
        {
            var indices = new int[count];
            for (int i = 0; i < count; i++) indices[i] = i;
            Rng.Derive(seed, 0).Shuffle(indices.AsSpan());
            int take = (int)Math.Round(fraction * count, MidpointRounding.AwayFromZero);
            for (int k = 0; k < take; k++) inValidation[indices[k]] = true;
        }
        return inValidation;
    }

    /// <summary>The examples whose flag equals <paramref name="keep"/>, in order, copied.</summary>
    private Dataset Subset(bool[] flags, bool keep, int count)
    {
        var inputs = new float[checked(count * ExampleLength)];
        var labels = Labels is null ? null : new int[count];
        var targets = Targets is null ? null : new float[checked(count * TargetLength)];
        int n = 0;
        for (int i = 0; i < Count; i++)
        {
            if (flags[i] != keep) continue;
            Inputs.AsSpan(i * ExampleLength, ExampleLength).CopyTo(inputs.AsSpan(n * ExampleLength));
            if (labels is not null) labels[n] = Labels![i];
            if (targets is not null) Targets.AsSpan(i * TargetLength, TargetLength).CopyTo(targets.AsSpan(n * TargetLength));
            n++;
        }
        return new Dataset(inputs, ExampleShape, ExampleLength, count, labels, ClassCount, targets, TargetLength, ClassNames as string[]);
    }

    /// <summary>
    /// A classification dataset from two <c>.npy</c> files: inputs <c>[count, ...]</c> (any supported dtype; the example
    /// shape is the shape after the first dimension, uint8 inputs are scaled to [0, 1] like torchvision's <c>ToTensor</c>
    /// when <paramref name="scaleUInt8"/>) and integer labels <c>[count]</c>.
    /// </summary>
    /// <param name="inputsPath">The inputs <c>.npy</c>.</param>
    /// <param name="labelsPath">The labels <c>.npy</c> (int32, int64 or uint8).</param>
    /// <param name="classCount">Number of classes; <see langword="null"/> takes the largest label + 1.</param>
    /// <param name="scaleUInt8">Map uint8 inputs <c>v</c> to <c>v / 255</c>.</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is malformed (see <see cref="Npy.Read(string)"/>), the inputs have fewer than two dimensions, the labels are not one-dimensional integers, the counts differ, or a label is outside <c>[0, classCount)</c>; the message names the file.</exception>
    public static Dataset FromNpy(string inputsPath, string labelsPath, int? classCount = null, bool scaleUInt8 = true)
    {
        ArgumentNullException.ThrowIfNull(inputsPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        return FromNpyArrays(Npy.Read(inputsPath), inputsPath, Npy.Read(labelsPath), labelsPath, classCount, scaleUInt8);
    }

    /// <summary>
    /// A classification dataset from a <c>.npz</c> archive holding inputs and labels under the given names (as written
    /// by <c>np.savez(path, x=images, y=labels)</c>); otherwise as <see cref="FromNpy"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The archive is malformed, lacks an entry (the message lists those it has), or the arrays do not fit as <see cref="FromNpy"/> describes.</exception>
    public static Dataset FromNpz(string path, string inputsName = "x", string labelsName = "y", int? classCount = null, bool scaleUInt8 = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        var arrays = Npy.ReadNpz(path);
        NpyArray Get(string name) => arrays.TryGetValue(name, out var a) ? a
            : throw new InvalidDataException($"{path}: no entry '{name}.npy'; the archive holds {(arrays.Count == 0 ? "nothing" : string.Join(", ", arrays.Keys.Order(StringComparer.Ordinal).Select(k => $"'{k}'")))}.");
        return FromNpyArrays(Get(inputsName), $"{path}: entry '{inputsName}.npy'", Get(labelsName), $"{path}: entry '{labelsName}.npy'", classCount, scaleUInt8);
    }

    private static Dataset FromNpyArrays(NpyArray inputs, string inputsName, NpyArray labels, string labelsName, int? classCount, bool scaleUInt8)
    {
        if (inputs.Shape.Length < 2 || inputs.Shape[1..].Any(d => d == 0))
            throw new InvalidDataException($"{inputsName}: shape {Format(inputs.Shape)}; expected [count, example dims...] with every example dimension positive.");
        if (labels.Shape.Length != 1)
            throw new InvalidDataException($"{labelsName}: shape {Format(labels.Shape)}; expected [count] (one label per example).");
        if (labels.Shape[0] != inputs.Shape[0])
            throw new InvalidDataException($"{labelsName} has {labels.Shape[0]} labels but {inputsName} has {inputs.Shape[0]} examples; expected the same count.");
        int[] y = labels.ToLabels(labelsName);
        int classes = classCount ?? (y.Length == 0 ? 1 : y.Max() + 1);
        for (int i = 0; i < y.Length; i++)
            if (y[i] >= classes)
                throw new InvalidDataException($"{labelsName}: label #{i} is {y[i]}, expected a class in [0, {classes}).");
        return FromArrays(inputs.ToFloat32(scaleUInt8), y, inputs.Shape.AsSpan(1), classes);
    }
}
