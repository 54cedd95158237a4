// CSV tables: parsing with line numbers, ragged and non-numeric rows rejected naming file and line, statistics from the
// training rows only, one-hot categories, class order, regression targets, the schema saved as metadata.
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public sealed class CsvTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("csv-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Read_QuotedFieldsSeparatorDetectionAndLineNumbers()
    {
        var t = CsvTable.Read(Write("a.csv", "name,size,kind\n\"Smith, J\",1.5,a\n\"say \"\"hi\"\"\",2,b\n"));
        Assert.Equal(["name", "size", "kind"], t.Columns);
        Assert.Equal(2, t.Count);
        Assert.Equal("Smith, J", t.Cell(0, 0));
        Assert.Equal("say \"hi\"", t.Cell(1, 0));
        Assert.Equal(2, t.LineNumber(0));
        Assert.Equal(3, t.LineNumber(1));
        var semi = CsvTable.Read(Write("b.csv", "x;y\n1;2\n"));
        Assert.Equal(["x", "y"], semi.Columns);
        Assert.Equal("2", semi.Cell(0, 1));
    }

    [Fact]
    public void Read_RaggedEmptyOrBadHeader_NamesFileAndLine()
    {
        string ragged = Write("r.csv", "a,b,c\n1,2,3\n4,5\n");
        var e = Assert.Throws<InvalidDataException>(() => CsvTable.Read(ragged));
        Assert.Equal($"{ragged}: line 3: has 2 fields, expected 3 as in the header (a, b, c).", e.Message);
        string extra = Write("x.csv", "a,b\n1,2\n3,4,5\n");
        Assert.Contains("line 3: has 3 fields, expected 2", Assert.Throws<InvalidDataException>(() => CsvTable.Read(extra)).Message);
        Assert.Contains("empty file", Assert.Throws<InvalidDataException>(() => CsvTable.Read(Write("e.csv", ""))).Message);
        Assert.Contains("no data rows after the header", Assert.Throws<InvalidDataException>(() => CsvTable.Read(Write("h.csv", "a,b\n"))).Message);
        e = Assert.Throws<InvalidDataException>(() => CsvTable.Read(Write("d.csv", "a,b,a\n1,2,3\n")));
        Assert.Contains("d.csv: line 1: the header repeats a column name", e.Message);
        Assert.Contains("a", e.Message[e.Message.IndexOf('(')..]);
        Assert.Throws<FileNotFoundException>(() => CsvTable.Read(Path.Combine(_dir, "none.csv")));
    }

    [Fact]
    public void Fit_StatisticsFromTrainingRowsOnly_AppliedToOtherRows()
    {
        var train = CsvTable.Read(Write("train.csv", "x,colour,label\n1,red,yes\n3,blue,no\n5,red,yes\n"));
        var test = CsvTable.Read(Write("test.csv", "x,colour,label\n100,green,no\n"));
        var schema = TabularSchema.Fit(train, "label");
        // x: mean 3, population std sqrt(8/3); colour: one-hot over [blue, red]; classes [no, yes].
        Assert.Equal(3, schema.FeatureLength);
        Assert.Equal(["no", "yes"], schema.ClassNames!.ToArray());
        var d = schema.ToDataset(train);
        double std = Math.Sqrt(8.0 / 3);
        Assert.Equal([(float)(-2 / std), 0f, 1f], d.Example(0).ToArray());
        Assert.Equal([0f, 1f, 0f], d.Example(1).ToArray());
        Assert.Equal([1, 0, 1], d.Labels!);
        var t = schema.ToDataset(test);
        Assert.Equal([(float)(97 / std), 0f, 0f], t.Example(0).ToArray());   // training statistics; unseen category all zero
        Assert.Equal(["no", "yes"], t.ClassNames!.ToArray());
    }

    [Fact]
    public void EncodeFeatures_RowsWithoutLabelColumn_MatchToDatasetInputs()
    {
        var train = CsvTable.Read(Write("train.csv", "x,colour,label\n1,red,yes\n3,blue,no\n5,red,yes\n"));
        var schema = TabularSchema.Fit(train, "label");
        Assert.Equal(schema.ToDataset(train).Inputs, schema.EncodeFeatures(train));
        // New rows to predict: columns in another order, no label column, an unseen category (all zero).
        var rows = CsvTable.Read(Write("new.csv", "colour,x\nblue,3\ngreen,100\n"));
        double std = Math.Sqrt(8.0 / 3);
        Assert.Equal([0f, 1f, 0f, (float)(97 / std), 0f, 0f], schema.EncodeFeatures(rows));
        string bad = Write("bad.csv", "x\n1\n");
        Assert.Contains($"{bad}: no column 'colour'", Assert.Throws<ArgumentException>(() => schema.EncodeFeatures(CsvTable.Read(bad))).Message);
        string word = Write("word.csv", "x,colour\n1,red\nabc,red\n");
        Assert.Equal($"{word}: line 3: column 'x' is 'abc', not a finite number (the column is numeric).",
                     Assert.Throws<InvalidDataException>(() => schema.EncodeFeatures(CsvTable.Read(word))).Message);
    }

    [Fact]
    public void Fit_IntegerClassesInNumericOrder_ForcedCategoricalAndIgnoredColumns()
    {
        var t = CsvTable.Read(Write("c.csv", "id,zip,v,y\n1,10,0.5,10\n2,2,0.5,2\n3,10,0.5,1\n"));
        var schema = TabularSchema.Fit(t, "y", new TabularOptions { Categorical = ["zip"], Ignore = ["id"] });
        Assert.Equal(["1", "2", "10"], schema.ClassNames!.ToArray());
        Assert.Equal(["zip", "v"], schema.Features.Select(f => f.Column));
        Assert.Equal(["10", "2"], schema.Features[0].Categories!.ToArray());
        var d = schema.ToDataset(t);
        Assert.Equal([1f, 0f, 0f], d.Example(0).ToArray());   // constant column: std 1, centred to 0
        Assert.Equal([2, 1, 0], d.Labels!);
    }

    [Fact]
    public void NonNumericAndMissingValues_NameFileLineColumnAndValue()
    {
        string path = Write("n.csv", "a,b,y\n1,2,p\n3,x4,q\n5,6,p\n");
        var t = CsvTable.Read(path);
        var e = Assert.Throws<InvalidDataException>(() => TabularSchema.Fit(t, "y"));
        Assert.Contains($"{path}: line 3: column 'b' holds 'x4', not a number, though 2 of its 3 values are numbers", e.Message);

        var schema = TabularSchema.Fit(CsvTable.Read(Write("ok.csv", "a,b,y\n1,2,p\n3,4,q\n")), "y");
        string test = Write("t.csv", "a,b,y\n1,2,p\n1,abc,q\n");
        e = Assert.Throws<InvalidDataException>(() => schema.ToDataset(CsvTable.Read(test)));
        Assert.Equal($"{test}: line 3: column 'b' is 'abc', not a finite number (the column is numeric).", e.Message);
        string unknown = Write("u.csv", "a,b,y\n1,2,z\n");
        e = Assert.Throws<InvalidDataException>(() => schema.ToDataset(CsvTable.Read(unknown)));
        Assert.Contains($"{unknown}: line 2: label 'y' is 'z', a class the training rows do not have (p, q)", e.Message);
        string missing = Write("m.csv", "a,b,y\n1,,p\n");
        e = Assert.Throws<InvalidDataException>(() => schema.ToDataset(CsvTable.Read(missing)));
        Assert.Contains($"{missing}: line 2: column 'b' is empty", e.Message);
        Assert.Contains("no column 'label'; the header has 'a', 'b', 'y'", Assert.Throws<ArgumentException>(() => TabularSchema.Fit(t, "label")).Message);
    }

    [Fact]
    public void Regression_TargetsAndBadTarget()
    {
        var t = CsvTable.Read(Write("r.csv", "x,price\n1,10.5\n2,-3\n"));
        var d = TabularSchema.Fit(t, "price", new TabularOptions { Regression = true }).ToDataset(t);
        Assert.Equal([10.5f, -3f], d.Targets!);
        Assert.Null(d.Labels);
        string bad = Write("rb.csv", "x,price\n1,10.5\n2,cheap\n");
        var e = Assert.Throws<InvalidDataException>(() => TabularSchema.Fit(CsvTable.Read(bad), "price", new TabularOptions { Regression = true }));
        Assert.Contains($"{bad}: line 3: regression target 'price' is 'cheap'", e.Message);
    }

    [Fact]
    public void Schema_MetadataRoundTrip_TransformsIdentically()
    {
        var t = CsvTable.Read(Write("s.csv", "x,c,y\n0.1,a,u\n0.7,b,v\n1.3,a,u\n"));
        var schema = TabularSchema.Fit(t, "y");
        var meta = new Dictionary<string, string>();
        schema.AddTo(meta);
        var back = TabularSchema.Read(meta, "w.safetensors")!;
        Assert.Equal(schema.ToDataset(t).Inputs, back.ToDataset(t).Inputs);
        Assert.Equal(schema.ClassNames, back.ClassNames);
        Assert.Null(TabularSchema.Read(new Dictionary<string, string>(), "w.safetensors"));
        var e = Assert.Throws<InvalidDataException>(() => TabularSchema.Read(new Dictionary<string, string> { [TabularSchema.MetadataKey] = "{\"label\":1}" }, "w.safetensors"));
        Assert.Contains("w.safetensors: metadata 'modelgen.tabular' is not a valid tabular schema", e.Message);
    }

    [Fact]
    public void Split_StratifiedSeededKeepsLineNumbers()
    {
        var text = "x,y\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"{i},{(i % 4 == 0 ? "a" : "b")}\n"));
        var t = CsvTable.Read(Write("sp.csv", text));
        var (train, validation) = t.Split(0.25, seed: 3, stratifyColumn: "y");
        var (_, again) = t.Split(0.25, seed: 3, stratifyColumn: "y");
        // Per class, halves away from zero: round(0.25 × 10) = 3 of "a", round(0.25 × 30) = 8 of "b".
        Assert.Equal(11, validation.Count);
        Assert.Equal(29, train.Count);
        Assert.Equal(Enumerable.Range(0, 11).Select(validation.LineNumber), Enumerable.Range(0, 11).Select(again.LineNumber));
        Assert.Equal(3, Enumerable.Range(0, 11).Count(r => validation.Cell(r, 1) == "a"));
        for (int r = 0; r < validation.Count; r++)
            Assert.Equal(validation.LineNumber(r) - 2, int.Parse(validation.Cell(r, 0)));
    }
}
