// Argument checks shared by every generated model, kept out of generated code so the messages are uniform and
// the generated methods stay small. All checks run before anything is written.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace ModelGen.Runtime;

/// <summary>Validation helpers called by generated code.</summary>
public static class ModelGuards
{
    /// <summary>Checks the arguments of a forward call.</summary>
    /// <param name="model">The model's class name, for messages.</param>
    /// <param name="inputLength">Length of the caller's input span.</param>
    /// <param name="outputLength">Length of the caller's output span.</param>
    /// <param name="batch">The caller's batch.</param>
    /// <param name="inputSize">Floats per example in the input.</param>
    /// <param name="outputSize">Floats per example in the output.</param>
    /// <param name="maxBatch">The model's <c>MaxBatch</c>: the largest batch whose planned buffers fit in one array.</param>
    /// <exception cref="ArgumentException">The batch is not positive or exceeds <paramref name="maxBatch"/>, or a span's length is not batch × the per-example size.</exception>
    public static void CheckForward(string model, int inputLength, int outputLength, int batch, int inputSize, int outputSize, int maxBatch)
    {
        if (batch <= 0)
            ThrowBatch(model, batch);
        // Checked first: beyond it batch × a per-example length overflows int, and the span lengths cannot be right either.
        if (batch > maxBatch)
            ThrowBatchTooLarge(model, batch, maxBatch);
        if ((long)inputLength != (long)batch * inputSize)
            ThrowLength(model, "input", inputLength, batch, inputSize);
        if ((long)outputLength != (long)batch * outputSize)
            ThrowLength(model, "output", outputLength, batch, outputSize);
    }

    /// <summary>Checks the arguments of a backward call against the batch of the last training forward.</summary>
    /// <exception cref="InvalidOperationException">No training forward has run.</exception>
    /// <exception cref="ArgumentException">A span's length does not match that batch.</exception>
    public static void CheckBackward(string model, int dOutputLength, int dInputLength, int batch, int inputSize, int outputSize)
    {
        if (batch <= 0)
            throw new InvalidOperationException($"{model}.Backward: call ForwardTrain before Backward.");
        if ((long)dOutputLength != (long)batch * outputSize)
            ThrowLength(model, "dOutput", dOutputLength, batch, outputSize);
        if (dInputLength != 0 && (long)dInputLength != (long)batch * inputSize)
            ThrowLength(model, "dInput", dInputLength, batch, inputSize);
    }

    /// <summary>
    /// Checks the second input of a two-input model (<c>[ModelInput]</c>): its padded length, ids and real lengths; returns
    /// batch × sourceSeq, its rows.
    /// </summary>
    /// <exception cref="ArgumentException">sourceSeq is not positive, batch × sourceSeq exceeds <paramref name="maxPositions"/>,
    /// 'source' is not batch × sourceSeq × sourceSize long, or a source length is outside [1, sourceSeq].</exception>
    public static int CheckSource(string model, int sourceLength, int batch, int sourceSeq, ReadOnlySpan<int> sourceLengths, int sourceSize, int maxPositions)
    {
        if (sourceSeq <= 0)
            throw new ArgumentException($"{model}: sourceSeq must be positive, got {sourceSeq}.", nameof(sourceSeq));
        long rows = (long)batch * sourceSeq;
        if (rows > maxPositions)
            throw new ArgumentException(
                $"{model}: batch {batch} × sourceSeq {sourceSeq} = {rows} positions is more than one call supports (MaxPositions = {maxPositions}: beyond it a buffer would exceed the largest array); split the batch.",
                nameof(batch));
        if (sourceLength != rows * sourceSize)
            throw new ArgumentException($"{model}: 'source' has {sourceLength} elements, expected batch {batch} × sourceSeq {sourceSeq} × {sourceSize} = {rows * sourceSize}.", "source");
        if (!sourceLengths.IsEmpty)
        {
            if (sourceLengths.Length != batch)
                throw new ArgumentException($"{model}: 'sourceLengths' has {sourceLengths.Length} entries, expected one per example ({batch}).", nameof(sourceLengths));
            for (int b = 0; b < sourceLengths.Length; b++)
                if ((uint)(sourceLengths[b] - 1) >= (uint)sourceSeq)
                    throw new ArgumentException($"{model}: sourceLengths[{b}] is {sourceLengths[b]}; each real length must be in [1, sourceSeq = {sourceSeq}].", nameof(sourceLengths));
        }
        return (int)rows;
    }

