// ModelWeights.LoadWeights: PyTorch's load_state_dict(strict) with a prefix map and an include filter. Covers the report
// (loaded, missing, unexpected, skipped), strict failures, shape mismatches that fail even when not strict, and
// atomicity: every rejected load, and a read that fails half-way, leaves the model exactly as it was.
using ModelGen.Serialization;

namespace ModelGen.Tests.Serialization;

public sealed class PartialLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelgen-partial-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SavedSource(out TlSource source, int seed = 1)
    {
        source = new TlSource(seed);
        string path = Path.Combine(_dir, $"source-{seed}.safetensors");
        source.Save(path);
        return path;
    }

    private static LoadOptions BackboneIntoFeatures(bool includeOnlyBackbone) => includeOnlyBackbone
        ? new LoadOptions { Strict = false, PrefixMap = { ["backbone."] = "features." }, Include = { "backbone." } }
        : new LoadOptions { Strict = false, PrefixMap = { ["backbone."] = "features." } };

    [Fact]
    public void LoadWeights_PrefixMapAndInclude_LoadsBackboneOnlyAndReportsTheHead()
    {
        string path = SavedSource(out var source);
        var target = new TlTarget(2);
        float[] headBefore = target.Head.Parameter("weight").ToArray();

        var report = target.LoadWeights(path, BackboneIntoFeatures(includeOnlyBackbone: true));

        Assert.Equal(["features.fc1.weight", "features.fc1.bias", "features.fc2.weight", "features.fc2.bias"], report.Loaded);
        Assert.Equal(["head.weight", "head.bias"], report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Equal(["head.bias", "head.weight"], report.Skipped);
        Assert.Equal(source.Backbone.Parameters.ToArray(), target.Features.Parameters.ToArray());
        Assert.Equal(headBefore, target.Head.Parameter("weight").ToArray());
        Assert.Equal("loaded 4 tensors; 2 missing: head.weight, head.bias; 2 skipped: head.bias, head.weight", report.ToString());
    }

    [Fact]
    public void LoadWeights_PrefixMapWithoutInclude_AlsoLoadsTheSameShapedHead()
    {
        string path = SavedSource(out var source);
        var target = new TlTarget(2);

        var report = target.LoadWeights(path, BackboneIntoFeatures(includeOnlyBackbone: false));

        Assert.Equal(6, report.Loaded.Count);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Equal(source.Parameters.ToArray(), target.Parameters.ToArray());
    }

    [Fact]
    public void LoadWeights_NotStrictWithoutMap_LoadsMatchingNamesAndReportsTheRest()
    {
        string path = SavedSource(out var source);
        var target = new TlTarget(2);
        float[] featuresBefore = target.Features.Parameters.ToArray();

        var report = target.LoadWeights(path, new LoadOptions { Strict = false });

        Assert.Equal(["head.weight", "head.bias"], report.Loaded);
        Assert.Equal(["features.fc1.weight", "features.fc1.bias", "features.fc2.weight", "features.fc2.bias"], report.Missing);
        Assert.Equal(["backbone.fc1.bias", "backbone.fc1.weight", "backbone.fc2.bias", "backbone.fc2.weight"], report.Unexpected);
        Assert.Empty(report.Skipped);
        Assert.Equal(source.Head.Parameter("weight").ToArray(), target.Head.Parameter("weight").ToArray());
        Assert.Equal(featuresBefore, target.Features.Parameters.ToArray());
    }

    [Fact]
    public void LoadWeights_StrictByDefault_ThrowsListingMissingAndUnexpectedAndChangesNothing()
    {
        string path = SavedSource(out _);
        var target = new TlTarget(2);
        float[] before = target.Parameters.ToArray();

        // (target.LoadWeights(path) without options is the generated strict load, with SafeTensors.Load's messages.)
        var e = Assert.Throws<InvalidDataException>(() => target.LoadWeights(path, new LoadOptions()));

        Assert.Equal(path + ": 2 problems: missing from the file (strict): 'features.fc1.weight', 'features.fc1.bias', "
            + "'features.fc2.weight', 'features.fc2.bias'; unexpected in the file (strict): 'backbone.fc1.bias', "
            + "'backbone.fc1.weight', 'backbone.fc2.bias', 'backbone.fc2.weight'", e.Message);
        Assert.Equal(before, target.Parameters.ToArray());
    }

    [Fact]
    public void LoadWeights_StrictWithPrefixMap_LoadsEverything()
    {
        string path = SavedSource(out var source);
        var target = new TlTarget(2);

        var report = target.LoadWeights(path, new LoadOptions { PrefixMap = { ["backbone."] = "features." } });

        Assert.Equal(6, report.Loaded.Count);
        Assert.Equal(source.Parameters.ToArray(), target.Parameters.ToArray());
    }

    [Fact]
    public void LoadWeights_ShapeMismatchWhenNotStrict_ThrowsAndLoadsNothingElse()
    {
        string path = SavedSource(out _);
        var wide = new TlWide(2);
        float[] before = wide.Parameters.ToArray();

        var e = Assert.Throws<InvalidDataException>(() => wide.LoadWeights(path, BackboneIntoFeatures(includeOnlyBackbone: false)));

        Assert.Contains("size mismatch for 'head.weight': the file has shape [2, 3], the model [5, 3]", e.Message);
        Assert.Contains("size mismatch for 'head.bias': the file has shape [2], the model [5]", e.Message);
        Assert.Equal(before, wide.Parameters.ToArray());   // the matching features.* were not loaded either
    }

    [Fact]
    public void LoadWeights_ShapeMismatchThroughPrefixMap_NamesBothNames()
    {
        // The source's backbone.fc2.weight [3, 4] mapped onto head.weight [5, 3]: the message shows the file name and the mapped one.
        string path = SavedSource(out _);
        var wide = new TlWide(2);

        var e = Assert.Throws<InvalidDataException>(() => wide.LoadWeights(path,
            new LoadOptions { Strict = false, PrefixMap = { ["backbone.fc2."] = "head." }, Include = { "backbone.fc2." } }));

        Assert.Contains("size mismatch for 'backbone.fc2.weight' (as 'head.weight'): the file has shape [3, 4], the model [5, 3]", e.Message);
    }

    [Fact]
    public void LoadWeights_MapOrIncludeMatchingNothing_ThrowsNamingIt()
    {
        string path = SavedSource(out _);
        var target = new TlTarget(2);
        float[] before = target.Parameters.ToArray();

        var e = Assert.Throws<InvalidDataException>(() => target.LoadWeights(path,
            new LoadOptions { Strict = false, PrefixMap = { ["bakbone."] = "features." }, Include = { "head", "nothing." } }));

        Assert.Contains("prefix-map key 'bakbone.' matches no tensor in the file", e.Message);
        Assert.Contains("include prefix 'nothing.' matches no tensor in the file", e.Message);
        Assert.DoesNotContain("'head'", e.Message);
        Assert.Equal(before, target.Parameters.ToArray());
    }

    [Fact]
    public void LoadWeights_TwoFileTensorsOntoOneModelTensor_Throws()
    {
        // A file holding both backbone.* and features.* (as a hand-merged checkpoint might): mapping backbone. -> features.
        // would load two tensors into each features.* tensor.
        string path = Path.Combine(_dir, "both.safetensors");
        var infos = new ParameterInfo[] { new("backbone.fc1.bias", [4], 0, 4), new("features.fc1.bias", [4], 4, 4) };
        SafeTensors.Save(path, infos, new float[8]);
        var target = new TlTarget(2);

        var e = Assert.Throws<InvalidDataException>(() => target.LoadWeights(path,
            new LoadOptions { Strict = false, PrefixMap = { ["backbone."] = "features." } }));

        Assert.Contains("tensors 'backbone.fc1.bias' and 'features.fc1.bias' both map to 'features.fc1.bias'", e.Message);
    }

    [Fact]
    public void LoadWeights_LongestPrefixWins()
    {
        string path = SavedSource(out var source);
        var target = new TlTarget(2);
        float[] fc1Before = target.Features.Fc1.Parameter("weight").ToArray();

        // backbone.fc2.* take the longer key (to features.fc2.*); backbone.fc1.* the shorter one, to names the model lacks.
        var report = target.LoadWeights(path, new LoadOptions
        {
            Strict = false,
            Include = { "backbone." },
            PrefixMap = { ["backbone."] = "elsewhere.", ["backbone.fc2."] = "features.fc2." },
        });

        Assert.Equal(["features.fc2.weight", "features.fc2.bias"], report.Loaded);
        Assert.Equal(["backbone.fc1.bias", "backbone.fc1.weight"], report.Unexpected);
        Assert.Equal(source.Backbone.Fc2.Parameter("weight").ToArray(), target.Features.Fc2.Parameter("weight").ToArray());
        Assert.Equal(fc1Before, target.Features.Fc1.Parameter("weight").ToArray());
    }

    [Fact]
    public void LoadWeights_ReadFailingHalfWay_LeavesTheModelUnchanged()
    {
        string path = SavedSource(out _);
        byte[] bytes = File.ReadAllBytes(path);
        var target = new TlTarget(2);
        float[] before = target.Parameters.ToArray();
        // The header (and so the validation) reads fine; the data read fails after the first tensor's bytes.
        long headerEnd = 8 + BitConverter.ToInt64(bytes, 0);
        using var stream = new FailingStream(bytes, failAfter: headerEnd + 8);

        Assert.Throws<IOException>(() => target.LoadWeights(stream, "failing", BackboneIntoFeatures(includeOnlyBackbone: false)));

        Assert.Equal(before, target.Parameters.ToArray());
    }

    [Fact]
    public void LoadWeights_FromStream_MatchesPathLoad()
    {
        string path = SavedSource(out var source);
        var target = new TlTarget(2);
        using var stream = File.OpenRead(path);

        var report = target.LoadWeights(stream, "source", BackboneIntoFeatures(includeOnlyBackbone: true));

        Assert.Equal(4, report.Loaded.Count);
        Assert.Equal(source.Backbone.Parameters.ToArray(), target.Features.Parameters.ToArray());
    }

    [Fact]
    public void LoadWeights_EmptyPrefix_ThrowsArgumentException()
    {
        string path = SavedSource(out _);
        var target = new TlTarget(2);
        Assert.Throws<ArgumentException>(() => target.LoadWeights(path, new LoadOptions { PrefixMap = { [""] = "x." } }));
        Assert.Throws<ArgumentException>(() => target.LoadWeights(path, new LoadOptions { Include = { "" } }));
    }

    /// <summary>A read-only seekable stream over bytes that throws <see cref="IOException"/> once a read reaches <c>failAfter</c>.</summary>
    private sealed class FailingStream(byte[] bytes, long failAfter) : MemoryStream(bytes, writable: false)
    {
        // Both overloads check; each calls its own base (a derived MemoryStream's Read(Span) goes through Read(byte[], ...)).
        public override int Read(Span<byte> buffer)
        {
            if (Position + buffer.Length > failAfter) throw new IOException("simulated read failure");
            return base.Read(buffer);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Position + count > failAfter) throw new IOException("simulated read failure");
            return base.Read(buffer, offset, count);
        }
    }
}
