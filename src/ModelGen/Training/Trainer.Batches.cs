// What one kind of model and data contributes to Trainer's loop: a batch source, the forward calls, the loss over the
// batch and the backward call. The loop itself (accumulation, clipping, schedule, divergence checks, validation, the best
// epoch, checkpoints) is shared, so every kind of model gets the same behaviour. Fixed-size examples and pooled sequences
// count one loss term per example; per-position sequences and sequence pairs count one term per labelled token (the
// batch's loss is the mean over its tokens).
using ModelGen.Data;

namespace ModelGen;

public sealed partial class Trainer
{
    /// <summary>One pass over a data set in minibatches, with the model calls for each batch. Sized once; a batch allocates nothing.</summary>
    private abstract class Batches
    {
        /// <summary>Batches per epoch.</summary>
        public abstract int PerEpoch { get; }

        /// <summary>Examples in the current batch.</summary>
        public abstract int Size { get; }

        /// <summary>Loss terms the current batch's mean is over: its examples, or its labelled tokens.</summary>
        public abstract int Terms { get; }

        /// <summary>The current batch's outputs: one row of the model's output width per label.</summary>
        public abstract ReadOnlySpan<float> Output { get; }

        /// <summary>One label per output row (negative: ignored), or empty for a loss over targets.</summary>
        public abstract ReadOnlySpan<int> Labels { get; }

        /// <summary>Targets matching <see cref="Output"/>, or empty for a loss over labels.</summary>
        public abstract ReadOnlySpan<float> Targets { get; }

        /// <summary>The gradient of the current batch's mean loss with respect to <see cref="Output"/>.</summary>
        public abstract Span<float> DOutput { get; }

        public abstract void StartEpoch(int epoch);

        /// <summary>Reads the next batch of the epoch; false when it is exhausted.</summary>
        public abstract bool TryNext();

        /// <summary>
        /// Runs the training forward (<paramref name="train"/>) or inference on the current batch, then the loss, writing
        /// <see cref="DOutput"/>; returns the batch's mean loss.
        /// </summary>
        public abstract float Forward(Loss loss, bool train);

        /// <summary>Back-propagates <see cref="DOutput"/> through the last training forward, accumulating parameter gradients.</summary>
        public abstract void Backward();

        /// <summary>Describes the current batch's first non-finite input, or returns null when all are finite.</summary>
        public abstract string? NonFiniteInput();
    }

    /// <summary>Fixed-size examples from a <see cref="BatchLoader"/> through an <see cref="ITrainable"/>.</summary>
    private sealed class ExampleBatches : Batches
    {
        private readonly ITrainable _model;
        private readonly BatchLoader _loader;
        private readonly float[] _output;    // [rows, OutputLength]
        private readonly float[] _dOutput;   // [rows, OutputLength]

        public ExampleBatches(ITrainable model, IDataSource data, int batchSize, bool shuffle, ulong seed, IAugmentation? augmentation = null)
        {
            _model = model;
            _loader = new BatchLoader(data, batchSize, shuffle, seed, augmentation);
            int rows = Math.Min(batchSize, Math.Max(1, data.Count));   // no batch holds more rows than the set has
            _output = new float[checked(rows * model.OutputLength)];
            _dOutput = new float[_output.Length];
        }

        public override int PerEpoch => _loader.BatchesPerEpoch;
        public override int Size => _loader.Current.Size;
        public override int Terms => _loader.Current.Size;
        public override ReadOnlySpan<float> Output => _output.AsSpan(0, Size * _model.OutputLength);
        public override ReadOnlySpan<int> Labels => _loader.Current.Labels;
        public override ReadOnlySpan<float> Targets => _loader.Current.Targets;
        public override Span<float> DOutput => _dOutput.AsSpan(0, Size * _model.OutputLength);
        public override void StartEpoch(int epoch) => _loader.StartEpoch(epoch);
        public override bool TryNext() => _loader.TryNext(out _);

        public override float Forward(Loss loss, bool train)
        {
            var batch = _loader.Current;
            var output = _output.AsSpan(0, batch.Size * _model.OutputLength);
            if (train) _model.ForwardTrain(batch.Inputs, output, batch.Size);
            else _model.Forward(batch.Inputs, output, batch.Size);
            return loss.Compute(output, batch.Labels, batch.Targets, DOutput, batch.Size);
        }

        public override void Backward() => _model.Backward(DOutput, default);

        public override string? NonFiniteInput()
        {
            var inputs = _loader.Current.Inputs;
            int at = Finiteness.IndexOfNonFinite(inputs);
            return at < 0 ? null : $"example {at / _model.InputLength + 1} of the batch holds {inputs[at]}";
        }
    }