    /// <summary>
    /// Checks the arguments of a sequence model's forward call and returns <c>rows</c> = batch × seq, the row count
    /// of every sequence tensor, after checking it is at most <paramref name="maxPositions"/> (the generated
    /// <c>MaxPositions</c>: beyond it a planned arena would not fit in an array).
    /// </summary>
    /// <exception cref="ArgumentException">Batch or seq is not positive, seq exceeds <paramref name="maxLength"/>, a span's
    /// length does not match, a real length is outside [1, seq], or batch × seq is too large.</exception>
    public static int CheckSequence(string model, int inputLength, int outputLength, int batch, int seq, ReadOnlySpan<int> lengths,
        int inputSize, int outputSize, bool outputIsSequence, int maxLength, int maxPositions)
    {
        if (batch <= 0)
            ThrowBatch(model, batch);
        if (seq <= 0)
            throw new ArgumentException($"{model}: seq must be positive, got {seq}.", nameof(seq));
        if (maxLength > 0 && seq > maxLength)
            throw new ArgumentException($"{model}: seq {seq} exceeds the model's MaxLength {maxLength}.", nameof(seq));
        long rows = (long)batch * seq;
        if (rows > maxPositions)
            throw new ArgumentException(
                $"{model}: batch {batch} × seq {seq} = {rows} positions is more than one call supports (MaxPositions = {maxPositions}: beyond it a buffer would exceed the largest array); split the batch.",
                nameof(batch));
        if (inputLength != rows * inputSize)
            throw new ArgumentException($"{model}: 'input' has {inputLength} elements, expected batch {batch} × seq {seq} × {inputSize} = {rows * inputSize}.", "input");
        long expectedOutput = (outputIsSequence ? rows : batch) * (long)outputSize;
        if (outputLength != expectedOutput)
            throw new ArgumentException(outputIsSequence
                ? $"{model}: 'output' has {outputLength} floats, expected batch {batch} × seq {seq} × {outputSize} = {expectedOutput}."
                : $"{model}: 'output' has {outputLength} floats, expected batch {batch} × {outputSize} = {expectedOutput}.", "output");
        if (!lengths.IsEmpty)
        {
            if (lengths.Length != batch)
                throw new ArgumentException($"{model}: 'lengths' has {lengths.Length} entries, expected one per example ({batch}).", nameof(lengths));
            for (int b = 0; b < lengths.Length; b++)
                if ((uint)(lengths[b] - 1) >= (uint)seq)
                    throw new ArgumentException($"{model}: lengths[{b}] is {lengths[b]}; each real length must be in [1, seq = {seq}].", nameof(lengths));
        }
        return (int)rows;
    }

    /// <summary>Checks a sequence model's backward call against the last training forward (batch, seq).</summary>
    /// <exception cref="InvalidOperationException">No training forward has run.</exception>
    /// <exception cref="ArgumentException">A span's length does not match, or a token model is given an input gradient span.</exception>
    public static void CheckSequenceBackward(string model, int dOutputLength, int dInputLength, int batch, int seq, int inputSize, int outputSize,
        bool outputIsSequence, bool tokenInput)
    {
        if (batch <= 0)
            throw new InvalidOperationException($"{model}.Backward: call ForwardTrain before Backward.");
        long rows = (long)batch * seq;
        long expected = (outputIsSequence ? rows : batch) * (long)outputSize;
        if (dOutputLength != expected)
            throw new ArgumentException($"{model}: 'dOutput' has {dOutputLength} floats, expected {expected} (batch {batch}, seq {seq} of the last ForwardTrain).", "dOutput");
        if (dInputLength != 0 && tokenInput)
            throw new ArgumentException($"{model}: the input is token ids, which have no gradient; pass an empty dInput.", "dInput");
        if (dInputLength != 0 && dInputLength != rows * inputSize)
            throw new ArgumentException($"{model}: 'dInput' has {dInputLength} floats, expected batch {batch} × seq {seq} × {inputSize} = {rows * inputSize}.", "dInput");
    }

