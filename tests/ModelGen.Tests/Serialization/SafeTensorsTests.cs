// safetensors: byte-exact output, round trips, and for every malformed input an error naming file and tensor
// with the caller's buffer untouched; failed saves leave the previous file intact and no temp file behind.
using System.Buffers.Binary;
using System.Text;
using ModelGen.Serialization;

namespace ModelGen.Tests.Serialization;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelgen-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    // The example from the brief: {"a": torch.tensor([1., 2.]), "b": torch.zeros(2, 1)}, laid out b first in the buffer
    // so that the name-sorted file order differs from buffer order.
    private static readonly ParameterInfo[] AB = [new("b", [2, 1], 0, 2), new("a", [2], 2, 2)];
    private static readonly float[] ABBuffer = [0f, 0f, 1f, 2f];

    /// <summary>What safetensors.torch.save_file writes for the example: u64 length, space-padded JSON, LE floats.</summary>
    private static byte[] ExpectedABFile()
    {
        const string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[8,16]}}";
        byte[] header = Encoding.UTF8.GetBytes(json.PadRight((json.Length + 7) / 8 * 8));
        var file = new List<byte>();
        file.AddRange(BitConverter.GetBytes((ulong)header.Length));   // little-endian on every host we test on
        file.AddRange(header);
        file.AddRange([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40]);   // 1f, 2f
        file.AddRange(new byte[8]);                                          // zeros
        return file.ToArray();
    }

    private static byte[] File(string json, byte[] data, int? headerLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(headerLength ?? header.Length));
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    private static string Entry(string name, string shape, int begin, int end, string dtype = "F32") =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    /// <summary>Loads <paramref name="bytes"/> against AB and returns the message, asserting the buffer stayed untouched.</summary>
    private string LoadError(byte[] bytes, ParameterInfo[]? tensors = null)
    {
        string path = PathOf("bad.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        var buffer = new float[] { 7, 7, 7, 7, 7 };
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path, tensors ?? AB, buffer));
        Assert.All(buffer, v => Assert.Equal(7f, v));
        Assert.StartsWith(path + ": ", e.Message);
        return e.Message;
    }

    [Fact]
    public void Save_BriefExample_MatchesPythonSafetensorsBytes()
    {
        string path = PathOf("ab.safetensors");
        SafeTensors.Save(path, AB, ABBuffer);
        byte[] expected = ExpectedABFile();
        Assert.Equal(136, expected.Length);   // 8 + 112 (110 JSON bytes + 2 spaces) + 16
        Assert.Equal(expected, System.IO.File.ReadAllBytes(path));
    }

    [Fact]
    public void Load_PythonFile_ReadsIntoBufferPositions()
    {
        string path = PathOf("py.safetensors");
        System.IO.File.WriteAllBytes(path, ExpectedABFile());
        var buffer = new float[] { 9, 9, 9, 9 };
        SafeTensors.Load(path, AB, buffer);
        Assert.Equal([0f, 0f, 1f, 2f], buffer);
    }

    [Fact]
    public void SaveLoad_RandomTensorsWithMetadata_RoundTripBitExact()
    {
        var rng = new Rng(17);
        ParameterInfo[] tensors =
        [
            new("fc1.weight", [5, 7], 0, 35), new("fc1.bias", [5], 35, 5), new("fc2.weight", [3, 5], 40, 15),
            new("fc2.bias", [3], 55, 3), new("scale", [], 58, 1), new("empty", [0, 4], 59, 0),
        ];
        var buffer = Enumerable.Range(0, 59).Select(_ => (float)rng.NextGaussian()).ToArray();
        buffer[3] = float.NaN;
        buffer[4] = -0f;
        string path = PathOf("rt.safetensors");
        SafeTensors.Save(path, tensors, buffer, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"q\"" });
        var loaded = new float[59];
        SafeTensors.Load(path, tensors, loaded);
        Assert.Equal(buffer.Select(BitConverter.SingleToInt32Bits), loaded.Select(BitConverter.SingleToInt32Bits));

        var header = SafeTensors.ReadHeader(path, out var metadata);
        Assert.Equal(["empty", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "scale"], header.Select(e => e.Name));
        Assert.Equal("ünïcode \"q\"", metadata["note"]);
        var w = header.Single(e => e.Name == "fc1.weight");
        Assert.Equal("F32", w.DType);
        Assert.Equal([5, 7], w.Shape);
        Assert.Equal((20L, 160L), (w.Begin, w.End));   // after "empty" (0 bytes) and "fc1.bias" (5 floats)
        Assert.Equal(0, (System.IO.File.ReadAllBytes(path).Length - 8) % 4);
    }

    [Fact]
    public void Save_OverExistingFile_ReplacesItAndLeavesNoTempFile()
    {
        string path = PathOf("w.safetensors");
        System.IO.File.WriteAllText(path, "old");
        SafeTensors.Save(path, AB, ABBuffer);
        Assert.Equal(ExpectedABFile(), System.IO.File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Save_TensorRunsPastBuffer_ThrowsAndLeavesPreviousFileIntact()
    {
        string path = PathOf("w.safetensors");
        SafeTensors.Save(path, AB, ABBuffer);
        byte[] before = System.IO.File.ReadAllBytes(path);
        ParameterInfo[] bad = [new("a", [2], 0, 2), new("b", [4], 2, 4)];
        var e = Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, bad, ABBuffer));
        Assert.Contains("tensors[1] 'b' spans [2, 6), outside the buffer of 4 floats", e.Message);
        Assert.Equal(before, System.IO.File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Save_RenameFailsAfterWriting_DeletesTempFileAndKeepsTarget()
    {
        // A directory at the destination makes the final move fail after the temp file was fully written.
        string target = PathOf("taken");
        Directory.CreateDirectory(target);
        System.IO.File.WriteAllText(Path.Combine(target, "keep.txt"), "x");
        Assert.ThrowsAny<IOException>(() => SafeTensors.Save(target, AB, ABBuffer));
        Assert.Empty(Directory.GetFiles(_dir));
        Assert.Equal("x", System.IO.File.ReadAllText(Path.Combine(target, "keep.txt")));
    }

    [Fact]
    public void Save_MissingDirectory_ThrowsNamingThePathWithoutLeavingFiles()
    {
        string path = PathOf("no/such/dir/w.safetensors");
        var e = Assert.Throws<DirectoryNotFoundException>(() => SafeTensors.Save(path, AB, ABBuffer));
        Assert.Contains($"'{path}'", e.Message);
        Assert.DoesNotContain(".tmp-", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void Save_RenameFails_MessageNamesThePathNotTheTemporary()
    {
        string target = PathOf("taken");
        Directory.CreateDirectory(target);
        var e = Assert.ThrowsAny<IOException>(() => SafeTensors.Save(target, AB, ABBuffer));
        Assert.StartsWith($"Could not save '{target}': ", e.Message);
        Assert.DoesNotContain(".tmp-", e.Message);
        Assert.Equal([target], Directory.GetFileSystemEntries(_dir));   // the failed save removed its temporary
    }

    [Fact]
    public void Save_ThroughSymbolicLinks_WritesTheFinalTargetAndKeepsTheLinks()
    {
        if (OperatingSystem.IsWindows()) return;   // creating links needs privileges there; the code path is the same
        Directory.CreateDirectory(PathOf("real"));
        string target = PathOf("real/w.safetensors");
        System.IO.File.WriteAllText(target, "old");
        System.IO.File.CreateSymbolicLink(PathOf("link1"), "real/w.safetensors");   // relative, as `ln -s` makes them
        System.IO.File.CreateSymbolicLink(PathOf("link2"), PathOf("link1"));        // a link to a link

        SafeTensors.Save(PathOf("link2"), AB, ABBuffer);

        Assert.Equal(ExpectedABFile(), System.IO.File.ReadAllBytes(target));
        Assert.Equal(PathOf("link1"), new FileInfo(PathOf("link2")).LinkTarget);
        Assert.Equal("real/w.safetensors", new FileInfo(PathOf("link1")).LinkTarget);
        Assert.Equal([target], Directory.GetFiles(PathOf("real")));   // the temporary went beside the target and is gone
    }

    [Fact]
    public void Save_ThroughDanglingLink_CreatesTheTarget()
    {
        if (OperatingSystem.IsWindows()) return;
        System.IO.File.CreateSymbolicLink(PathOf("link"), "w.safetensors");
        SafeTensors.Save(PathOf("link"), AB, ABBuffer);
        Assert.Equal(ExpectedABFile(), System.IO.File.ReadAllBytes(PathOf("w.safetensors")));
        Assert.Equal("w.safetensors", new FileInfo(PathOf("link")).LinkTarget);
    }

    [Fact]
    public void Save_LeftoversOfKilledSaves_AreRemoved_OthersKept()
    {
        string path = PathOf("w.safetensors");
        string[] leftovers = [path + ".tmp-0123456789ab", path + ".tmp-ffffffffffff"];
        string[] unrelated = [path + ".tmp-notes", path + ".tmp-0123456789AB", path + ".tmp-0123456789abc", PathOf("v.safetensors.tmp-0123456789ab")];
        foreach (string f in leftovers.Concat(unrelated)) System.IO.File.WriteAllText(f, "partial");

        SafeTensors.Save(path, AB, ABBuffer);

        Assert.Equal(ExpectedABFile(), System.IO.File.ReadAllBytes(path));
        Assert.Equal(unrelated.Append(path).Order(), Directory.GetFiles(_dir).Order());
    }

    [Fact]
    public void Save_TemporaryOfASaveInProgress_IsNotRemoved()
    {
        // Another save holds its temporary open (as Save does, FileShare.Delete) until the rename: it must survive.
        string path = PathOf("w.safetensors");
        string busy = path + ".tmp-00000000abcd";
        using (var other = new FileStream(busy, FileMode.CreateNew, FileAccess.Write, FileShare.Delete))
        {
            SafeTensors.Save(path, AB, ABBuffer);
            Assert.True(System.IO.File.Exists(busy));
        }
        SafeTensors.Save(path, AB, ABBuffer);   // closed now: a leftover like any other
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Save_OverExistingFile_KeepsItsPermissions()
    {
        if (OperatingSystem.IsWindows()) return;   // no Unix mode there
        string path = PathOf("w.safetensors");
        System.IO.File.WriteAllText(path, "old");
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;   // 0640: not what a new file gets under umask 022
        System.IO.File.SetUnixFileMode(path, mode);
        SafeTensors.Save(path, AB, ABBuffer);
        Assert.Equal(ExpectedABFile(), System.IO.File.ReadAllBytes(path));
        Assert.Equal(mode, System.IO.File.GetUnixFileMode(path));

        System.IO.File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);   // 0700
        SafeTensors.Save(path, AB, ABBuffer);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, System.IO.File.GetUnixFileMode(path));
    }

    [Fact]
    public void Save_DuplicateOrMismatchedTensors_ThrowArgumentException()
    {
        Assert.Contains("occurs more than once",
            Assert.Throws<ArgumentException>(() => SafeTensors.Save(PathOf("x"), [new("a", [2], 0, 2), new("a", [2], 2, 2)], ABBuffer)).Message);
        Assert.Contains("has length 3, but shape [2] holds 2 elements",
            Assert.Throws<ArgumentException>(() => SafeTensors.Save(PathOf("x"), [new("a", [2], 0, 3)], ABBuffer)).Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void Load_WrongShape_NamesFileTensorExpectedAndActual()
    {
        string msg = LoadError(ExpectedABFile(), [new("a", [1, 2], 0, 2), new("b", [2, 1], 2, 2)]);
        Assert.EndsWith(": tensor 'a' has shape [2], expected [1, 2]", msg);
    }

    [Fact]
    public void Load_MissingTensor_Throws() =>
        Assert.Contains("tensor 'c' is missing (expected F32 [1])",
            LoadError(ExpectedABFile(), [.. AB, new("c", [1], 4, 1)]));

    [Fact]
    public void Load_TensorLeftOutOfTheHeader_NamesItAndListsWhatTheFileHolds()
    {
        // 'b' was dropped from the header but its 8 bytes are still there: this used to say only "8 bytes after the
        // last tensor's data".
        string msg = LoadError(File("{" + Entry("a", "[2]", 0, 8) + "}", new byte[16]));
        Assert.EndsWith(": 2 problems: tensor 'b' is missing (expected F32 [2, 1]); 8 bytes after the last tensor's data " +
            "(data section is 16 bytes, tensors cover 8). The file holds 1 tensor: 'a' F32 [2]", msg);
    }

    [Fact]
    public void Load_MissingTensors_ListsTheFilesTensorsOnlyWhenFew()
    {
        Assert.EndsWith(". The file holds 2 tensors: 'a' F32 [2], 'b' F32 [2, 1]",
            LoadError(ExpectedABFile(), [.. AB, new("c", [1], 4, 1)]));
        var many = Enumerable.Range(0, 13).Select(i => Entry($"t{i:D2}", "[1]", 4 * i, 4 * i + 4));
        string msg = LoadError(File("{" + string.Join(",", many) + "}", new byte[52]), [new("t00", [1], 0, 1), new("z", [1], 1, 1)]);
        Assert.Contains("tensor 'z' is missing (expected F32 [1])", msg);
        Assert.DoesNotContain("The file holds", msg);
        Assert.Contains("The file holds no tensors", LoadError(File("{}      ", []), AB));
    }

    [Fact]
    public void Load_ExtraTensor_Throws() =>
        Assert.Contains("unexpected tensor 'b' (F32 [2, 1])", LoadError(ExpectedABFile(), [new("a", [2], 0, 2)]));

    [Fact]
    public void Load_SeveralProblems_ListsAll()
    {
        string msg = LoadError(ExpectedABFile(), [new("a", [1, 2], 0, 2), new("c", [1], 2, 1)]);
        Assert.Contains("3 problems", msg);
        Assert.Contains("'a' has shape [2]", msg);
        Assert.Contains("'c' is missing", msg);
        Assert.Contains("unexpected tensor 'b'", msg);
    }

    [Fact]
    public void Load_NotF32_Throws() =>
        Assert.Contains("tensor 'a' has dtype F16, expected F32",
            LoadError(File("{" + Entry("a", "[2]", 0, 4, "F16") + "," + Entry("b", "[2,1]", 4, 12) + "}", new byte[12])));

    [Fact]
    public void Load_UnknownDType_Throws() =>
        Assert.Contains("tensor 'a' has unknown dtype 'F33'",
            LoadError(File("{" + Entry("a", "[2]", 0, 8, "F33") + "," + Entry("b", "[2,1]", 8, 16) + "}", new byte[16])));

    [Fact]
    public void Load_FileTooShort_Throws() => Assert.Contains("too short", LoadError([1, 0, 0]));

    [Fact]
    public void Load_AbsurdHeaderLength_Throws() =>
        Assert.Contains("header length 18446744073709551615 is absurd", LoadError(File("{}", [], headerLength: -1)));

    [Fact]
    public void Load_HeaderLengthPastEnd_Throws() =>
        Assert.Contains("runs past the end of the file", LoadError(File("{}", [], headerLength: 1000)));

    [Fact]
    public void Load_TruncatedData_ThrowsNamingTensor() =>
        Assert.Contains("tensor 'b' data_offsets [8, 16] run past the end of the data (12 bytes): truncated",
            LoadError(ExpectedABFile()[..^4]));

    [Fact]
    public void Load_MalformedJson_Throws()
    {
        Assert.Contains("malformed header JSON", LoadError(File("{\"a\":{\"dtype\":\"F32\",", new byte[16])));
        Assert.Contains("does not start with '{'", LoadError(File("[1]     ", [])));
        Assert.Contains("tensor 'a' shape must hold non-negative integers, found number -2",
            LoadError(File("{" + Entry("a", "[-2]", 0, 8) + "}", new byte[8])));
        Assert.Contains("tensor 'a' has no data_offsets", LoadError(File("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", [])));
    }

    [Fact]
    public void Load_OffsetsNotMatchingShape_Throws() =>
        Assert.Contains("tensor 'a' (F32 [2]) needs 8 bytes, but data_offsets [0, 12] span 12",
            LoadError(File("{" + Entry("a", "[2]", 0, 12) + "," + Entry("b", "[2,1]", 12, 20) + "}", new byte[20])));

    [Fact]
    public void Load_OverlappingOffsets_Throws() =>
        Assert.Contains("tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]",
            LoadError(File("{" + Entry("a", "[2]", 0, 8) + "," + Entry("b", "[2,1]", 4, 12) + "}", new byte[12])));

    [Fact]
    public void Load_GapOrTrailingBytes_Throws()
    {
        Assert.Contains("leave a gap: expected it to begin at 8",
            LoadError(File("{" + Entry("a", "[2]", 0, 8) + "," + Entry("b", "[2,1]", 12, 20) + "}", new byte[20])));
        Assert.Contains("4 bytes after the last tensor's data",
            LoadError(File("{" + Entry("a", "[2]", 0, 8) + "," + Entry("b", "[2,1]", 8, 16) + "}", new byte[20])));
    }

    [Fact]
    public void Load_DuplicateKey_Throws() =>
        Assert.Contains("key 'a' occurs twice",
            LoadError(File("{" + Entry("a", "[2]", 0, 8) + "," + Entry("a", "[2]", 8, 16) + "}", new byte[16])));

    [Fact]
    public void ReadHeader_PythonFile_ReturnsEntriesInDataOrder()
    {
        string path = PathOf("py.safetensors");
        System.IO.File.WriteAllBytes(path, ExpectedABFile());
        var entries = SafeTensors.ReadHeader(path, out var metadata);
        Assert.Empty(metadata);
        Assert.Equal(2, entries.Count);
        Assert.Equal(("a", "F32", 0L, 8L, "[2]"), (entries[0].Name, entries[0].DType, entries[0].Begin, entries[0].End, entries[0].ShapeText));
        Assert.Equal(("b", "F32", 8L, 16L, "[2, 1]"), (entries[1].Name, entries[1].DType, entries[1].Begin, entries[1].End, entries[1].ShapeText));
    }
}