    /// <summary>
    /// Padded (source, target) token-sequence pairs from a <see cref="Seq2SeqBatchLoader"/> through an
    /// <see cref="ISeq2SeqTrainable{TInput, TSource}"/>: the outputs are [Size·TargetSeq] rows with one label each, padding
    /// labelled <see cref="Loss.DefaultIgnoreIndex"/>, so the loss is the mean over the batch's labelled tokens.
    /// </summary>
    private sealed class PairBatches : Batches
    {
        private readonly ISeq2SeqTrainable<int, int> _model;
        private readonly Seq2SeqBatchLoader _loader;
        private readonly float[] _output;    // [rows, LongestTarget, OutputLength]
        private readonly float[] _dOutput;   // [rows, LongestTarget, OutputLength]

        public PairBatches(ISeq2SeqTrainable<int, int> model, ISeq2SeqDataSource data, int batchSize, bool shuffle, ulong seed)
        {
            _model = model;
            _loader = new Seq2SeqBatchLoader(data, batchSize, shuffle, seed);
            int rows = Math.Min(batchSize, Math.Max(1, data.Count));
            _output = new float[checked(rows * Math.Max(1, data.LongestTarget) * model.OutputLength)];
            _dOutput = new float[_output.Length];
        }

        private int Positions => _loader.Current.Size * _loader.Current.TargetSeq;

        public override int PerEpoch => _loader.BatchesPerEpoch;
        public override int Size => _loader.Current.Size;
        public override int Terms => _loader.Current.TokenCount;
        public override ReadOnlySpan<float> Output => _output.AsSpan(0, Positions * _model.OutputLength);
        public override ReadOnlySpan<int> Labels => _loader.Current.TargetLabels;
        public override ReadOnlySpan<float> Targets => default;
        public override Span<float> DOutput => _dOutput.AsSpan(0, Positions * _model.OutputLength);
        public override void StartEpoch(int epoch) => _loader.StartEpoch(epoch);
        public override bool TryNext() => _loader.TryNext(out _);

        public override float Forward(Loss loss, bool train)
        {
            var b = _loader.Current;
            int positions = b.Size * b.TargetSeq;
            var output = _output.AsSpan(0, positions * _model.OutputLength);
            if (train) _model.ForwardTrain(b.TargetInputs, b.Source, output, b.Size, b.TargetSeq, b.SourceSeq, b.TargetLengths, b.SourceLengths);
            else _model.Forward(b.TargetInputs, b.Source, output, b.Size, b.TargetSeq, b.SourceSeq, b.TargetLengths, b.SourceLengths);
            // One row per target position; padded positions are labelled with the ignore index and get no gradient.
            return loss.Compute(output, b.TargetLabels, default, DOutput, positions);
        }

        public override void Backward() => _model.Backward(DOutput, default);

        public override string? NonFiniteInput() => null;
    }

    /// <summary>
    /// Padded sequences from a <see cref="SequenceBatchLoader{TInput}"/> through an <see cref="ISequenceTrainable{TInput}"/>.
    /// With class labels: for an output per position, [Size·Seq] rows with one label each, padding labelled
    /// <see cref="Loss.DefaultIgnoreIndex"/> (the loss is the mean over the batch's labelled tokens); for an output per
    /// sequence, [Size] rows with one label each. With targets per position, the real positions' rows are packed before the
    /// loss and its gradient scattered back (zero at padding), PyTorch's <c>loss_fn(out[mask], target[mask])</c>: the mean
    /// over real positions, which padding never enters. With one target row per sequence, [Size] rows as a feed-forward model.
    /// </summary>
    private sealed class SequenceBatches<TInput> : Batches where TInput : unmanaged
    {
        private readonly ISequenceTrainable<TInput> _model;
        private readonly SequenceBatchLoader<TInput> _loader;
        private readonly bool _perPosition;
        private readonly bool _packed;       // targets per position: the loss sees only the real positions' rows
        private readonly string _set;        // "train", "validation" or "data", for error messages
        private readonly float[] _output;    // [rows, LongestSequence, OutputLength] per position, else [rows, OutputLength]
        private readonly float[] _dOutput;   // as _output
        private readonly float[] _real;      // packed: [real positions, OutputLength] outputs, then targets, then their gradient
        private int _realRows;               // packed: real positions of the current batch

        public SequenceBatches(ISequenceTrainable<TInput> model, ISequenceDataSource<TInput> data, int batchSize, bool shuffle, ulong seed, string set)
        {
            _model = model;
            _loader = new SequenceBatchLoader<TInput>(data, batchSize, shuffle, seed);
            _perPosition = data.LabelsPerPosition;
            _packed = _perPosition && data.TargetLength > 0;
            _set = set;
            int rows = Math.Min(batchSize, Math.Max(1, data.Count));
            _output = new float[checked(rows * (_perPosition ? Math.Max(1, data.LongestSequence) : 1) * model.OutputLength)];
            _dOutput = new float[_output.Length];
            _real = _packed ? new float[checked(3 * _output.Length)] : [];
        }

        /// <summary>Output rows of the current batch: one per position, or one per sequence.</summary>
        private int Rows => _perPosition ? _loader.Current.Size * _loader.Current.Seq : _loader.Current.Size;

        private int Width => _model.OutputLength;