    /// <summary>
    /// Checks the <c>dSource</c> span of a model whose second input is float vectors: empty (skip the gradient) or exactly
    /// batch × sourceSeq × sourceSize floats of the last training call.
    /// </summary>
    /// <param name="model">The model's class name, for messages.</param>
    /// <param name="dSourceLength">Length of the caller's dSource span.</param>
    /// <param name="batch">The last training call's batch.</param>
    /// <param name="sourceSeq">The last training call's padded source length S.</param>
    /// <param name="sourceSize">Floats per source position (the generated <c>SourceSize</c>).</param>
    /// <exception cref="ArgumentException">dSource is neither empty nor batch × sourceSeq × sourceSize long.</exception>
    public static void CheckSourceBackward(string model, int dSourceLength, int batch, int sourceSeq, int sourceSize)
    {
        long expected = (long)batch * sourceSeq * sourceSize;
        if (dSourceLength != 0 && dSourceLength != expected)
            throw new ArgumentException(
                $"{model}: 'dSource' has {dSourceLength} floats, expected batch {batch} × sourceSeq {sourceSeq} × {sourceSize} = {expected} (of the last ForwardTrain), or empty to skip it.", "dSource");
    }

    /// <summary>Checks an incremental decoding call (one position per call) and returns its row count, the batch.</summary>
    /// <exception cref="ArgumentException">A span's length does not match, or the position is outside [0, maxLength).</exception>
    public static int CheckStep(string model, int inputLength, int outputLength, int batch, int position, int cacheLength, int inputSize, int outputSize,
        int maxLength, int cacheSize)
    {
        if (batch <= 0)
            ThrowBatch(model, batch);
        if ((uint)position >= (uint)maxLength)
            throw new ArgumentException($"{model}: position {position} is outside [0, MaxLength = {maxLength}).", nameof(position));
        if (inputLength != (long)batch * inputSize)
            ThrowLength(model, "input", inputLength, batch, inputSize);
        if (outputLength != (long)batch * outputSize)
            ThrowLength(model, "output", outputLength, batch, outputSize);
        if (cacheLength != (long)batch * cacheSize)
            throw new ArgumentException($"{model}: 'cache' has {cacheLength} floats, expected batch {batch} × CacheSize {cacheSize} = {(long)batch * cacheSize}.", "cache");
        return batch;
    }

    /// <summary>
    /// The floats per example of a two-input model's decoding cache for a source of <paramref name="sourceSeq"/> positions:
    /// <paramref name="fixedSize"/> + <paramref name="sourceSeq"/> × <paramref name="sizePerSourcePosition"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sourceSeq"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The size exceeds the largest array.</exception>
    public static int SourceCacheSize(string model, int sourceSeq, int fixedSize, int sizePerSourcePosition)
    {
        if (sourceSeq <= 0)
            throw new ArgumentOutOfRangeException(nameof(sourceSeq), sourceSeq, $"{model}: sourceSeq must be positive, got {sourceSeq}.");
        long size = fixedSize + (long)sourceSeq * sizePerSourcePosition;
        if (size > Array.MaxLength)
            throw new ArgumentException($"{model}: a cache for sourceSeq {sourceSeq} needs {size} floats per example, more than an array holds.", nameof(sourceSeq));
        return (int)size;
    }

    /// <summary>
    /// Checks the cache of a two-input model's <c>PrepareSource</c> call (batch × <paramref name="cacheSize"/> floats) and marks it
    /// unprepared until <see cref="WriteSourceHeader"/> runs, so a call that throws half-way leaves no stale source behind.
    /// </summary>
    /// <exception cref="ArgumentException">The batch is not positive or the cache's length does not match.</exception>
    public static void BeginSourceCache(string model, Span<float> cache, int batch, int sourceSeq, int cacheSize)
    {
        if (batch <= 0)
            ThrowBatch(model, batch);
        if (cache.Length != (long)batch * cacheSize)
            throw new ArgumentException(
                $"{model}: 'cache' has {cache.Length} floats, expected batch {batch} × CacheSize(sourceSeq: {sourceSeq}) {cacheSize} = {(long)batch * cacheSize}.", nameof(cache));
        cache.Slice(0, SourceHeaderSize * batch).Clear();
    }

