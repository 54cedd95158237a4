// Augmentations: exact pixels for known translations and flips, torchvision crop semantics, seeded draws.
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class AugmentationTests
{
    // A 3×4 image with distinct values 1..12 (row-major), shape [1, 3, 4].
    private static float[] Image() => Enumerable.Range(1, 12).Select(i => (float)i).ToArray();
    private static readonly int[] Shape = [1, 3, 4];

    [Fact]
    public void Translate_DownRight_ShiftsContentAndZeroFills()
    {
        var img = Image();
        ImageTransforms.Translate(Shape, img, dy: 1, dx: 2);
        Assert.Equal(new float[] { 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 5, 6 }, img);
    }

    [Fact]
    public void Translate_UpLeft_ShiftsContentAndZeroFills()
    {
        var img = Image();
        ImageTransforms.Translate(Shape, img, dy: -1, dx: -1);
        Assert.Equal(new float[] { 6, 7, 8, 0, 10, 11, 12, 0, 0, 0, 0, 0 }, img);
    }

    [Fact]
    public void Translate_HorizontalOnlyAndMultiChannel_MatchesReference()
    {
        // Two channels of a [2, 3, 4] image, checked against out[c,y,x] = in[c, y-dy, x-dx].
        var rng = new Rng(5);
        int[] shape = [2, 3, 4];
        for (int trial = 0; trial < 50; trial++)
        {
            var src = Enumerable.Range(0, 24).Select(_ => rng.NextFloat()).ToArray();
            int dy = rng.NextInt(9) - 4, dx = rng.NextInt(11) - 5;
            var img = (float[])src.Clone();
            ImageTransforms.Translate(shape, img, dy, dx);
            for (int c = 0; c < 2; c++)
                for (int y = 0; y < 3; y++)
                    for (int x = 0; x < 4; x++)
                    {
                        int sy = y - dy, sx = x - dx;
                        float expected = sy is >= 0 and < 3 && sx is >= 0 and < 4 ? src[c * 12 + sy * 4 + sx] : 0f;
                        Assert.Equal(expected, img[c * 12 + y * 4 + x]);
                    }
        }
    }

    [Fact]
    public void FlipHorizontal_ReversesEveryRow()
    {
        var img = Image();
        ImageTransforms.FlipHorizontal([3, 4], img);
        Assert.Equal(new float[] { 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9 }, img);
    }

    [Fact]
    public void RandomHorizontalFlip_ProbabilityZeroAndOne_NeverAndAlways()
    {
        var rng = new Rng(1);
        var img = Image();
        new RandomHorizontalFlip(0).Apply(Shape, img, rng);
        Assert.Equal(Image(), img);
        new RandomHorizontalFlip(1).Apply(Shape, img, rng);
        Assert.Equal(4f, img[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomHorizontalFlip(1.5));
    }

    [Fact]
    public void RandomHorizontalFlip_Half_FlipsAboutHalf()
    {
        var rng = new Rng(11);
        var flip = new RandomHorizontalFlip();
        int flips = 0;
        for (int i = 0; i < 2000; i++)
        {
            var img = Image();
            flip.Apply(Shape, img, rng);
            if (img[0] == 4f) flips++;
        }
        Assert.InRange(flips, 900, 1100);
    }

    [Fact]
    public void RandomCrop_MatchesPadThenCropAtTheDrawnOffset()
    {
        const int p = 2;
        var crop = new RandomCrop(p);
        var rng = new Rng(42);
        var replay = new Rng(42);
        var offsets = new HashSet<(int, int)>();
        for (int trial = 0; trial < 200; trial++)
        {
            var img = Image();
            crop.Apply(Shape, img, rng);
            int top = replay.NextInt(2 * p + 1), left = replay.NextInt(2 * p + 1);   // torchvision draws i then j
            offsets.Add((top, left));
            // Reference: explicit zero-padded (3+2p)×(4+2p) image, then the 3×4 window at (top, left).
            var padded = new float[(3 + 2 * p) * (4 + 2 * p)];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++) padded[(y + p) * (4 + 2 * p) + x + p] = Image()[y * 4 + x];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++)
                    Assert.Equal(padded[(y + top) * (4 + 2 * p) + x + left], img[y * 4 + x]);
        }
        Assert.Equal(25, offsets.Count);   // every offset in [0, 2p]² occurs
    }

    [Fact]
    public void RandomShift_DrawsEachAxisInRange()
    {
        var shift = new RandomShift(1);
        var rng = new Rng(3);
        var replay = new Rng(3);
        for (int trial = 0; trial < 50; trial++)
        {
            var img = Image();
            shift.Apply(Shape, img, rng);
            int dy = replay.NextInt(3) - 1, dx = replay.NextInt(3) - 1;
            var expected = Image();
            ImageTransforms.Translate(Shape, expected, dy, dx);
            Assert.Equal(expected, img);
        }
    }

    [Fact]
    public void Compose_AppliesStepsInOrder()
    {
        var img = Image();
        new Compose(new RandomHorizontalFlip(1), new RandomShift(0)).Apply(Shape, img, new Rng(0));
        Assert.Equal(new float[] { 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9 }, img);
        Assert.Throws<ArgumentNullException>(() => new Compose(new RandomShift(1), null!));
    }

    [Fact]
    public void Translate_ShapeMismatch_ThrowsExpectedVsActual()
    {
        var e = Assert.Throws<ArgumentException>(() => ImageTransforms.Translate([1, 3, 3], new float[12], 1, 1));
        Assert.Contains("example has 12 floats but shape [1, 3, 3] describes 9", e.Message);
        Assert.Throws<ArgumentException>(() => ImageTransforms.FlipHorizontal([12], new float[12]));
    }
}
