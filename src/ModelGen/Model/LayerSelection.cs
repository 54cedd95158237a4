// Freezing and per-group learning rates by name, for transfer learning. They set Layer.Trainable and
// Layer.LearningRateScale, which optimizers read on every step. A model's Layers are its members: a block member is one
// layer (named after the member) owning all the block's tensors, so a prefix selects whole members. A name inside a block
// ("features.c1") is rejected rather than ignored, because the optimizer cannot freeze part of a block.
namespace ModelGen;

/// <summary>Selects a model's layers by name to freeze them or scale their learning rate.</summary>
public static class LayerSelection
{
    /// <summary>
    /// Freezes the selected layers (<see cref="Layer.Trainable"/> = false): optimizers leave their parameters and optimizer
    /// state unchanged, as PyTorch's <c>requires_grad_(False)</c>. A name selects the layer of that name (a block member
    /// such as <c>"backbone"</c> with every tensor under <c>backbone.</c>); a trailing dot is allowed (<c>"backbone."</c>).
    /// BatchNorm running statistics are buffers, updated by training forward passes whether frozen or not (as in PyTorch's
    /// train mode).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="names">Layer names (lower-case member names, as in tensor names).</param>
    /// <returns>The layers that were selected, in the model's order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="names"/> is null.</exception>
    /// <exception cref="ArgumentException">No name was given, or a name is empty, names no layer, or names a part of a block member (the message lists the model's layers).</exception>
    public static IReadOnlyList<Layer> Freeze(this IModel model, params string[] names)
    {
        var selected = Select(model, names);
        foreach (var layer in selected) layer.Trainable = false;
        return selected;
    }

    /// <summary>Makes the selected layers trainable again (<see cref="Layer.Trainable"/> = true); names as in <see cref="Freeze"/>.</summary>
    /// <inheritdoc cref="Freeze" path="/param|/returns|/exception"/>
    public static IReadOnlyList<Layer> Unfreeze(this IModel model, params string[] names)
    {
        var selected = Select(model, names);
        foreach (var layer in selected) layer.Trainable = true;
        return selected;
    }

    /// <summary>
    /// Sets <see cref="Layer.LearningRateScale"/> of the selected layers: their parameters are updated with the optimizer's
    /// learning rate × <paramref name="scale"/> (PyTorch's per-parameter-group <c>lr</c>; e.g. 0.1 for a pre-trained
    /// backbone that is fine-tuned rather than frozen). Names as in <see cref="Freeze"/>.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="scale">The multiplier, finite and not negative (0 stops parameter updates but, unlike freezing, still advances the optimizer state).</param>
    /// <param name="names">Layer names.</param>
    /// <returns>The layers that were selected, in the model's order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="scale"/> is negative, NaN or infinite.</exception>
    /// <inheritdoc cref="Freeze" path="/exception"/>
    public static IReadOnlyList<Layer> SetLearningRateScale(this IModel model, float scale, params string[] names)
    {
        if (!float.IsFinite(scale) || scale < 0)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The learning-rate scale must be finite and not negative.");
        var selected = Select(model, names);
        foreach (var layer in selected) layer.LearningRateScale = scale;
        return selected;
    }

    private static List<Layer> Select(IModel model, string[] names)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(names);
        if (names.Length == 0) throw new ArgumentException("Name at least one layer.", nameof(names));
        var layers = model.Layers;
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (string raw in names)
        {
            if (string.IsNullOrEmpty(raw) || raw == ".") throw new ArgumentException("A layer name is empty.", nameof(names));
            string name = raw.EndsWith('.') ? raw[..^1] : raw;
            Layer? found = null;
            foreach (var layer in layers)
                if (layer.Name == name) found = layer;
            if (found is null)
            {
                string list = string.Join(", ", layers.Select(l => l.Name));
                foreach (var layer in layers)
                    if (name.StartsWith(layer.Name + ".", StringComparison.Ordinal))
                        throw new ArgumentException(
                            $"'{raw}' is inside block '{layer.Name}' ({layer.Kind}); optimizers freeze and scale whole members of the model, so select '{layer.Name}'. The model's layers: {list}.",
                            nameof(names));
                throw new ArgumentException($"The model has no layer '{raw}'. Its layers: {list}.", nameof(names));
            }
            wanted.Add(found.Name);
        }
        var selected = new List<Layer>();
        foreach (var layer in layers)
            if (wanted.Contains(layer.Name)) selected.Add(layer);
        return selected;
    }
}
