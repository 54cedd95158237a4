// Seeded data augmentations applied by BatchLoader to each example copy. Each draws its random numbers from the
// Rng it is given, so the same loader seed reproduces the same pixels; none allocates per call.
namespace ModelGen.Data;

/// <summary>A random transformation applied in place to one example.</summary>
/// <remarks>Implementations must draw all randomness from <c>rng</c> (for reproducibility) and should not allocate.</remarks>
public interface IAugmentation
{
    /// <summary>Transforms <paramref name="example"/> (laid out as <paramref name="exampleShape"/>) in place.</summary>
    void Apply(ReadOnlySpan<int> exampleShape, Span<float> example, Rng rng);
}

/// <summary>
/// Random integer translation: shifts the image by <c>dy</c>, <c>dx</c> drawn uniformly from
/// <c>[-maxShift, maxShift]</c> (independently per axis, <c>dy</c> first), filling uncovered pixels with zero.
/// </summary>
public sealed class RandomShift : IAugmentation
{
    /// <summary>Creates a shift of at most <paramref name="maxShift"/> pixels along each axis.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxShift"/> is negative.</exception>
    public RandomShift(int maxShift)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxShift);
        MaxShift = maxShift;
    }

    /// <summary>The largest shift along either axis, in pixels.</summary>
    public int MaxShift { get; }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<int> exampleShape, Span<float> example, Rng rng)
    {
        int dy = rng.NextInt(2 * MaxShift + 1) - MaxShift;
        int dx = rng.NextInt(2 * MaxShift + 1) - MaxShift;
        ImageTransforms.Translate(exampleShape, example, dy, dx);
    }
}

/// <summary>
/// torchvision's <c>RandomCrop(size=(H, W), padding=p)</c> with zero fill: pads the image by <c>p</c> on every side,
/// then crops an H×W window whose top and left offsets are drawn uniformly from <c>[0, 2p]</c> (top first).
/// </summary>
/// <remarks>
/// Cropping at offset (i, j) from the padded image gives <c>out[y, x] = in[y + i - p, x + j - p]</c>, which is a
/// translation by (p - i, p - j); it is computed that way, in place, without materialising the padded image.
/// </remarks>
public sealed class RandomCrop : IAugmentation
{
    /// <summary>Creates a pad-and-crop augmentation with <paramref name="padding"/> zero pixels on each side.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="padding"/> is negative.</exception>
    public RandomCrop(int padding)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        Padding = padding;
    }

    /// <summary>Zero padding added on each side before cropping.</summary>
    public int Padding { get; }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<int> exampleShape, Span<float> example, Rng rng)
    {
        int top = rng.NextInt(2 * Padding + 1);
        int left = rng.NextInt(2 * Padding + 1);
        ImageTransforms.Translate(exampleShape, example, Padding - top, Padding - left);
    }
}

/// <summary>Mirrors the image left to right with probability <c>p</c> (torchvision's <c>RandomHorizontalFlip</c>).</summary>
public sealed class RandomHorizontalFlip : IAugmentation
{
    /// <summary>Creates a flip applied with probability <paramref name="p"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public RandomHorizontalFlip(double p = 0.5)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "must be in [0, 1]");
        P = p;
    }

    /// <summary>Probability of flipping an example.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<int> exampleShape, Span<float> example, Rng rng)
    {
        // Always draw, even for p = 0 or 1, so that the random stream seen by later steps does not depend on p.
        if (rng.NextDouble() < P) ImageTransforms.FlipHorizontal(exampleShape, example);
    }
}

/// <summary>Applies several augmentations in order.</summary>
public sealed class Compose : IAugmentation
{
    private readonly IAugmentation[] _steps;

    /// <summary>Creates a pipeline of <paramref name="steps"/>, applied first to last.</summary>
    /// <exception cref="ArgumentNullException">A step is null.</exception>
    public Compose(params IAugmentation[] steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        for (int i = 0; i < steps.Length; i++)
            if (steps[i] is null) throw new ArgumentNullException(nameof(steps), $"steps[{i}] is null.");
        _steps = (IAugmentation[])steps.Clone();
    }

    /// <summary>The steps, in application order.</summary>
    public IReadOnlyList<IAugmentation> Steps => _steps;

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<int> exampleShape, Span<float> example, Rng rng)
    {
        foreach (var step in _steps) step.Apply(exampleShape, example, rng);
    }
}
