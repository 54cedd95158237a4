// Deterministic, in-place image operations that the random augmentations are built from. Images are [C, H, W]
// (any number of leading dimensions is treated as channels) or [H, W], row-major, as PyTorch lays them out.
// Everything works in place with overlap-safe span copies, so no call allocates.
namespace ModelGen.Data;

/// <summary>In-place geometric operations on one image (<c>[C, H, W]</c> or <c>[H, W]</c>, row-major).</summary>
public static class ImageTransforms
{
    /// <summary>
    /// Translates every channel by <paramref name="dy"/> rows and <paramref name="dx"/> columns, filling uncovered
    /// pixels with zero: effectively <c>out[c, y, x] = in[c, y - dy, x - dx]</c>, or 0 where that is outside the image.
    /// Positive <paramref name="dy"/> moves content down, positive <paramref name="dx"/> moves it right.
    /// </summary>
    /// <exception cref="ArgumentException">The shape has fewer than 2 dimensions or does not match the example's length.</exception>
    public static void Translate(ReadOnlySpan<int> shape, Span<float> image, int dy, int dx)
    {
        var (channels, height, width) = Geometry(shape, image.Length);
        if (dy == 0 && dx == 0) return;
        if (dy >= height || dy <= -height || dx >= width || dx <= -width)   // nothing survives
        {
            image.Clear();
            return;
        }
        int keep = width - Math.Abs(dx);            // columns that survive the horizontal shift
        int srcX = Math.Max(0, -dx), dstX = Math.Max(0, dx);
        for (int c = 0; c < channels; c++)
        {
            Span<float> plane = image.Slice(c * height * width, height * width);   // [H, W]
            // Walk rows away from the direction of motion so that each source row is read before it is overwritten.
            int start = dy > 0 ? height - 1 : 0, step = dy > 0 ? -1 : 1;
            for (int y = start; (uint)y < (uint)height; y += step)
            {
                Span<float> dst = plane.Slice(y * width, width);
                int sy = y - dy;
                if ((uint)sy >= (uint)height)
                {
                    dst.Clear();
                    continue;
                }
                // Span.CopyTo has memmove semantics, so the same-row case (dy == 0) is safe too.
                plane.Slice(sy * width + srcX, keep).CopyTo(dst.Slice(dstX, keep));
                if (dx > 0) dst[..dx].Clear();
                else if (dx < 0) dst[keep..].Clear();
            }
        }
    }

    /// <summary>Mirrors every row left to right: <c>out[c, y, x] = in[c, y, W - 1 - x]</c>.</summary>
    /// <exception cref="ArgumentException">The shape has fewer than 2 dimensions or does not match the example's length.</exception>
    public static void FlipHorizontal(ReadOnlySpan<int> shape, Span<float> image)
    {
        var (channels, height, width) = Geometry(shape, image.Length);
        for (int row = 0; row < channels * height; row++)
            image.Slice(row * width, width).Reverse();
    }

    /// <summary>Splits an image shape into (channels, height, width), checking it against the example's length.</summary>
    internal static (int Channels, int Height, int Width) Geometry(ReadOnlySpan<int> shape, int length)
    {
        if (shape.Length < 2)
            throw new ArgumentException(
                $"image augmentation needs a [C, H, W] or [H, W] example shape, got {Dataset.Format(shape)}.", nameof(shape));
        long channels = 1;
        for (int i = 0; i < shape.Length - 2; i++) channels *= shape[i];
        int height = shape[^2], width = shape[^1];
        if (height <= 0 || width <= 0 || channels <= 0 || channels * height * width != length)
            throw new ArgumentException(
                $"example has {length} floats but shape {Dataset.Format(shape)} describes {channels * height * width}.", nameof(shape));
        return ((int)channels, height, width);
    }
}
