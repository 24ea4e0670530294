using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Our own reader and writer of the safetensors format: an 8-byte little-endian header length N, N
    /// bytes of JSON (<c>{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}</c>),
    /// then the tensor bytes, offsets relative to the end of the header. The header is validated in
    /// full, as the reference implementation does (every byte of the data belongs to exactly one tensor),
    /// before any tensor is allocated.
    /// </summary>
    internal static class SafetensorsFormat
    {
        /// <summary>The largest header accepted: 100 MB, as the reference implementation allows.</summary>
        internal const long MaxHeaderBytes = 100L * 1000 * 1000;

        internal const string MetadataKey = "__metadata__";

        /// <summary>Reads and validates the header of the safetensors file open in <paramref name="stream"/>.</summary>
        public static SafetensorsHeader ReadHeader(string path, Stream stream)
        {
            long fileLength = stream.Length;
            if (fileLength < 8)
            {
                throw Fail(path, $"it has {fileLength} bytes, fewer than the 8-byte header length", "The file is truncated: download or save it again.");
            }

            Span<byte> prefix = stackalloc byte[8];
            stream.Position = 0;
            stream.ReadExactly(prefix);
            ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (declared > MaxHeaderBytes)
            {
                throw Fail(path, $"its header length is {declared} bytes, more than the {MaxHeaderBytes}-byte (100 MB) limit", "The file is corrupt or not a safetensors file.");
            }

            long headerLength = (long)declared;
            if (headerLength > fileLength - 8)
            {
                throw Fail(path, $"its header length is {headerLength} bytes but only {fileLength - 8} bytes follow", "The file is truncated: download or save it again.");
            }

            if (headerLength < 2)
            {
                throw Fail(path, $"its header length is {headerLength} bytes, too short for a JSON object", "The file is corrupt or not a safetensors file.");
            }

            var json = new byte[headerLength];
            stream.ReadExactly(json);
            long dataLength = fileLength - 8 - headerLength;

            // JsonDocument accepts invalid UTF-8 inside strings and fails only when a name or value is read, with
            // an InvalidOperationException (found by fuzzing, see docs/security.md): check the whole header first.
            if (!System.Text.Unicode.Utf8.IsValid(json))
            {
                throw Fail(path, "its header is not valid UTF-8 JSON", "The file is corrupt: download or save it again.");
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
            }
            catch (JsonException e)
            {
                throw new WeightsFormatException(Message(path, $"its header is not valid JSON ({e.Message})", "The file is corrupt: download or save it again."), e);
            }

            using (document)
            {
                try
                {
                    return ReadHeaderDocument(path, document, headerLength, dataLength);
                }
                catch (InvalidOperationException e)
                {
                    // Valid UTF-8 can still escape a lone UTF-16 surrogate ("\uDDDD"): JsonDocument parses it and
                    // throws only when that name or value is read (found by fuzzing, finding 14 in docs/security.md).
                    throw new WeightsFormatException(Message(path, $"its header holds a string that is not valid Unicode ({e.Message})", "The file is corrupt or crafted: download or save it again."), e);
                }
            }
        }

        private static SafetensorsHeader ReadHeaderDocument(string path, JsonDocument document, long headerLength, long dataLength)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Fail(path, $"its header is a JSON {document.RootElement.ValueKind}, not an object", "The file is corrupt or not a safetensors file.");
            }

            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw Fail(path, $"its header names '{property.Name}' twice", "The file is corrupt: save it again.");
                }

                if (property.Name == MetadataKey)
                {
                    ReadMetadata(path, property.Value, metadata);
                }
                else
                {
                    entries.Add(ReadEntry(path, property.Name, property.Value, dataLength));
                }
            }

            CheckCoverage(path, entries, dataLength);
            return new SafetensorsHeader(8 + headerLength, entries, new ReadOnlyDictionary<string, string>(metadata));
        }

        /// <summary>Reads every tensor of the safetensors file open in <paramref name="stream"/>, in header order.</summary>
        public static Dictionary<string, torch.Tensor> ReadTensors(string path, Stream stream)
        {
            SafetensorsHeader header = ReadHeader(path, stream);
            using var scope = torch.NewDisposeScope();
            var result = new Dictionary<string, torch.Tensor>(header.Entries.Count, StringComparer.Ordinal);
            foreach (SafetensorsEntry entry in header.Entries)
            {
                bool isBool = entry.DType == torch.ScalarType.Bool;
                torch.Tensor tensor = torch.empty(entry.Shape, isBool ? torch.ScalarType.Byte : entry.DType);
                stream.Position = header.DataStart + entry.Begin;
                try
                {
                    StateDictFile.ReadInto(tensor, stream);
                }
                catch (EndOfStreamException e)
                {
                    throw new WeightsFormatException(Message(path, $"it ends inside tensor '{entry.Name}'", "The file is truncated: download or save it again."), e);
                }

                result.Add(entry.Name, isBool ? StateDictFile.BytesToBool(path, $"bool tensor '{entry.Name}'", tensor) : tensor);
            }

            foreach (torch.Tensor tensor in result.Values)
            {
                tensor.MoveToOuterDisposeScope();
            }

            return result;
        }

        /// <summary>
        /// Builds the padded header for <paramref name="tensors"/>; throws <see cref="ArgumentException"/>
        /// for a name or tensor that cannot be written, before anything touches the disk.
        /// </summary>
        public static byte[] BuildHeader(IReadOnlyList<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                if (metadata is { Count: > 0 })
                {
                    writer.WriteStartObject(MetadataKey);
                    foreach (KeyValuePair<string, string> pair in metadata)
                    {
                        if (pair.Key is null || pair.Value is null)
                        {
                            throw new ArgumentException("Metadata keys and values must not be null.", nameof(metadata));
                        }

                        writer.WriteString(pair.Key, pair.Value);
                    }

                    writer.WriteEndObject();
                }

                var names = new HashSet<string>(StringComparer.Ordinal);
                long offset = 0;
                foreach (KeyValuePair<string, torch.Tensor> pair in tensors)
                {
                    if (string.IsNullOrEmpty(pair.Key) || pair.Key == MetadataKey)
                    {
                        throw new ArgumentException($"Tensor names must be non-empty and not '{MetadataKey}'; found '{pair.Key}'.", nameof(tensors));
                    }

                    if (!names.Add(pair.Key))
                    {
                        throw new ArgumentException($"Tensor names must be unique; '{pair.Key}' occurs twice.", nameof(tensors));
                    }

                    if (pair.Value is null || pair.Value.IsInvalid)
                    {
                        throw new ArgumentException($"Tensor '{pair.Key}' is null or disposed.", nameof(tensors));
                    }

                    string dtype = DTypeName(pair.Value.dtype)
                        ?? throw new ArgumentException($"Tensor '{pair.Key}' has dtype {pair.Value.dtype}, which safetensors files here do not store; supported: {string.Join(", ", Supported.Select(s => s.Value))}. Convert it first.", nameof(tensors));
                    long bytes = pair.Value.NumberOfElements * pair.Value.ElementSize;

                    writer.WriteStartObject(pair.Key);
                    writer.WriteString("dtype", dtype);
                    writer.WriteStartArray("shape");
                    foreach (long dim in pair.Value.shape)
                    {
                        writer.WriteNumberValue(dim);
                    }

                    writer.WriteEndArray();
                    writer.WriteStartArray("data_offsets");
                    writer.WriteNumberValue(offset);
                    writer.WriteNumberValue(offset + bytes);
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                    offset += bytes;
                }

                writer.WriteEndObject();
            }

            // The reference writer pads the JSON with spaces so that the data starts 8-byte aligned.
            int json = (int)buffer.Length;
            int padded = (json + 7) / 8 * 8;
            var header = new byte[8 + padded];
            BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
            buffer.GetBuffer().AsSpan(0, json).CopyTo(header.AsSpan(8));
            header.AsSpan(8 + json).Fill((byte)' ');
            return header;
        }

        /// <summary>Writes the header and then each tensor's bytes, in order.</summary>
        public static void Write(Stream stream, byte[] header, IReadOnlyList<KeyValuePair<string, torch.Tensor>> tensors)
        {
            stream.Write(header);
            foreach (KeyValuePair<string, torch.Tensor> pair in tensors)
            {
                using var scope = torch.NewDisposeScope();
                torch.Tensor cpu = pair.Value.detach().cpu().contiguous();
                StateDictFile.WriteFrom(cpu, stream);
            }
        }

        private static readonly KeyValuePair<torch.ScalarType, string>[] Supported =
        {
            new(torch.ScalarType.Float64, "F64"),
            new(torch.ScalarType.Float32, "F32"),
            new(torch.ScalarType.Float16, "F16"),
            new(torch.ScalarType.BFloat16, "BF16"),
            new(torch.ScalarType.Int64, "I64"),
            new(torch.ScalarType.Int32, "I32"),
            new(torch.ScalarType.Int16, "I16"),
            new(torch.ScalarType.Int8, "I8"),
            new(torch.ScalarType.Byte, "U8"),
            new(torch.ScalarType.Bool, "BOOL"),
        };

        /// <summary>Valid safetensors dtypes that TorchSharp 0.107 has no type for.</summary>
        private static readonly string[] KnownUnsupported = { "U16", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64" };

        private static string? DTypeName(torch.ScalarType dtype) =>
            Supported.Where(s => s.Key == dtype).Select(s => s.Value).FirstOrDefault();

        private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                throw Fail(path, $"its {MetadataKey} is a JSON {value.ValueKind}, not an object of strings", "The file is corrupt: save it again.");
            }

            foreach (JsonProperty item in value.EnumerateObject())
            {
                if (item.Value.ValueKind != JsonValueKind.String)
                {
                    throw Fail(path, $"its {MetadataKey} entry '{item.Name}' is a JSON {item.Value.ValueKind}; metadata values must be strings", "The file is corrupt: save it again.");
                }

                if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                {
                    throw Fail(path, $"its {MetadataKey} names '{item.Name}' twice", "The file is corrupt: save it again.");
                }
            }
        }

        private static SafetensorsEntry ReadEntry(string path, string name, JsonElement value, long dataLength)
        {
            string What(string problem) => $"tensor '{name}' {problem}";

            if (value.ValueKind != JsonValueKind.Object)
            {
                throw Fail(path, What($"is described by a JSON {value.ValueKind}, not an object"), "The file is corrupt: save it again.");
            }

            string? dtypeName = null;
            long[]? shape = null;
            long[]? offsets = null;
            var fields = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty field in value.EnumerateObject())
            {
                if (!fields.Add(field.Name))
                {
                    throw Fail(path, What($"has the field '{field.Name}' twice"), "The file is corrupt: save it again.");
                }

                switch (field.Name)
                {
                    case "dtype":
                        dtypeName = field.Value.ValueKind == JsonValueKind.String
                            ? field.Value.GetString()
                            : throw Fail(path, What("has a dtype that is not a string"), "The file is corrupt: save it again.");
                        break;
                    case "shape":
                        shape = ReadIntegers(path, name, "shape", field.Value);
                        break;
                    case "data_offsets":
                        offsets = ReadIntegers(path, name, "data_offsets", field.Value);
                        break;
                }
            }

            if (dtypeName is null || shape is null || offsets is null)
            {
                throw Fail(path, What("lacks one of 'dtype', 'shape', 'data_offsets'"), "The file is corrupt: save it again.");
            }

            torch.ScalarType dtype = Supported.Where(s => s.Value == dtypeName).Select(s => (torch.ScalarType?)s.Key).FirstOrDefault()
                ?? throw Fail(
                    path,
                    KnownUnsupported.Contains(dtypeName, StringComparer.Ordinal)
                        ? What($"has dtype {dtypeName}, which TorchSharp cannot hold")
                        : What($"has an unknown dtype '{dtypeName}'"),
                    $"Supported dtypes: {string.Join(", ", Supported.Select(s => s.Value))}. Convert the tensor (e.g. to F32) and save again.");

            if (offsets.Length != 2 || offsets[0] > offsets[1])
            {
                throw Fail(path, What($"has data_offsets [{string.Join(", ", offsets)}]; expected [begin, end] with begin <= end"), "The file is corrupt: save it again.");
            }

            long bytes;
            try
            {
                long count = 1;
                foreach (long dim in shape)
                {
                    count = checked(count * dim);
                }

                bytes = checked(count * StateDictFile.ElementSize(dtype));
            }
            catch (OverflowException)
            {
                throw Fail(path, What($"has a shape [{string.Join(", ", shape)}] whose size overflows 64-bit arithmetic"), "The file is corrupt or crafted: do not use it.");
            }

            if (offsets[1] > dataLength)
            {
                throw Fail(path, What($"spans data bytes {offsets[0]}..{offsets[1]}, beyond the {dataLength} data bytes the file holds"), "The file is truncated or corrupt: download or save it again.");
            }

            if (offsets[1] - offsets[0] != bytes)
            {
                throw Fail(path, What($"has shape [{string.Join(", ", shape)}] of {dtypeName} ({bytes} bytes) but a byte range of {offsets[1] - offsets[0]} bytes"), "The file is corrupt: save it again.");
            }

            return new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
        }

        private static long[] ReadIntegers(string path, string name, string field, JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() > 64)
            {
                throw Fail(path, $"tensor '{name}' has a '{field}' that is not an array of at most 64 integers", "The file is corrupt: save it again.");
            }

            var result = new long[value.GetArrayLength()];
            int i = 0;
            foreach (JsonElement item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long number) || number < 0)
                {
                    throw Fail(path, $"tensor '{name}' has '{field}' value {item.GetRawText()}; expected a non-negative 64-bit integer", "The file is corrupt or crafted: do not use it.");
                }

                result[i++] = number;
            }

            return result;
        }

        private static void CheckCoverage(string path, List<SafetensorsEntry> entries, long dataLength)
        {
            long end = 0;
            SafetensorsEntry? previous = null;
            foreach (SafetensorsEntry entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (entry.Begin < end)
                {
                    throw Fail(path, $"tensors '{previous!.Name}' (bytes {previous.Begin}..{previous.End}) and '{entry.Name}' (bytes {entry.Begin}..{entry.End}) overlap", "The file is corrupt or crafted: do not use it.");
                }

                if (entry.Begin > end)
                {
                    throw Fail(path, $"data bytes {end}..{entry.Begin} before tensor '{entry.Name}' belong to no tensor", "The file is corrupt: save it again.");
                }

                end = entry.End;
                previous = entry;
            }

            if (end != dataLength)
            {
                throw Fail(path, $"its tensors cover {end} data bytes but the file holds {dataLength}", "The file is corrupt or has trailing data: save it again.");
            }
        }

        private static string Message(string path, string what, string todo) =>
            $"'{path}' is not a valid safetensors file: {what}. {todo}";

        private static WeightsFormatException Fail(string path, string what, string todo) => new(Message(path, what, todo));
    }

    /// <summary>A validated safetensors header.</summary>
    /// <param name="DataStart">The file offset of the first data byte (8 + header length).</param>
    /// <param name="Entries">The tensors, in header order.</param>
    /// <param name="Metadata">The <c>__metadata__</c> strings; empty if the file has none.</param>
    internal sealed record SafetensorsHeader(long DataStart, IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata);

    /// <summary>One tensor of a safetensors header; offsets are relative to the data start.</summary>
    internal sealed record SafetensorsEntry(string Name, torch.ScalarType DType, long[] Shape, long Begin, long End);
}