    /// <summary>
    /// Records a prepared source at the head of the cache: <paramref name="sourceSeq"/> once per example, then each example's real
    /// source length (<paramref name="sourceSeq"/> when <paramref name="sourceLengths"/> is empty), as the bits of ints.
    /// </summary>
    public static void WriteSourceHeader(Span<float> cache, int batch, int sourceSeq, ReadOnlySpan<int> sourceLengths)
    {
        var header = MemoryMarshal.Cast<float, int>(cache.Slice(0, SourceHeaderSize * batch));
        header.Slice(0, batch).Fill(sourceSeq);
        if (sourceLengths.IsEmpty) header.Slice(batch).Fill(sourceSeq);
        else sourceLengths.CopyTo(header.Slice(batch));
    }

    /// <summary>
    /// Reads the source that <c>PrepareSource</c> recorded at the head of a two-input model's cache: returns each example's real
    /// source length (a view of the cache) and its padded length <paramref name="sourceSeq"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The batch is not positive or the cache is too short to hold the header.</exception>
    /// <exception cref="InvalidOperationException">The cache holds no source prepared for this batch (PrepareSource was not called,
    /// failed, or ran with another batch).</exception>
    public static ReadOnlySpan<int> ReadSourceHeader(string model, Span<float> cache, int batch, out int sourceSeq)
    {
        if (batch <= 0)
            ThrowBatch(model, batch);
        if (cache.Length < (long)SourceHeaderSize * batch)
            throw new ArgumentException($"{model}: 'cache' has {cache.Length} floats, too few for batch {batch}; allocate batch × CacheSize(sourceSeq) and call PrepareSource.", nameof(cache));
        var header = MemoryMarshal.Cast<float, int>(cache.Slice(0, SourceHeaderSize * batch));
        sourceSeq = header[0];
        bool prepared = sourceSeq > 0;
        for (int b = 0; b < batch && prepared; b++)
            prepared = header[b] == sourceSeq && (uint)(header[batch + b] - 1) < (uint)sourceSeq;
        if (!prepared)
            throw new InvalidOperationException(
                $"{model}.ForwardStep: the cache holds no source prepared for batch {batch}; call PrepareSource(source, batch, sourceSeq, sourceLengths, cache) with this cache first.");
        return header.Slice(batch, batch);
    }

    /// <summary>Ints at the head of a two-input model's cache per example (stored as float bits): the padded source length and the example's real one.</summary>
    public const int SourceHeaderSize = 2;

    /// <summary>Checks the recurrent state span of a stateful forward call: batch × the model's per-example state size.</summary>
    /// <exception cref="ArgumentException">Its length does not match.</exception>
    public static void CheckState(string model, int stateLength, int batch, int stateSize)
    {
        if (stateLength != (long)batch * stateSize)
            throw new ArgumentException($"{model}: 'state' has {stateLength} floats, expected batch {batch} × StateSize {stateSize} = {(long)batch * stateSize}.", "state");
    }

    /// <summary>Checks that a run-time-sized buffer (e.g. a recurrent layer's workspace for this batch and T) fits in an array.</summary>
    /// <exception cref="ArgumentException">It does not.</exception>
    public static int ArenaLength(string model, long length)
    {
        if ((ulong)length > (ulong)Array.MaxLength)
            throw new ArgumentException($"{model}: this call needs a buffer of {length} floats, more than an array holds; use a smaller batch or sequence length.", "batch");
        return (int)length;
    }

    [DoesNotReturn]
    private static void ThrowBatch(string model, int batch) =>
        throw new ArgumentException($"{model}: batch must be positive, got {batch}.", nameof(batch));

    [DoesNotReturn]
    private static void ThrowBatchTooLarge(string model, int batch, int maxBatch) =>
        throw new ArgumentException(
            $"{model}: batch {batch} is too large; the largest batch {model} supports is {maxBatch} ({model}.MaxBatch): " +
            "beyond it a buffer of the model would exceed the largest .NET array. Split the data into smaller batches.", nameof(batch));

    [DoesNotReturn]
    private static void ThrowLength(string model, string name, int actual, int batch, int perExample) =>
        throw new ArgumentException(
            $"{model}: '{name}' has {actual} floats, expected batch {batch} × {perExample} = {(long)batch * perExample}.", name);
}