        public override int PerEpoch => _loader.BatchesPerEpoch;
        public override int Size => _loader.Current.Size;
        public override int Terms => _loader.Current.TokenCount;
        public override ReadOnlySpan<float> Output => _packed ? _real.AsSpan(0, _realRows * Width) : _output.AsSpan(0, Rows * Width);
        public override ReadOnlySpan<int> Labels => _loader.Current.Labels;
        public override ReadOnlySpan<float> Targets => _packed ? _real.AsSpan(_output.Length, _realRows * Width) : _loader.Current.Targets;
        public override Span<float> DOutput => _dOutput.AsSpan(0, Rows * Width);
        public override void StartEpoch(int epoch) => _loader.StartEpoch(epoch);

        public override bool TryNext()
        {
            if (!_loader.TryNext(out var b)) return false;
            if (b.Targets.IsEmpty) CheckLabels(b);
            else CheckFinite(b.Targets, b, b.Targets.Length / (_perPosition ? b.Size * b.Seq : b.Size), "target");
            if (typeof(TInput) == typeof(float))
                CheckFinite(System.Runtime.InteropServices.MemoryMarshal.Cast<TInput, float>(b.Inputs), b, _model.InputLength, "input");
            return true;
        }

        public override float Forward(Loss loss, bool train)
        {
            var b = _loader.Current;
            int rows = Rows, width = Width;
            var output = _output.AsSpan(0, rows * width);
            if (train) _model.ForwardTrain(b.Inputs, output, b.Size, b.Seq, b.Lengths);
            else _model.Forward(b.Inputs, output, b.Size, b.Seq, b.Lengths);
            // Class labels per position: padded positions are labelled with the ignore index, so they add no loss and get
            // no gradient. Targets per sequence: one row each, as a feed-forward model's.
            if (!_packed) return loss.Compute(output, b.Labels, b.Targets, DOutput, rows);

            // Targets per position: the loss over the real positions only (a masked mean), its gradient zero at padding.
            int real = 0;
            for (int row = 0; row < b.Size; row++)
            {
                int span = b.Lengths[row] * width, from = row * b.Seq * width;
                output.Slice(from, span).CopyTo(_real.AsSpan(real * width));
                b.Targets.Slice(from, span).CopyTo(_real.AsSpan(_output.Length + real * width));
                real += b.Lengths[row];
            }
            _realRows = real;
            var dReal = _real.AsSpan(2 * _output.Length, real * width);
            float mean = loss.Compute(_real.AsSpan(0, real * width), default, _real.AsSpan(_output.Length, real * width), dReal, real);
            var dOutput = DOutput;
            dOutput.Clear();
            real = 0;
            for (int row = 0; row < b.Size; row++)
            {
                int span = b.Lengths[row] * width;
                dReal.Slice(real * width, span).CopyTo(dOutput.Slice(row * b.Seq * width));
                real += b.Lengths[row];
            }
            return mean;
        }

        public override void Backward() => _model.Backward(DOutput, default);

        // Inputs and targets are checked as each batch is read, so a non-finite loss never comes from them.
        public override string? NonFiniteInput() => null;

        /// <summary>
        /// Every label must be a class of the model's output (or, per position, the ignore index), checked here so that the
        /// error names the example and position rather than a row of the flattened batch the loss sees.
        /// </summary>
        private void CheckLabels(SequenceBatch<TInput> b)
        {
            int classes = _model.OutputLength;
            for (int row = 0; row < b.Size; row++)
            {
                var labels = _perPosition ? b.Labels.Slice(row * b.Seq, b.Lengths[row]) : b.Labels.Slice(row, 1);
                for (int t = 0; t < labels.Length; t++)
                {
                    int label = labels[t];
                    if ((uint)label < (uint)classes || (_perPosition && label == Loss.DefaultIgnoreIndex)) continue;
                    throw new ArgumentOutOfRangeException(_set, label, _perPosition
                        ? $"Example {b.Indices[row]} of the {_set} set has label {label} at position {t}; the model outputs {classes} classes (0 to {classes - 1}), and {Loss.DefaultIgnoreIndex} leaves a position out."
                        : $"Example {b.Indices[row]} of the {_set} set has label {label}; the model outputs {classes} classes (0 to {classes - 1}).");
                }
            }
        }

        /// <summary>
        /// A source of its own may hand over NaN or infinity, which would surface steps later as a diverged loss: the error
        /// names the example and position instead. Padding is finite, so one vectorised scan covers the batch.
        /// </summary>
        private void CheckFinite(ReadOnlySpan<float> values, SequenceBatch<TInput> b, int width, string what)
        {
            int at = Finiteness.IndexOfNonFinite(values);
            if (at < 0) return;
            int row = at / width, example = _perPosition || what == "input" ? row / b.Seq : row;
            string where = _perPosition || what == "input" ? $" at position {row % b.Seq}" : "";
            throw new ArgumentException($"Example {b.Indices[example]} of the {_set} set holds {values[at]} in its {what}s{where} ({what} {at % width}); inputs and targets must be finite.", _set);
        }
    }
}
