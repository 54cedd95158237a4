// Bilinear resizing of [C, H, W] float images with half-pixel centres, i.e. PyTorch's
// F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False, antialias=False): source coordinate
// (dst + 0.5) * in/out - 0.5, clamped at 0 below, neighbours clamped to the last row/column. No antialiasing, so
// strong downscaling aliases (torchvision's Resize(antialias=True) differs there; it is not matched).
namespace ModelGen.Data;

/// <summary>Resizes channel-major float images.</summary>
public static class ImageResize
{
    /// <summary>
    /// Bilinear resize of <paramref name="source"/> <c>[channels, height, width]</c> to <paramref name="destination"/>
    /// <c>[channels, outHeight, outWidth]</c>, as <c>F.interpolate(mode="bilinear", align_corners=False, antialias=False)</c>:
    /// for output row <c>y</c>, <c>sy = max(0, (y + 0.5) · height / outHeight − 0.5)</c>, rows <c>⌊sy⌋</c> and
    /// <c>min(⌊sy⌋ + 1, height − 1)</c> weighted <c>1 − (sy − ⌊sy⌋)</c> and <c>sy − ⌊sy⌋</c>; likewise for columns.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    /// <exception cref="ArgumentException">A span's length is not <c>channels × height × width</c> of its image.</exception>
    public static void Bilinear(ReadOnlySpan<float> source, int channels, int height, int width,
                                Span<float> destination, int outHeight, int outWidth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outWidth);
        if (source.Length != (long)channels * height * width)
            throw new ArgumentException($"source has {source.Length} floats, expected {channels} × {height} × {width}.", nameof(source));
        if (destination.Length != (long)channels * outHeight * outWidth)
            throw new ArgumentException($"destination has {destination.Length} floats, expected {channels} × {outHeight} × {outWidth}.", nameof(destination));
        if (height == outHeight && width == outWidth)
        {
            source.CopyTo(destination);
            return;
        }
        float scaleY = (float)height / outHeight, scaleX = (float)width / outWidth;
        // Column taps are the same for every row and channel: computed once per call (stackalloc for ordinary widths).
        Span<int> x0s = outWidth <= 512 ? stackalloc int[outWidth] : new int[outWidth];
        Span<int> x1s = outWidth <= 512 ? stackalloc int[outWidth] : new int[outWidth];
        Span<float> wxs = outWidth <= 512 ? stackalloc float[outWidth] : new float[outWidth];
        for (int x = 0; x < outWidth; x++)
        {
            float sx = MathF.Max(0, (x + 0.5f) * scaleX - 0.5f);
            int x0 = Math.Min((int)sx, width - 1);
            x0s[x] = x0;
            x1s[x] = Math.Min(x0 + 1, width - 1);
            wxs[x] = sx - x0;
        }
        for (int c = 0; c < channels; c++)
        {
            var plane = source.Slice(c * height * width, height * width);
            var output = destination.Slice(c * outHeight * outWidth, outHeight * outWidth);
            for (int y = 0; y < outHeight; y++)
            {
                float sy = MathF.Max(0, (y + 0.5f) * scaleY - 0.5f);
                int y0 = Math.Min((int)sy, height - 1), y1 = Math.Min(y0 + 1, height - 1);
                float wy = sy - y0;
                var row0 = plane.Slice(y0 * width, width);
                var row1 = plane.Slice(y1 * width, width);
                var outRow = output.Slice(y * outWidth, outWidth);
                for (int x = 0; x < outWidth; x++)
                {
                    float top = row0[x0s[x]] + (row0[x1s[x]] - row0[x0s[x]]) * wxs[x];
                    float bottom = row1[x0s[x]] + (row1[x1s[x]] - row1[x0s[x]]) * wxs[x];
                    outRow[x] = top + (bottom - top) * wy;
                }
            }
        }
    }
}
