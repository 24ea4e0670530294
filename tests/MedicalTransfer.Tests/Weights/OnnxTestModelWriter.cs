using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Google.Protobuf;
using MedicalTransfer.Models;
using MedicalTransfer.Weights.OnnxIr;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>
    /// Writes small ONNX models with the protobuf classes generated from the SDK's onnx_ir.proto, so tests can build
    /// ResNet graphs of any layout, and graphs that break the importer's rules on purpose. ONNX Runtime reads the
    /// same bytes in the parity tests, so a mistake in the .proto would show there.
    /// </summary>
    internal sealed class OnnxGraphBuilder
    {
        private readonly GraphProto _graph = new() { Name = "test" };
        private int _counter;

        public void Input(string name, params long[] shape) => _graph.Input.Add(ValueInfo(name, shape));

        public void Output(string name, params long[] shape) => _graph.Output.Add(ValueInfo(name, shape));

        /// <summary>Adds a float initializer, stored in the model or (with <paramref name="externalLocation"/>) in an external file.</summary>
        public string Initializer(string name, long[] dims, float[] values, string? externalLocation = null, long offset = 0)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(dims);
            if (externalLocation is null)
            {
                var raw = new byte[values.Length * 4];
                Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
                t.RawData = ByteString.CopyFrom(raw);
            }
            else
            {
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = externalLocation });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
                t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (values.Length * 4L).ToString(CultureInfo.InvariantCulture) });
                t.DataLocation = TensorProto.Types.DataLocation.External;
            }

            _graph.Initializer.Add(t);
            return name;
        }

        /// <summary>Adds a node and returns its (single) output name.</summary>
        public string Node(string opType, string[] inputs, params (string Name, object Value)[] attributes)
        {
            string name = opType + (_counter++).ToString(CultureInfo.InvariantCulture);
            string output = name + "_out";
            var n = new NodeProto { Name = name, OpType = opType };
            n.Input.AddRange(inputs);
            n.Output.Add(output);
            foreach (var (attrName, value) in attributes)
            {
                var a = new AttributeProto { Name = attrName };
                switch (value)
                {
                    case long i: a.I = i; a.Type = AttributeProto.Types.AttributeType.Int; break;
                    case float f: a.F = f; a.Type = AttributeProto.Types.AttributeType.Float; break;
                    case string s: a.S = ByteString.CopyFromUtf8(s); a.Type = AttributeProto.Types.AttributeType.String; break;
                    case long[] ints: a.Ints.AddRange(ints); a.Type = AttributeProto.Types.AttributeType.Ints; break;
                    default: throw new ArgumentException("Unsupported attribute value " + value);
                }

                n.Attribute.Add(a);
            }

            _graph.Node.Add(n);
            return output;
        }

        public byte[] Build(long opset = 13)
        {
            var model = new ModelProto { IrVersion = 7, ProducerName = "MedicalTransfer.Tests", Graph = _graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
            return model.ToByteArray();
        }

        private static ValueInfoProto ValueInfo(string name, long[] shape)
        {
            var shapeProto = new TensorShapeProto();
            foreach (long d in shape)
            {
                shapeProto.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            }

            var tensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shapeProto };
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
        }
    }

    /// <summary>Options for <see cref="SyntheticResNet"/>; each one breaks or varies one thing.</summary>
    internal sealed record SyntheticOptions
    {
        public int ImageSize { get; init; } = 64;

        public int? Classes { get; init; }

        public float Epsilon { get; init; } = 1e-5f;

        /// <summary>Stores conv1.weight in this external file (relative to the model) instead of in the model.</summary>
        public string? ExternalLocation { get; init; }

        /// <summary>Puts a Sigmoid between layer1's output and layer2 (not a ResNet).</summary>
        public bool SigmoidAfterLayer1 { get; init; }

        /// <summary>Strides the first 1x1 convolution of bottlenecks (Caffe's ResNet v1) instead of the 3x3 (torchvision's v1.5).</summary>
        public bool StrideOnFirstConv { get; init; }

        /// <summary>Folds batch norm into the convolutions as PyTorch's eval-mode export does: convolutions with a bias, no BatchNormalization nodes.</summary>
        public bool FoldedBatchNorm { get; init; }

        /// <summary>Gives every convolution a random bias before its batch norm.</summary>
        public bool ConvolutionBias { get; init; }

        /// <summary>Uses a fixed AveragePool of the last map's size instead of GlobalAveragePool.</summary>
        public bool AveragePool { get; init; }
    }

    /// <summary>
    /// Builds a torchvision-layout ResNet as an ONNX graph with seeded random weights, and returns the
    /// values each torchvision state-dict key should receive when the graph is imported.
    /// </summary>
    internal static class SyntheticResNet
    {
        /// <returns>The model, the expected state dict, the output name, and the bytes of the external data file (when asked for).</returns>
        public static (byte[] Model, Dictionary<string, float[]> Expected, string Output, byte[]? ExternalData) Build(ResNetArchitecture architecture, SyntheticOptions options, int seed = 7)
        {
            byte[]? externalData = null;
            float[]? lastConvBias = null;
            var random = new Random(seed);
            var b = new OnnxGraphBuilder();
            var expected = new Dictionary<string, float[]>(StringComparer.Ordinal);
            b.Input("image", 1, 3, options.ImageSize, options.ImageSize);

            string Conv(string x, string key, long outC, long inC, int k, int stride, string? external = null)
            {
                var values = Enumerable.Range(0, (int)(outC * inC * k * k)).Select(_ => (float)((random.NextDouble() * 2 - 1) * Math.Sqrt(3.0 / (inC * k * k)))).ToArray();
                expected[key + ".weight"] = values;
                string w = b.Initializer(key + ".w", new[] { outC, inC, k, k }, values, external);
                if (external is not null)
                {
                    externalData = values.SelectMany(BitConverter.GetBytes).ToArray();
                }

                long p = k / 2;
                var inputs = new List<string> { x, w };
                if (options.FoldedBatchNorm || options.ConvolutionBias)
                {
                    var convBias = Enumerable.Range(0, (int)outC).Select(_ => (float)(random.NextDouble() - 0.5) * 0.4f).ToArray();
                    inputs.Add(b.Initializer(key + ".bias", new[] { outC }, convBias));
                    lastConvBias = convBias;
                }

                return b.Node("Conv", inputs.ToArray(), ("kernel_shape", new long[] { k, k }), ("strides", new long[] { stride, stride }), ("pads", new long[] { p, p, p, p }));
            }

            string Bn(string x, string key, long c)
            {
                if (options.FoldedBatchNorm)
                {
                    expected[key + ".weight"] = Enumerable.Repeat(1f, (int)c).ToArray();
                    expected[key + ".bias"] = lastConvBias!;
                    expected[key + ".running_mean"] = new float[c];
                    expected[key + ".running_var"] = Enumerable.Repeat(1f - 1e-5f, (int)c).ToArray();
                    return x;
                }

                float[] Rand(double lo, double hi) => Enumerable.Range(0, (int)c).Select(_ => (float)(lo + random.NextDouble() * (hi - lo))).ToArray();
                var scale = Rand(0.5, 1.2);
                var bias = Rand(-0.2, 0.2);
                var mean = Rand(-0.2, 0.2);
                var variance = Rand(0.5, 1.5);
                expected[key + ".weight"] = scale;
                expected[key + ".bias"] = bias;
                expected[key + ".running_mean"] = options.ConvolutionBias ? mean.Zip(lastConvBias!, (m, cb) => m - cb).ToArray() : mean;
                expected[key + ".running_var"] = variance.Select(v => v + options.Epsilon - 1e-5f).ToArray();
                var inputs = new[]
                {
                    x,
                    b.Initializer(key + ".s", new[] { c }, scale),
                    b.Initializer(key + ".b", new[] { c }, bias),
                    b.Initializer(key + ".m", new[] { c }, mean),
                    b.Initializer(key + ".v", new[] { c }, variance),
                };
                return b.Node("BatchNormalization", inputs, ("epsilon", options.Epsilon));
            }

            string x = Conv("image", "conv1", 64, 3, 7, 2, options.ExternalLocation);
            x = b.Node("Relu", new[] { Bn(x, "bn1", 64) });
            x = b.Node("MaxPool", new[] { x }, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }));
            long inplanes = 64;
            int expansion = architecture.Expansion;
            for (int s = 0; s < 4; s++)
            {
                long planes = 64L << s;
                for (int j = 0; j < architecture.StageDepths[s]; j++)
                {
                    string p = string.Format(CultureInfo.InvariantCulture, "layer{0}.{1}.", s + 1, j);
                    int stride = s > 0 && j == 0 ? 2 : 1;
                    string y;
                    if (architecture.Block == BlockKind.Basic)
                    {
                        y = b.Node("Relu", new[] { Bn(Conv(x, p + "conv1", planes, inplanes, 3, stride), p + "bn1", planes) });
                        y = Bn(Conv(y, p + "conv2", planes, planes, 3, 1), p + "bn2", planes);
                    }
                    else
                    {
                        int s1 = options.StrideOnFirstConv ? stride : 1;
                        int s2 = options.StrideOnFirstConv ? 1 : stride;
                        y = b.Node("Relu", new[] { Bn(Conv(x, p + "conv1", planes, inplanes, 1, s1), p + "bn1", planes) });
                        y = b.Node("Relu", new[] { Bn(Conv(y, p + "conv2", planes, planes, 3, s2), p + "bn2", planes) });
                        y = Bn(Conv(y, p + "conv3", planes * expansion, planes, 1, 1), p + "bn3", planes * expansion);
                    }

                    string shortcut = x;
                    if (j == 0 && (s > 0 || inplanes != planes * expansion))
                    {
                        shortcut = Bn(Conv(x, p + "downsample.0", planes * expansion, inplanes, 1, stride), p + "downsample.1", planes * expansion);
                    }

                    x = b.Node("Relu", new[] { b.Node("Add", new[] { y, shortcut }) });
                    inplanes = planes * expansion;
                }

                if (s == 0 && options.SigmoidAfterLayer1)
                {
                    x = b.Node("Sigmoid", new[] { x });
                }
            }

            x = options.AveragePool
                ? b.Node("AveragePool", new[] { x }, ("kernel_shape", new long[] { options.ImageSize / 32, options.ImageSize / 32 }))
                : b.Node("GlobalAveragePool", new[] { x });
            if (options.Classes is int classes)
            {
                x = b.Node("Flatten", new[] { x }, ("axis", 1L));
                var weight = Enumerable.Range(0, classes * (int)inplanes).Select(_ => (float)(random.NextDouble() - 0.5) * 0.1f).ToArray();
                var bias = Enumerable.Range(0, classes).Select(i => i * 0.01f).ToArray();
                expected["fc.weight"] = weight;
                expected["fc.bias"] = bias;
                x = b.Node("Gemm", new[] { x, b.Initializer("fc.w", new[] { (long)classes, inplanes }, weight), b.Initializer("fc.b", new[] { (long)classes }, bias) }, ("transB", 1L));
                b.Output(x, 1, classes);
            }
            else
            {
                b.Output(x, 1, inplanes, 1, 1);
            }

            return (b.Build(), expected, x, externalData);
        }
    }
}
