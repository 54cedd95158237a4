// The sample's data splits: digits 0-4 for pre-training, a few labelled examples per class of digits 5-9 for the
// transfer, and the test digits 5-9, each relabelled to 0..4 so both models have 5-way heads.
using ModelGen;
using ModelGen.Data;

namespace Transfer;

/// <summary>Selects classes and few-shot subsets of a classification dataset.</summary>
public static class DigitSplits
{
    /// <summary>
    /// The examples labelled <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> − 1, in their
    /// original order, relabelled to 0 .. <paramref name="count"/> − 1.
    /// </summary>
    /// <exception cref="ArgumentException">The dataset has no labels, the range is not within its classes, or no example falls in it.</exception>
    public static Dataset Classes(Dataset data, int first, int count)
    {
        ArgumentNullException.ThrowIfNull(data);
        int[] labels = data.Labels ?? throw new ArgumentException("The dataset has no class labels.", nameof(data));
        if (first < 0 || count <= 0 || first + count > data.ClassCount)
            throw new ArgumentException($"Classes {first}..{first + count - 1} are not within the dataset's {data.ClassCount} classes.", nameof(count));
        var picked = new List<int>();
        for (int i = 0; i < data.Count; i++)
            if (labels[i] >= first && labels[i] < first + count) picked.Add(i);
        if (picked.Count == 0) throw new ArgumentException($"No example has a label in {first}..{first + count - 1}.", nameof(data));
        return Gather(data, picked, count, label => label - first);
    }

    /// <summary>
    /// <paramref name="perClass"/> examples of every class, drawn without replacement by a generator seeded with
    /// <paramref name="seed"/> (the same seed gives the same examples), kept in their original order.
    /// </summary>
    /// <exception cref="ArgumentException">The dataset has no labels, or a class has fewer than <paramref name="perClass"/> examples (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="perClass"/> is not positive.</exception>
    public static Dataset FewShot(Dataset data, int perClass, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perClass);
        int[] labels = data.Labels ?? throw new ArgumentException("The dataset has no class labels.", nameof(data));
        var rng = new Rng(seed);
        var picked = new List<int>();
        for (int c = 0; c < data.ClassCount; c++)
        {
            int[] members = Enumerable.Range(0, data.Count).Where(i => labels[i] == c).ToArray();
            if (members.Length < perClass)
                throw new ArgumentException($"Class {c} has {members.Length} examples, fewer than the {perClass} asked for.", nameof(perClass));
            rng.Shuffle(members.AsSpan());
            picked.AddRange(members.AsSpan(0, perClass));
        }
        picked.Sort();
        return Gather(data, picked, data.ClassCount, label => label);
    }

    private static Dataset Gather(Dataset data, List<int> indices, int classCount, Func<int, int> relabel)
    {
        int n = data.ExampleLength;
        var inputs = new float[indices.Count * n];   // [picked, ExampleLength]
        var labels = new int[indices.Count];
        for (int k = 0; k < indices.Count; k++)
        {
            data.Example(indices[k]).CopyTo(inputs.AsSpan(k * n, n));
            labels[k] = relabel(data.Labels![indices[k]]);
        }
        return Dataset.FromArrays(inputs, labels, data.ExampleShape, classCount);
    }
}
