// Class names travel with a model's weights as one safetensors metadata entry, "modelgen.class_names", holding a JSON
// array of strings in label order, so a predictor can print "cat" instead of 3 without the training folder at hand.
using System.Text;
using System.Text.Json;

namespace ModelGen.Data;

/// <summary>Writes and reads a model's class names in safetensors metadata (see <see cref="Serialization.ModelWeights"/>).</summary>
public static class ClassNames
{
    /// <summary>The metadata key: its value is a JSON array of the class names in label order, e.g. <c>["cat","dog"]</c>.</summary>
    public const string MetadataKey = "modelgen.class_names";

    /// <summary>Sets <see cref="MetadataKey"/> in <paramref name="metadata"/> to <paramref name="names"/> as a JSON array.</summary>
    /// <exception cref="ArgumentException">A name is null.</exception>
    public static void Add(IDictionary<string, string> metadata, IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(names);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            for (int i = 0; i < names.Count; i++)
                json.WriteStringValue(names[i] ?? throw new ArgumentException($"names[{i}] is null.", nameof(names)));
            json.WriteEndArray();
        }
        metadata[MetadataKey] = Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// The class names stored under <see cref="MetadataKey"/>, or <see langword="null"/> when the metadata has none.
    /// </summary>
    /// <param name="metadata">A weights file's metadata (<see cref="Serialization.SafeTensors.ReadHeader(string, out IReadOnlyDictionary{string, string})"/>).</param>
    /// <param name="sourceName">Names the file in error messages.</param>
    /// <exception cref="InvalidDataException">The entry is not a JSON array of strings (the message names the file and the key).</exception>
    public static string[]? Read(IReadOnlyDictionary<string, string> metadata, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(MetadataKey, out string? text)) return null;
        var names = new List<string>();
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected '['");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.String) throw new JsonException($"expected a string, found {reader.TokenType}");
                names.Add(reader.GetString()!);
            }
            if (reader.TokenType != JsonTokenType.EndArray || reader.Read()) throw new JsonException("expected one array");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{sourceName}: metadata '{MetadataKey}' is not a JSON array of strings ({e.Message}).", e);
        }
        return [.. names];
    }
}
