// .npy/.npz reading: every supported dtype from headers built as NumPy writes them (independently of Npy.Write), both
// byte orders and format versions, and each malformed input rejected with the file, offset and what was wrong.
using System.IO.Compression;
using System.Text;
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public sealed class NpyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("npy-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A .npy file as np.save writes it: magic, version, length, the dict padded with spaces to 64 bytes, '\n', data.</summary>
    private static byte[] NumpyFile(string dict, byte[] data, byte major = 1)
    {
        int lengthSize = major == 1 ? 2 : 4;
        int total = 6 + 2 + lengthSize + dict.Length + 1;
        string header = dict + new string(' ', (total + 63) / 64 * 64 - total) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 };
        bytes.AddRange(major == 1 ? BitConverter.GetBytes((ushort)header.Length) : BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    private string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Bytes<T>(params T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    [Fact]
    public void Read_EveryDType_ValuesAndShape()
    {
        var f4 = Npy.Read(WriteFile("f4.npy", NumpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", Bytes(0f, 1, 2, 3, 4, 5.5f))));
        Assert.Equal(NpyDType.Float32, f4.DType);
        Assert.Equal([2, 3], f4.Shape);
        Assert.Equal([0f, 1, 2, 3, 4, 5.5f], (float[])f4.Data);

        var f8 = Npy.Read(WriteFile("f8.npy", NumpyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", Bytes(0.1, -2.0, 1e300))));
        Assert.Equal([0.1, -2.0, 1e300], (double[])f8.Data);
        Assert.Equal([0.1f, -2f, float.PositiveInfinity], f8.ToFloat32());

        var i4 = Npy.Read(WriteFile("i4.npy", NumpyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", Bytes(7, -1, 3))));
        Assert.Equal([7, -1, 3], (int[])i4.Data);

        var i8 = Npy.Read(WriteFile("i8.npy", NumpyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", Bytes(5L, 9L))));
        Assert.Equal([5, 9], i8.ToLabels("i8"));

        var u1 = Npy.Read(WriteFile("u1.npy", NumpyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2), }", [0, 51, 255, 3])));
        Assert.Equal([1, 2, 2], u1.Shape);
        Assert.Equal([0f, 0.2f, 1f, 3f / 255], u1.ToFloat32(scaleUInt8: true));
        Assert.Equal([0f, 51f, 255f, 3f], u1.ToFloat32());

        var scalar = Npy.Read(WriteFile("s.npy", NumpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", Bytes(2.5f))));
        Assert.Empty(scalar.Shape);
        Assert.Equal(1, scalar.Count);
    }

    [Fact]
    public void Read_BigEndianAndVersion2And3_KeysInAnyOrder()
    {
        byte[] big = [0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0];   // 1.0f, -2.0f big-endian
        var a = Npy.Read(WriteFile("be.npy", NumpyFile("{'shape': (2,), 'fortran_order': False, 'descr': '>f4'}", big)));
        Assert.Equal([1f, -2f], (float[])a.Data);
        var b = Npy.Read(WriteFile("v2.npy", NumpyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", Bytes(42), major: 2)));
        Assert.Equal([42], (int[])b.Data);
        var c = Npy.Read(WriteFile("v3.npy", NumpyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", Bytes(43), major: 3)));
        Assert.Equal([43], (int[])c.Data);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "'fortran_order' is True")]
    [InlineData("{'descr': '|O', 'fortran_order': False, 'shape': (4,), }", "dtype is object")]
    [InlineData("{'descr': '<f2', 'fortran_order': False, 'shape': (8,), }", "dtype '<f2' is not supported")]
    [InlineData("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", "dtype '<U3' is not supported")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", "structured/record dtype")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, }", "lacks 'shape'")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }", "expected True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4, -1), }", "expected a dimension")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", "unexpected key 'x'")]
    public void Read_BadHeader_NamesFileAndProblem(string dict, string expected)
    {
        string path = WriteFile("bad.npy", NumpyFile(dict, new byte[16]));
        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Read_BadMagicVersionTruncatedTrailingEmpty_NamesFileAndOffset()
    {
        byte[] good = NumpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", Bytes(1f, 2, 3, 4));

        var e = Assert.Throws<InvalidDataException>(() => Npy.Read(WriteFile("magic.npy", [.. "PK\u0003\u0004NUMPY"u8.ToArray(), .. good[8..]])));
        Assert.Contains("magic.npy: offset 0: bad magic", e.Message);

        byte[] v9 = [.. good];
        v9[6] = 9;
        e = Assert.Throws<InvalidDataException>(() => Npy.Read(WriteFile("v9.npy", v9)));
        Assert.Contains("v9.npy: offset 6: format version 9.0 is not supported", e.Message);

        e = Assert.Throws<InvalidDataException>(() => Npy.Read(WriteFile("short.npy", good[..^3])));
        Assert.Contains($"short.npy: offset {good.Length - 3}: truncated: shape [2, 2] of float32 needs 16 data bytes after the 128-byte header, found 13", e.Message);

        e = Assert.Throws<InvalidDataException>(() => Npy.Read(WriteFile("long.npy", [.. good, 0])));
        Assert.Contains("long.npy: offset 144: unexpected trailing data after the 16 bytes", e.Message);

        e = Assert.Throws<InvalidDataException>(() => Npy.Read(WriteFile("empty.npy", [])));
        Assert.Contains("empty.npy: offset 0: empty file", e.Message);

        e = Assert.Throws<InvalidDataException>(() => Npy.Read(WriteFile("header.npy", good[..40])));
        Assert.Contains("header.npy: offset 40: truncated: file ends inside the 118-byte header", e.Message);
    }

    [Fact]
    public void Write_RoundTripsEveryDType_HeaderAlignedAsNumpy()
    {
        Array[] arrays = [new float[] { 1, -2, 3.25f }, new double[] { 1e-300, 2 }, new int[] { -5, 6 }, new long[] { long.MaxValue }, new byte[] { 0, 255 }];
        foreach (var data in arrays)
        {
            string path = Path.Combine(_dir, "rt.npy");
            Npy.Write(path, new NpyArray(data, [data.Length]));
            var back = Npy.Read(path);
            Assert.Equal(data, back.Data);
            Assert.Equal([data.Length], back.Shape);
            Assert.Equal(0, Npy.ReadHeader(path).DataOffset % 64);
        }
        string p2 = Path.Combine(_dir, "2d.npy");
        Npy.Write(p2, new NpyArray(new float[6], [2, 3]));
        Assert.Contains("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", File.ReadAllText(p2, Encoding.Latin1));
    }

    [Fact]
    public void Npz_ReadsStoredAndDeflatedEntries_FromNpzBuildsDataset()
    {
        foreach (bool compress in (bool[])[false, true])
        {
            string path = Path.Combine(_dir, $"d{compress}.npz");
            Npy.WriteNpz(path, new Dictionary<string, NpyArray>
            {
                ["x"] = new(new byte[] { 0, 255, 51, 0, 0, 0 }, [3, 1, 2]),
                ["y"] = new(new long[] { 2, 0, 1 }, [3]),
            }, compress);
            var arrays = Npy.ReadNpz(path);
            Assert.Equal(["x", "y"], arrays.Keys.Order());
            var data = Dataset.FromNpz(path);
            Assert.Equal(3, data.Count);
            Assert.Equal([1, 2], data.ExampleShape);
            Assert.Equal(3, data.ClassCount);
            Assert.Equal([2, 0, 1], data.Labels!);
            Assert.Equal([0f, 1f, 0.2f, 0f, 0f, 0f], data.Inputs);
        }
    }

    [Fact]
    public void Npz_Errors_NameArchiveAndEntry()
    {
        string notZip = WriteFile("nz.npz", Encoding.ASCII.GetBytes("not a zip at all, just text"));
        var e = Assert.Throws<InvalidDataException>(() => Npy.ReadNpz(notZip));
        Assert.Contains("nz.npz: not a .npz (zip) archive", e.Message);

        string path = Path.Combine(_dir, "mixed.npz");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var s = zip.CreateEntry("x.npy").Open()) s.Write(NumpyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", new byte[4]));
        }
        e = Assert.Throws<InvalidDataException>(() => Npy.ReadNpz(path));
        Assert.Contains("mixed.npz: entry 'x.npy': offset 10: 'fortran_order' is True", e.Message);

        string missing = Path.Combine(_dir, "missing.npz");
        Npy.WriteNpz(missing, new Dictionary<string, NpyArray> { ["images"] = new(new float[2], [1, 2]) });
        e = Assert.Throws<InvalidDataException>(() => Dataset.FromNpz(missing));
        Assert.Contains("missing.npz: no entry 'x.npy'; the archive holds 'images'", e.Message);
    }

    [Fact]
    public void FromNpy_MismatchedCountsFloatLabelsOutOfRange_Throw()
    {
        string x = Path.Combine(_dir, "x.npy"), y = Path.Combine(_dir, "y.npy");
        Npy.Write(x, new NpyArray(new float[6], [3, 2]));
        Npy.Write(y, new NpyArray(new int[] { 0, 1 }, [2]));
        var e = Assert.Throws<InvalidDataException>(() => Dataset.FromNpy(x, y));
        Assert.Contains("y.npy has 2 labels but", e.Message);
        Assert.Contains("x.npy has 3 examples", e.Message);

        Npy.Write(y, new NpyArray(new float[] { 0, 1, 1 }, [3]));
        e = Assert.Throws<InvalidDataException>(() => Dataset.FromNpy(x, y));
        Assert.Contains("y.npy: labels have dtype float32; expected an integer dtype", e.Message);

        Npy.Write(y, new NpyArray(new int[] { 0, 5, 1 }, [3]));
        e = Assert.Throws<InvalidDataException>(() => Dataset.FromNpy(x, y, classCount: 3));
        Assert.Contains("y.npy: label #1 is 5, expected a class in [0, 3)", e.Message);

        Npy.Write(y, new NpyArray(new int[] { 0, -1, 1 }, [3]));
        e = Assert.Throws<InvalidDataException>(() => Dataset.FromNpy(x, y));
        Assert.Contains("label #1 is -1", e.Message);

        Npy.Write(x, new NpyArray(new float[3], [3]));
        e = Assert.Throws<InvalidDataException>(() => Dataset.FromNpy(x, y));
        Assert.Contains("x.npy: shape [3]; expected [count, example dims...]", e.Message);
    }
}
