namespace ModelGen;

/// <summary>
/// Where and at which shapes an enclosing model uses a shape-generic block (a <c>[Model]</c> class declared without an
/// input shape). Such a block's code is specialised inside each model that uses it, at the input shape it receives
/// there; the block object a member returns is a view that takes its shapes, layers and parameter names from this
/// description. Created by generated code only.
/// </summary>
public sealed class BlockUse
{
    /// <summary>Created by generated code.</summary>
    /// <param name="inputShape">The block's per-example input shape at this use (<see cref="Dim.Seq"/> for T).</param>
    /// <param name="outputShape">Its per-example output shape there.</param>
    /// <param name="parameters">Its parameter tensors, named and placed relative to the block (<c>conv1.weight</c> at offset 0 first).</param>
    /// <param name="layers">One entry per member of the block class, in declaration order.</param>
    /// <param name="summary">The block's layer table at this use.</param>
    /// <param name="buffers">Its buffer tensors (running statistics), named and placed relative to the block's first buffer.</param>
    public BlockUse(int[] inputShape, int[] outputShape, ParameterInfo[] parameters, BlockLayer[] layers, string summary, BufferInfo[]? buffers = null)
    {
        Buffers = buffers ?? [];
        int bufferCount = 0;
        foreach (var b in Buffers) bufferCount += b.Length;
        BufferCount = bufferCount;
        InputShape = inputShape;
        OutputShape = outputShape;
        Parameters = parameters;
        Layers = layers;
        Summary = summary;
        int count = 0;
        foreach (var p in parameters) count += p.Length;
        ParameterCount = count;
    }

    /// <summary>Per-example input shape of the block at this use.</summary>
    public int[] InputShape { get; }

    /// <summary>Per-example output shape of the block at this use.</summary>
    public int[] OutputShape { get; }

    /// <summary>The block's parameter tensors, relative to its first parameter.</summary>
    public ParameterInfo[] Parameters { get; }

    /// <summary>The block's buffer tensors, relative to its first buffer.</summary>
    public BufferInfo[] Buffers { get; }

    /// <summary>Total number of buffer elements of the block at this use.</summary>
    public int BufferCount { get; }

    /// <summary>The block's members, in declaration order.</summary>
    public BlockLayer[] Layers { get; }

    /// <summary>The block's layer table (name, kind, output shape, parameters, FLOPs) at this use.</summary>
    public string Summary { get; }

    /// <summary>Total number of parameters of the block at this use.</summary>
    public int ParameterCount { get; }

    /// <summary>The <see cref="Layer"/> objects of the block's members, owned by <paramref name="block"/> (whose parameter buffer their offsets index).</summary>
    public Layer[] CreateLayers(IModel block)
    {
        var layers = new Layer[Layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            var l = Layers[i];
            var parameters = new ParameterInfo[l.ParameterCount];
            System.Array.Copy(Parameters, l.FirstParameter, parameters, 0, l.ParameterCount);
            var buffers = new BufferInfo[l.BufferCount];
            System.Array.Copy(Buffers, l.FirstBuffer, buffers, 0, l.BufferCount);
            layers[i] = new Layer(block, l.Name, l.Kind, l.InputShape, l.OutputShape, parameters, l.Flops, buffers);
        }
        return layers;
    }
}

/// <summary>One member of a shape-generic block at one use: what its <see cref="Layer"/> reports, and a nested block's own use.</summary>
/// <param name="Name">The member's weight name, e.g. <c>conv1</c>.</param>
/// <param name="Kind">Its kind, e.g. <c>Conv2D</c>.</param>
/// <param name="InputShape">Per-example input shape at this use.</param>
/// <param name="OutputShape">Per-example output shape at this use.</param>
/// <param name="FirstParameter">Index of its first tensor in <see cref="BlockUse.Parameters"/>.</param>
/// <param name="ParameterCount">How many tensors it owns there.</param>
/// <param name="Flops">Its forward FLOPs per example (per position for a sequence).</param>
/// <param name="Block">For a member that is itself a shape-generic block, that block's use; otherwise null.</param>
/// <param name="FirstBuffer">Index of its first buffer tensor in <see cref="BlockUse.Buffers"/>.</param>
/// <param name="BufferCount">How many buffer tensors it owns there.</param>
public sealed record BlockLayer(string Name, string Kind, int[] InputShape, int[] OutputShape, int FirstParameter, int ParameterCount, long Flops,
    BlockUse? Block = null, int FirstBuffer = 0, int BufferCount = 0);
