using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Google.Protobuf;
using MedicalTransfer.Weights.OnnxIr;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Reads ONNX models with the protobuf classes generated from <c>onnx_ir.proto</c>, turning protobuf's
    /// failures into <see cref="WeightsFormatException"/>s that name the file, and gives the importer the few
    /// lookups it needs (attributes with defaults, initializers by name, readable node names).
    /// </summary>
    internal static class OnnxModelFile
    {
        public static ModelProto Read(string path)
        {
            ModelProto model;
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                model = ModelProto.Parser.ParseFrom(stream);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw NotReadable(path, e.Message, e);
            }

            if (model.Graph is null)
            {
                throw NotReadable(path, "the file has no graph (ModelProto field 7); it is not an ONNX model", null);
            }

            return model;
        }

        /// <summary>The version of the default operator set (domain "" or "ai.onnx"), or 0 when none is declared.</summary>
        public static long DefaultOpset(ModelProto model) =>
            model.OpsetImport.Where(o => o.Domain.Length == 0 || o.Domain == "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();

        public static WeightsFormatException NotReadable(string path, string what, Exception? inner) => new(
            string.Format(CultureInfo.InvariantCulture, "'{0}' is not a readable ONNX model: {1}. The file may be truncated or not an .onnx file; export it again or check the download.", path, what),
            inner);

        /// <summary>Initializers by name (a later one with the same name wins, as ONNX Runtime does).</summary>
        public static Dictionary<string, TensorProto> Initializers(GraphProto graph)
        {
            var result = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
            foreach (var tensor in graph.Initializer)
            {
                result[tensor.Name] = tensor;
            }

            return result;
        }

        public static long[] Ints(this NodeProto node, string name, long[] fallback) =>
            Attribute(node, name) is { } a && a.Ints.Count > 0 ? a.Ints.ToArray() : fallback;

        public static long Int(this NodeProto node, string name, long fallback) =>
            Attribute(node, name) is { } a && a.HasI ? a.I : fallback;

        public static float Float(this NodeProto node, string name, float fallback) =>
            Attribute(node, name) is { } a && a.HasF ? a.F : fallback;

        public static string? String(this NodeProto node, string name) =>
            Attribute(node, name) is { } a && a.HasS ? a.S.ToStringUtf8() : null;

        public static string DescribeShape(this TensorProto tensor) => "[" + string.Join(", ", tensor.Dims) + "]";

        /// <summary>Declared dimensions of a graph input or output; null where a dimension is symbolic or missing.</summary>
        public static IReadOnlyList<long?> Shape(this ValueInfoProto info) =>
            info.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : (long?)null).ToArray()
            ?? Array.Empty<long?>();

        private static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.LastOrDefault(a => a.Name == name);
    }

    /// <summary>Reads tensor data, from the model or from an external file inside the model's folder.</summary>
    internal static class OnnxTensorData
    {
        public static float[] ReadFloats(TensorProto tensor, string modelPath, string context)
        {
            long count = 1;
            foreach (long d in tensor.Dims)
            {
                if (d < 0 || (d > 0 && count > int.MaxValue / d))
                {
                    throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} declares the shape {3}, which is negative or too large. The file is damaged or not a ResNet export.", modelPath, tensor.Name, context, tensor.DescribeShape()));
                }

                count *= d;
            }

            var type = (TensorProto.Types.DataType)tensor.DataType;
            if (type != TensorProto.Types.DataType.Float && type != TensorProto.Types.DataType.Double)
            {
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} has ONNX data type {3}; only float32 (1) and float64 (11) weights can be imported. Export the model with float32 weights.", modelPath, tensor.Name, context, tensor.DataType));
            }

            int elementSize = type == TensorProto.Types.DataType.Float ? 4 : 8;
            ReadOnlySpan<byte> raw;
            if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
            {
                raw = ReadExternal(tensor, modelPath, context, count * elementSize);
            }
            else if (tensor.RawData.Length > 0 || (tensor.FloatData.Count == 0 && tensor.DoubleData.Count == 0))
            {
                raw = tensor.RawData.Span;
            }
            else
            {
                int stored = type == TensorProto.Types.DataType.Float ? tensor.FloatData.Count : tensor.DoubleData.Count;
                if (stored != count)
                {
                    throw SizeError(tensor, modelPath, context, count, stored);
                }

                return type == TensorProto.Types.DataType.Float ? tensor.FloatData.ToArray() : tensor.DoubleData.Select(v => (float)v).ToArray();
            }

            if (raw.Length != count * elementSize)
            {
                throw SizeError(tensor, modelPath, context, count, raw.Length / elementSize);
            }

            var values = new float[count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = elementSize == 4
                    ? BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4, 4))
                    : (float)BinaryPrimitives.ReadDoubleLittleEndian(raw.Slice(i * 8, 8));
            }

            return values;
        }

        private static WeightsFormatException SizeError(TensorProto tensor, string modelPath, string context, long expected, long found) =>
            new(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} declares the shape {3} ({4} values) but holds {5}. The file is truncated or damaged; export or download it again.", modelPath, tensor.Name, context, tensor.DescribeShape(), expected, found));

        private static byte[] ReadExternal(TensorProto tensor, string modelPath, string context, long byteCount)
        {
            string? location = null;
            long offset = 0;
            long? length = null;
            foreach (var entry in tensor.ExternalData)
            {
                switch (entry.Key)
                {
                    case "location": location = entry.Value; break;
                    case "offset": offset = ParseSize(entry.Value, entry.Key); break;
                    case "length": length = ParseSize(entry.Value, entry.Key); break;
                    default: break;
                }
            }

            long ParseSize(string text, string key) => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long parsed)
                ? parsed
                : throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} has the external-data {3} '{4}', which is not a non-negative integer.", modelPath, tensor.Name, context, key, text));

            string folder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
            if (string.IsNullOrEmpty(location))
            {
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} is stored externally but names no file (no 'location' entry).", modelPath, tensor.Name, context));
            }

            if (location.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            {
                // Path.GetFullPath would throw ArgumentException on these (a NUL byte on Linux): the file is damaged.
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} names an external file with a character no file name can hold (a NUL or control character). The file is damaged.", modelPath, tensor.Name, context));
            }

            string full = Path.GetFullPath(Path.Combine(folder, location));
            string folderWithSeparator = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
            if (Path.IsPathRooted(location) || !full.StartsWith(folderWithSeparator, StringComparison.Ordinal) || LeadsThroughLink(folder, full))
            {
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} is stored in the external file '{3}', which is outside the model's folder '{4}' (or a link). External data must stay inside the model's folder; this file was refused.", modelPath, tensor.Name, context, location, folder));
            }

            if (!File.Exists(full))
            {
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} is stored in the external file '{3}', which does not exist. Keep the model's external data files beside it.", modelPath, tensor.Name, context, full));
            }

            using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
            if ((length is { } l && l != byteCount) || offset < 0 || offset > stream.Length || stream.Length - offset < byteCount)
            {
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} needs {3} bytes at offset {4} of '{5}' (declared length {6}), but the file has {7} bytes.", modelPath, tensor.Name, context, byteCount, offset, full, length?.ToString(CultureInfo.InvariantCulture) ?? "none", stream.Length));
            }

            var buffer = new byte[byteCount];
            stream.Position = offset;
            stream.ReadExactly(buffer);
            return buffer;
        }

        /// <summary>Whether the file, or a folder between the model's folder and it, is a symbolic link (which could point anywhere).</summary>
        private static bool LeadsThroughLink(string folder, string path)
        {
            if (File.Exists(path) && new FileInfo(path).LinkTarget is not null)
            {
                return true;
            }

            for (string? dir = Path.GetDirectoryName(path); dir is not null && dir.Length > folder.Length; dir = Path.GetDirectoryName(dir))
            {
                if (Directory.Exists(dir) && new DirectoryInfo(dir).LinkTarget is not null)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
