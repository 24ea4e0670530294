using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Google.Protobuf;
using MedicalTransfer.Weights.OnnxIr;

namespace MedicalTransfer.Export
{
    /// <summary>Builds an ONNX graph: float initializers, nodes with typed attributes, and unique value names.</summary>
    internal sealed class OnnxGraphWriter
    {
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);
        private int _counter;

        public GraphProto Graph { get; } = new();

        /// <summary>A name no other value of the graph has, derived from <paramref name="stem"/>.</summary>
        public string UniqueName(string stem)
        {
            string name = stem;
            while (!_names.Add(name))
            {
                name = stem + "_" + (++_counter).ToString(CultureInfo.InvariantCulture);
            }

            return name;
        }

        public string Initializer(string name, float[] values, params long[] dims)
        {
            long count = dims.Aggregate(1L, (a, d) => a * d);
            if (count != values.Length)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "Initializer '{0}' has {1} values for the shape [{2}].", name, values.Length, string.Join(", ", dims)));
            }

            var tensor = new TensorProto { Name = UniqueName(name), DataType = (int)TensorProto.Types.DataType.Float };
            tensor.Dims.AddRange(dims);
            var raw = new byte[values.Length * sizeof(float)];
            Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("ONNX raw_data is little-endian; this exporter runs on little-endian machines only.");
            }

            tensor.RawData = ByteString.CopyFrom(raw);
            Graph.Initializer.Add(tensor);
            return tensor.Name;
        }

        /// <summary>Adds a node with one output and returns that output's name.</summary>
        public string Node(string opType, string name, IEnumerable<string> inputs, params (string Name, object Value)[] attributes)
        {
            string nodeName = UniqueName(name);
            string output = nodeName == name ? name + "_out" : nodeName + "_out";
            output = UniqueName(output);
            var node = new NodeProto { OpType = opType, Name = nodeName };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            foreach (var (attributeName, value) in attributes)
            {
                var a = new AttributeProto { Name = attributeName };
                switch (value)
                {
                    case long i:
                        a.I = i;
                        a.Type = AttributeProto.Types.AttributeType.Int;
                        break;
                    case float f:
                        a.F = f;
                        a.Type = AttributeProto.Types.AttributeType.Float;
                        break;
                    case long[] ints:
                        a.Ints.AddRange(ints);
                        a.Type = AttributeProto.Types.AttributeType.Ints;
                        break;
                    default:
                        throw new ArgumentException("Unsupported attribute type " + value.GetType().Name, nameof(attributes));
                }

                node.Attribute.Add(a);
            }

            Graph.Node.Add(node);
            return output;
        }

        /// <summary>Renames the output of the node that produces <paramref name="value"/> (for the graph's named output).</summary>
        public void RenameOutput(string value, string newName)
        {
            var producer = Graph.Node.Last(n => n.Output.Contains(value));
            producer.Output[producer.Output.IndexOf(value)] = newName;
            _names.Add(newName);
        }

        public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params object[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (var d in dims)
            {
                shape.Dim.Add(d is string symbol
                    ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                    : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, CultureInfo.InvariantCulture) });
            }

            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
        }
    }
}
