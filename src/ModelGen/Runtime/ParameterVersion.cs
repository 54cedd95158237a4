// Inference folds BatchNorm into the preceding convolution, which caches derived weights; the cache must be
// rebuilt whenever parameters may have changed. Every writable route to parameters (IModel.Parameters, which
// optimizers, loaders and Layer.Parameter use, and the training forward, which updates running statistics) bumps
// this counter; a model and the block views sharing its buffer share one counter.
namespace ModelGen.Runtime;

/// <summary>A counter bumped whenever a model's parameters may have been written.</summary>
public sealed class ParameterVersion
{
    private int _value;

    /// <summary>The current version.</summary>
    public int Value => Volatile.Read(ref _value);

    /// <summary>Marks the parameters as possibly changed.</summary>
    public void Bump() => Interlocked.Increment(ref _value);
}
