// A CSV file read with Sep into strings, keeping each row's line number for error messages. Tabular data sets are
// small next to images, so the raw table is held in memory; TabularSchema turns it into floats after the split, so
// normalisation statistics come from the training rows only.
using System.Globalization;
using nietras.SeparatedValues;

namespace ModelGen.Data;

/// <summary>The cells of a CSV file with a header row, as strings, with the line number of every row.</summary>
public sealed class CsvTable
{
    private readonly string[][] _rows;   // [Count][Columns.Count]
    private readonly int[] _lines;       // [Count] 1-based line number where the row starts

    private CsvTable(string source, string[] columns, string[][] rows, int[] lines)
    {
        Source = source;
        Columns = columns;
        _rows = rows;
        _lines = lines;
    }

    /// <summary>The file the rows came from (used in error messages).</summary>
    public string Source { get; }

    /// <summary>The header's column names.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Number of data rows.</summary>
    public int Count => _rows.Length;

    /// <summary>The cell of data row <paramref name="row"/> in column <paramref name="column"/>.</summary>
    public string Cell(int row, int column) => _rows[row][column];

    /// <summary>The 1-based line of the file where data row <paramref name="row"/> starts.</summary>
    public int LineNumber(int row) => _lines[row];

    /// <summary>The index of the column named <paramref name="name"/> (ordinal comparison).</summary>
    /// <exception cref="ArgumentException">No such column (the message lists the header).</exception>
    public int IndexOf(string name)
    {
        for (int i = 0; i < Columns.Count; i++)
            if (Columns[i] == name) return i;
        throw new ArgumentException($"{Source}: no column '{name}'; the header has {string.Join(", ", Columns.Select(c => $"'{c}'"))}.", nameof(name));
    }

    /// <summary>
    /// Reads a CSV file with a header row. Quoted fields are unescaped (RFC 4180); the separator is detected from the header
    /// (comma, semicolon, tab, pipe) unless given.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="separator">The field separator, or <see langword="null"/> to detect it.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is empty or has no data rows, the header repeats or leaves out a column name, or a row has another number of
    /// fields than the header (the message names the file, the line and both counts).
    /// </exception>
    public static CsvTable Read(string path, char? separator = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"CSV file '{path}' ({Path.GetFullPath(path)}) does not exist.", path);
        if (new FileInfo(path).Length == 0)
            throw new InvalidDataException($"{path}: empty file; expected a header row and data rows.");
        var options = (separator is { } s ? new SepReaderOptions(new Sep(s)) : new SepReaderOptions(null))
            with { Unescape = true, DisableColCountCheck = true, CultureInfo = CultureInfo.InvariantCulture };
        SepReader reader;
        try
        {
            reader = options.FromFile(path);
        }
        catch (ArgumentException e)
        {
            // Sep indexes the header by name and rejects a repeated one before any row is read.
            throw new InvalidDataException($"{path}: line 1: the header repeats a column name ({e.Message}).", e);
        }
        using var _ = reader;
        string[] columns = [.. reader.Header.ColNames];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < columns.Length; i++)
        {
            if (columns[i].Length == 0)
                throw new InvalidDataException($"{path}: line 1: column {i + 1} of the header has no name.");
            if (!seen.Add(columns[i]))
                throw new InvalidDataException($"{path}: line 1: column name '{columns[i]}' appears twice in the header.");
        }
        var rows = new List<string[]>();
        var lines = new List<int>();
        foreach (var row in reader)
        {
            int line = row.LineNumberFrom;
            if (row.ColCount == 1 && row[0].Span.IsEmpty && columns.Length > 1) continue;   // a blank line
            if (row.ColCount != columns.Length)
                throw new InvalidDataException(
                    $"{path}: line {line}: has {row.ColCount} fields, expected {columns.Length} as in the header ({string.Join(", ", columns)}).");
            var cells = new string[columns.Length];
            for (int c = 0; c < cells.Length; c++) cells[c] = row[c].ToString();
            rows.Add(cells);
            lines.Add(line);
        }
        if (rows.Count == 0)
            throw new InvalidDataException($"{path}: no data rows after the header.");
        return new CsvTable(path, columns, [.. rows], [.. lines]);
    }

    /// <summary>
    /// Splits the rows into a training and a validation table with <see cref="Dataset.Split"/>'s draw: stratified by the
    /// values of <paramref name="stratifyColumn"/> (classes in ordinal order of their values) when given, seeded, keeping
    /// the rows' order. Split before <see cref="TabularSchema.Fit"/>, so the statistics come from the training rows only.
    /// </summary>
    /// <param name="fraction">The validation share, in (0, 1).</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <param name="stratifyColumn">The label column to stratify by, or <see langword="null"/> for a plain random split.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is not strictly between 0 and 1.</exception>
    /// <exception cref="ArgumentException">No such column, or a part would be empty.</exception>
    public (CsvTable Train, CsvTable Validation) Split(double fraction, ulong seed, string? stratifyColumn = null)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation fraction must be strictly between 0 and 1.");
        int[]? labels = null;
        int classCount = 0;
        if (stratifyColumn is not null)
        {
            int column = IndexOf(stratifyColumn);
            var values = _rows.Select(r => r[column]).Distinct().Order(StringComparer.Ordinal).ToList();
            var index = values.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i, StringComparer.Ordinal);
            labels = [.. _rows.Select(r => index[r[column]])];
            classCount = values.Count;
        }
        bool[] mask = Dataset.ValidationMask(Count, labels, classCount, fraction, seed);
        int validation = mask.Count(m => m);
        if (validation == 0 || validation == Count)
            throw new ArgumentException($"{Source}: a validation fraction of {fraction} of {Count} rows leaves {Count - validation} for training and {validation} for validation; both must be non-empty.", nameof(fraction));
        return (Subset(mask, false), Subset(mask, true));
    }

    private CsvTable Subset(bool[] mask, bool keep)
    {
        var rows = new List<string[]>();
        var lines = new List<int>();
        for (int i = 0; i < Count; i++)
            if (mask[i] == keep)
            {
                rows.Add(_rows[i]);
                lines.Add(_lines[i]);
            }
        return new CsvTable(Source, (string[])Columns, [.. rows], [.. lines]);
    }
}
