// IDX reader: raw and gzip input, and an error naming file and offset for every kind of malformed file.
using System.IO.Compression;
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class IdxTests
{
    private static byte[] Images(int count, int rows, int cols, int dataBytes = -1, byte type = 0x08, byte rank = 3)
    {
        var ms = new MemoryStream();
        ms.Write([0, 0, type, rank]);
        foreach (int d in new[] { count, rows, cols }[..rank]) ms.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        int n = dataBytes >= 0 ? dataBytes : count * rows * cols;
        for (int i = 0; i < n; i++) ms.WriteByte((byte)(i * 37));
        return ms.ToArray();
    }

    private static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    private static InvalidDataException ReadError(byte[] bytes) =>
        Assert.Throws<InvalidDataException>(() => Idx.ReadImages(new MemoryStream(bytes), "x.idx", 2, 3));

    [Fact]
    public void ReadImages_RawAndGzip_GiveSameBytesOver255()
    {
        byte[] raw = Images(2, 2, 3);
        float[] a = Idx.ReadImages(new MemoryStream(raw), "raw", 2, 3);
        float[] b = Idx.ReadImages(new MemoryStream(Gzip(raw)), "gz", 2, 3);
        Assert.Equal(12, a.Length);
        Assert.Equal(a, b);
        for (int i = 0; i < 12; i++) Assert.Equal((byte)(i * 37) / 255f, a[i]);
    }

    [Fact]
    public void ReadImages_BadMagic_ThrowsNamingFileAndOffset()
    {
        byte[] bytes = Images(1, 2, 3);
        bytes[0] = 0x12;
        var e = ReadError(bytes);
        Assert.StartsWith("x.idx: offset 0:", e.Message);
        Assert.Contains("bad magic", e.Message);
    }

    [Fact]
    public void ReadImages_FloatDataType_ThrowsUnsupported()
    {
        var e = ReadError(Images(1, 2, 3, type: 0x0D));
        Assert.Contains("offset 2", e.Message);
        Assert.Contains("0x0D", e.Message);
    }

    [Fact]
    public void ReadImages_WrongRank_Throws() =>
        Assert.Contains("has 1 dimensions, expected 3", ReadError(Images(6, 0, 0, dataBytes: 6, rank: 1)).Message);

    [Fact]
    public void ReadImages_WrongImageSize_ThrowsExpectedVsActual() =>
        Assert.Contains("images are 3×3, expected 2×3", ReadError(Images(1, 3, 3)).Message);

    [Fact]
    public void ReadImages_TruncatedData_ThrowsWithOffsetAndCounts()
    {
        var e = ReadError(Images(2, 2, 3, dataBytes: 7));
        Assert.Contains("offset 23", e.Message);   // 16-byte header + 7 bytes present
        Assert.Contains("need 12 data bytes", e.Message);
        Assert.Contains("found 7", e.Message);
    }

    [Fact]
    public void ReadImages_TruncatedGzip_Throws()
    {
        byte[] gz = Gzip(Images(50, 2, 3));
        var e = ReadError(gz[..(gz.Length / 2)]);
        Assert.StartsWith("x.idx:", e.Message);
    }

    [Fact]
    public void ReadImages_TruncatedHeader_Throws() =>
        Assert.Contains("ends inside dimension 1", ReadError(Images(1, 2, 3)[..9]).Message);

    [Fact]
    public void ReadImages_TrailingBytes_Throws() =>
        Assert.Contains("trailing data", ReadError(Images(1, 2, 3, dataBytes: 7)).Message);

    [Fact]
    public void ReadLabels_LabelOutOfRange_ThrowsNamingIndex()
    {
        byte[] bytes = [0, 0, 8, 1, 0, 0, 0, 3, 1, 9, 10];
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(new MemoryStream(bytes), "l.idx", 10));
        Assert.Equal("l.idx: offset 10: label #2 is 10, expected a class in [0, 10).", e.Message);
        Assert.Equal([1, 9], Idx.ReadLabels(new MemoryStream(bytes[..10].Select((b, i) => i == 7 ? (byte)2 : b).ToArray()), "l.idx"));
    }

    [Fact]
    public void ReadImages_FromFile_DetectsGzipByMagicNotExtension()
    {
        string path = Path.Combine(Path.GetTempPath(), $"idx-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(path, Gzip(Images(1, 2, 3)));
            Assert.Equal(6, Idx.ReadImages(path, 2, 3).Length);
        }
        finally { File.Delete(path); }
    }
}
