using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Reads the few ONNX protobuf messages a ResNet import needs (ModelProto, GraphProto, NodeProto,
    /// AttributeProto, TensorProto, ValueInfoProto) with a minimal wire-format reader. Every length is
    /// checked against the bytes present; unknown fields are skipped, as protobuf requires.
    /// </summary>
    internal static class OnnxProtobuf
    {
        public static OnnxModel ReadModel(byte[] bytes, string path)
        {
            var model = new OnnxModel();
            var reader = new ProtoReader(bytes, path);
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireVarint: model.IrVersion = (long)reader.ReadVarint(); break;
                    case 2 when wire == WireBytes: model.ProducerName = reader.ReadString(); break;
                    case 3 when wire == WireBytes: model.ProducerVersion = reader.ReadString(); break;
                    case 7 when wire == WireBytes: model.Graph = ReadGraph(reader.ReadSubReader()); break;
                    case 8 when wire == WireBytes: ReadOpset(reader.ReadSubReader(), model); break;
                    default: reader.Skip(wire); break;
                }
            }

            if (model.Graph is null)
            {
                throw reader.Error("the file has no graph (ModelProto field 7); it is not an ONNX model");
            }

            return model;
        }

        private static void ReadOpset(ProtoReader reader, OnnxModel model)
        {
            string domain = string.Empty;
            long version = 0;
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireBytes: domain = reader.ReadString(); break;
                    case 2 when wire == WireVarint: version = (long)reader.ReadVarint(); break;
                    default: reader.Skip(wire); break;
                }
            }

            if (domain.Length == 0 || domain == "ai.onnx")
            {
                model.OpsetVersion = version;
            }
        }

        private static OnnxGraph ReadGraph(ProtoReader reader)
        {
            var graph = new OnnxGraph();
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireBytes: graph.Nodes.Add(ReadNode(reader.ReadSubReader(), graph.Nodes.Count)); break;
                    case 2 when wire == WireBytes: graph.Name = reader.ReadString(); break;
                    case 5 when wire == WireBytes:
                        var tensor = ReadTensor(reader.ReadSubReader());
                        graph.Initializers[tensor.Name] = tensor;
                        break;
                    case 11 when wire == WireBytes: graph.Inputs.Add(ReadValueInfo(reader.ReadSubReader())); break;
                    case 12 when wire == WireBytes: graph.Outputs.Add(ReadValueInfo(reader.ReadSubReader())); break;
                    default: reader.Skip(wire); break;
                }
            }

            return graph;
        }

        private static OnnxNode ReadNode(ProtoReader reader, int index)
        {
            var node = new OnnxNode { Index = index };
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireBytes: node.Inputs.Add(reader.ReadString()); break;
                    case 2 when wire == WireBytes: node.Outputs.Add(reader.ReadString()); break;
                    case 3 when wire == WireBytes: node.Name = reader.ReadString(); break;
                    case 4 when wire == WireBytes: node.OpType = reader.ReadString(); break;
                    case 5 when wire == WireBytes:
                        var attribute = ReadAttribute(reader.ReadSubReader());
                        node.Attributes[attribute.Name] = attribute;
                        break;
                    case 7 when wire == WireBytes: node.Domain = reader.ReadString(); break;
                    default: reader.Skip(wire); break;
                }
            }

            return node;
        }

        private static OnnxAttribute ReadAttribute(ProtoReader reader)
        {
            var attribute = new OnnxAttribute();
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireBytes: attribute.Name = reader.ReadString(); break;
                    case 2 when wire == WireFixed32: attribute.F = reader.ReadFloat(); break;
                    case 3 when wire == WireVarint: attribute.I = (long)reader.ReadVarint(); break;
                    case 4 when wire == WireBytes: attribute.S = reader.ReadString(); break;
                    case 5 when wire == WireBytes: attribute.T = ReadTensor(reader.ReadSubReader()); break;
                    case 7 when wire == WireFixed32: attribute.Floats.Add(reader.ReadFloat()); break;
                    case 7 when wire == WireBytes: reader.ReadPackedFloats(attribute.Floats); break;
                    case 8 when wire == WireVarint: attribute.Ints.Add((long)reader.ReadVarint()); break;
                    case 8 when wire == WireBytes: reader.ReadPackedVarints(attribute.Ints); break;
                    default: reader.Skip(wire); break;
                }
            }

            return attribute;
        }

        private static OnnxTensor ReadTensor(ProtoReader reader)
        {
            var tensor = new OnnxTensor();
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireVarint: tensor.Dims.Add((long)reader.ReadVarint()); break;
                    case 1 when wire == WireBytes: reader.ReadPackedVarints(tensor.Dims); break;
                    case 2 when wire == WireVarint: tensor.DataType = (int)reader.ReadVarint(); break;
                    case 4 when wire == WireFixed32: tensor.FloatData.Add(reader.ReadFloat()); break;
                    case 4 when wire == WireBytes: reader.ReadPackedFloats(tensor.FloatData); break;
                    case 8 when wire == WireBytes: tensor.Name = reader.ReadString(); break;
                    case 9 when wire == WireBytes: tensor.RawData = reader.ReadBytes(); break;
                    case 13 when wire == WireBytes: tensor.ExternalData.Add(ReadStringPair(reader.ReadSubReader())); break;
                    case 14 when wire == WireVarint: tensor.DataLocation = (int)reader.ReadVarint(); break;
                    default: reader.Skip(wire); break;
                }
            }

            return tensor;
        }

        private static KeyValuePair<string, string> ReadStringPair(ProtoReader reader)
        {
            string key = string.Empty, value = string.Empty;
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireBytes: key = reader.ReadString(); break;
                    case 2 when wire == WireBytes: value = reader.ReadString(); break;
                    default: reader.Skip(wire); break;
                }
            }

            return new KeyValuePair<string, string>(key, value);
        }

        private static OnnxValueInfo ReadValueInfo(ProtoReader reader)
        {
            var info = new OnnxValueInfo();
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                switch (field)
                {
                    case 1 when wire == WireBytes: info.Name = reader.ReadString(); break;
                    case 2 when wire == WireBytes: ReadTypeProto(reader.ReadSubReader(), info); break;
                    default: reader.Skip(wire); break;
                }
            }

            return info;
        }

        // TypeProto.tensor_type (1) -> TypeProto.Tensor.shape (2) -> TensorShapeProto.dim (1) -> dim_value (1).
        private static void ReadTypeProto(ProtoReader reader, OnnxValueInfo info)
        {
            while (!reader.End)
            {
                var (field, wire) = reader.ReadTag();
                if (field == 1 && wire == WireBytes)
                {
                    var tensorType = reader.ReadSubReader();
                    while (!tensorType.End)
                    {
                        var (f, w) = tensorType.ReadTag();
                        if (f == 2 && w == WireBytes)
                        {
                            var shape = tensorType.ReadSubReader();
                            while (!shape.End)
                            {
                                var (sf, sw) = shape.ReadTag();
                                if (sf == 1 && sw == WireBytes)
                                {
                                    var dim = shape.ReadSubReader();
                                    long? value = null;
                                    while (!dim.End)
                                    {
                                        var (df, dw) = dim.ReadTag();
                                        if (df == 1 && dw == WireVarint)
                                        {
                                            value = (long)dim.ReadVarint();
                                        }
                                        else
                                        {
                                            dim.Skip(dw);
                                        }
                                    }

                                    info.Shape.Add(value);
                                }
                                else
                                {
                                    shape.Skip(sw);
                                }
                            }
                        }
                        else
                        {
                            tensorType.Skip(w);
                        }
                    }
                }
                else
                {
                    reader.Skip(wire);
                }
            }
        }

        internal const int WireVarint = 0;
        internal const int WireFixed64 = 1;
        internal const int WireBytes = 2;
        internal const int WireFixed32 = 5;

        /// <summary>A bounds-checked cursor over one protobuf message.</summary>
        internal sealed class ProtoReader
        {
            private readonly ReadOnlyMemory<byte> _data;
            private readonly string _path;
            private readonly int _baseOffset;
            private int _position;

            public ProtoReader(ReadOnlyMemory<byte> data, string path, int baseOffset = 0)
            {
                _data = data;
                _path = path;
                _baseOffset = baseOffset;
            }

            public bool End => _position >= _data.Length;

            public (int Field, int Wire) ReadTag()
            {
                ulong tag = ReadVarint();
                int field = (int)(tag >> 3);
                int wire = (int)(tag & 7);
                if (field <= 0 || tag >> 3 > int.MaxValue)
                {
                    throw Error("invalid field number");
                }

                return (field, wire);
            }

            public ulong ReadVarint()
            {
                ulong result = 0;
                var span = _data.Span;
                for (int shift = 0; shift < 64; shift += 7)
                {
                    if (_position >= span.Length)
                    {
                        throw Error("a number runs past the end of its message");
                    }

                    byte b = span[_position++];
                    result |= (ulong)(b & 0x7F) << shift;
                    if ((b & 0x80) == 0)
                    {
                        return result;
                    }
                }

                throw Error("a number is longer than 10 bytes");
            }

            public float ReadFloat()
            {
                Need(4);
                float value = BinaryPrimitives.ReadSingleLittleEndian(_data.Span.Slice(_position, 4));
                _position += 4;
                return value;
            }

            public ReadOnlyMemory<byte> ReadBytes()
            {
                ulong length = ReadVarint();
                if (length > (ulong)(_data.Length - _position))
                {
                    throw Error(string.Format(CultureInfo.InvariantCulture, "a field declares {0} bytes but only {1} remain", length, _data.Length - _position));
                }

                var slice = _data.Slice(_position, (int)length);
                _position += (int)length;
                return slice;
            }

            public ProtoReader ReadSubReader()
            {
                int start = _position;
                var bytes = ReadBytes();
                return new ProtoReader(bytes, _path, _baseOffset + start + (_position - start - bytes.Length));
            }

            public string ReadString() => Encoding.UTF8.GetString(ReadBytes().Span);

            public void ReadPackedFloats(List<float> target)
            {
                var bytes = ReadBytes().Span;
                if (bytes.Length % 4 != 0)
                {
                    throw Error("a packed float list is not a multiple of 4 bytes");
                }

                for (int i = 0; i < bytes.Length; i += 4)
                {
                    target.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i, 4)));
                }
            }

            public void ReadPackedVarints(List<long> target)
            {
                var sub = ReadSubReader();
                while (!sub.End)
                {
                    target.Add((long)sub.ReadVarint());
                }
            }

            public void Skip(int wire)
            {
                switch (wire)
                {
                    case WireVarint: ReadVarint(); break;
                    case WireFixed64: Need(8); _position += 8; break;
                    case WireBytes: ReadBytes(); break;
                    case WireFixed32: Need(4); _position += 4; break;
                    default: throw Error(string.Format(CultureInfo.InvariantCulture, "unsupported protobuf wire type {0}", wire));
                }
            }

            public WeightsFormatException Error(string what) => new(string.Format(
                CultureInfo.InvariantCulture,
                "'{0}' is not a readable ONNX model: {1} (at byte {2}). The file may be truncated or not an .onnx file; export it again or check the download.",
                _path, what, _baseOffset + _position));

            private void Need(int count)
            {
                if (_data.Length - _position < count)
                {
                    throw Error("a fixed-size value runs past the end of its message");
                }
            }
        }
    }

    internal sealed class OnnxModel
    {
        public long IrVersion { get; set; }

        public long OpsetVersion { get; set; }

        public string ProducerName { get; set; } = string.Empty;

        public string ProducerVersion { get; set; } = string.Empty;

        public OnnxGraph Graph { get; set; } = null!;
    }

    internal sealed class OnnxGraph
    {
        public string Name { get; set; } = string.Empty;

        public List<OnnxNode> Nodes { get; } = new();

        public Dictionary<string, OnnxTensor> Initializers { get; } = new(StringComparer.Ordinal);

        public List<OnnxValueInfo> Inputs { get; } = new();

        public List<OnnxValueInfo> Outputs { get; } = new();
    }

    internal sealed class OnnxNode
    {
        public int Index { get; set; }

        public string Name { get; set; } = string.Empty;

        public string OpType { get; set; } = string.Empty;

        public string Domain { get; set; } = string.Empty;

        public List<string> Inputs { get; } = new();

        public List<string> Outputs { get; } = new();

        public Dictionary<string, OnnxAttribute> Attributes { get; } = new(StringComparer.Ordinal);

        /// <summary>How messages name the node: its name (or its index when unnamed) and its operator.</summary>
        public string Describe() => string.Format(
            CultureInfo.InvariantCulture,
            "node #{0} '{1}' ({2})",
            Index, Name.Length > 0 ? Name : Outputs.Count > 0 ? "-> " + Outputs[0] : "unnamed", OpType);

        public long[] Ints(string name, long[] fallback) => Attributes.TryGetValue(name, out var a) && a.Ints.Count > 0 ? a.Ints.ToArray() : fallback;

        public long Int(string name, long fallback) => Attributes.TryGetValue(name, out var a) && a.I is { } i ? i : fallback;

        public float Float(string name, float fallback) => Attributes.TryGetValue(name, out var a) && a.F is { } f ? f : fallback;

        public string? String(string name) => Attributes.TryGetValue(name, out var a) ? a.S : null;
    }

    internal sealed class OnnxAttribute
    {
        public string Name { get; set; } = string.Empty;

        public float? F { get; set; }

        public long? I { get; set; }

        public string? S { get; set; }

        public OnnxTensor? T { get; set; }

        public List<float> Floats { get; } = new();

        public List<long> Ints { get; } = new();
    }

    internal sealed class OnnxTensor
    {
        public const int Float = 1;
        public const int Double = 11;

        public string Name { get; set; } = string.Empty;

        public List<long> Dims { get; } = new();

        public int DataType { get; set; }

        public List<float> FloatData { get; } = new();

        public ReadOnlyMemory<byte> RawData { get; set; }

        public List<KeyValuePair<string, string>> ExternalData { get; } = new();

        /// <summary>0 = stored in the model, 1 = in an external file.</summary>
        public int DataLocation { get; set; }

        public string DescribeShape() => "[" + string.Join(", ", Dims) + "]";
    }

    internal sealed class OnnxValueInfo
    {
        public string Name { get; set; } = string.Empty;

        /// <summary>Declared dimensions; null where the dimension is symbolic.</summary>
        public List<long?> Shape { get; } = new();
    }

    /// <summary>Reads tensor data, from the model or from an external file inside the model's folder.</summary>
    internal static class OnnxTensorData
    {
        public static float[] ReadFloats(OnnxTensor tensor, string modelPath, string context)
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

            if (tensor.DataType != OnnxTensor.Float && tensor.DataType != OnnxTensor.Double)
            {
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} has ONNX data type {3}; only float32 (1) and float64 (11) weights can be imported. Export the model with float32 weights.", modelPath, tensor.Name, context, tensor.DataType));
            }

            int elementSize = tensor.DataType == OnnxTensor.Float ? 4 : 8;
            ReadOnlySpan<byte> raw;
            byte[]? external = null;
            if (tensor.DataLocation == 1 || tensor.ExternalData.Count > 0)
            {
                external = ReadExternal(tensor, modelPath, context, count * elementSize);
                raw = external;
            }
            else if (tensor.RawData.Length > 0 || tensor.FloatData.Count == 0)
            {
                raw = tensor.RawData.Span;
            }
            else
            {
                if (tensor.DataType != OnnxTensor.Float || tensor.FloatData.Count != count)
                {
                    throw SizeError(tensor, modelPath, context, count, tensor.FloatData.Count);
                }

                return tensor.FloatData.ToArray();
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

        private static WeightsFormatException SizeError(OnnxTensor tensor, string modelPath, string context, long expected, long found) =>
            new(string.Format(CultureInfo.InvariantCulture, "'{0}': the tensor '{1}' used by {2} declares the shape {3} ({4} values) but holds {5}. The file is truncated or damaged; export or download it again.", modelPath, tensor.Name, context, tensor.DescribeShape(), expected, found));

        private static byte[] ReadExternal(OnnxTensor tensor, string modelPath, string context, long byteCount)
        {
            string? location = null;
            long offset = 0;
            long? length = null;
            foreach (var (key, value) in tensor.ExternalData)
            {
                switch (key)
                {
                    case "location": location = value; break;
                    case "offset": offset = ParseSize(value, key); break;
                    case "length": length = ParseSize(value, key); break;
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
