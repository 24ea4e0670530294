using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer.Models;
using MedicalTransfer.Weights.OnnxIr;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Weights
{
    /// <summary>The weights of a ResNet-topology ONNX graph, renamed to torchvision's state-dict keys.</summary>
    internal sealed class OnnxImportResult : IDisposable
    {
        public OnnxImportResult(ResNetArchitecture architecture, Dictionary<string, Tensor> stateDict, bool hasClassifier, bool foldedBatchNorm, string inputName, string outputName)
        {
            FoldedBatchNorm = foldedBatchNorm;
            Architecture = architecture;
            StateDict = stateDict;
            HasClassifier = hasClassifier;
            InputName = inputName;
            OutputName = outputName;
        }

        /// <summary>Block type and stage depths inferred from the graph.</summary>
        public ResNetArchitecture Architecture { get; }

        public Dictionary<string, Tensor> StateDict { get; }

        /// <summary>Whether the graph ends in a classifier (mapped to <c>fc.weight</c> and <c>fc.bias</c>).</summary>
        public bool HasClassifier { get; }

        /// <summary>Whether the exporter folded batch norms into convolutions (imported as identity batch norms).</summary>
        public bool FoldedBatchNorm { get; }

        public string InputName { get; }

        public string OutputName { get; }

        public void Dispose()
        {
            foreach (var tensor in StateDict.Values)
            {
                tensor.Dispose();
            }

            StateDict.Clear();
        }
    }

    /// <summary>
    /// Imports a ResNet from an ONNX graph by walking its data flow from the input: a 7x7/2
    /// convolution, batch norm, ReLU and 3x3/2 max pool; then residual blocks (two 3x3 convolutions
    /// for basic blocks, 1x1-3x3-1x1 for bottlenecks, each followed by batch norm, joined by an Add
    /// with the block input or a 1x1 convolution + batch norm projection, then ReLU); then global
    /// average pooling and, optionally, Flatten/Reshape and Gemm. A projection shortcut starts a new
    /// stage. Initializer names carry no meaning (CNTK calls them <c>ParameterNN</c>), so weights are
    /// mapped to torchvision's keys by their position in that walk. Anything else is refused with an
    /// error naming the first node that does not fit.
    /// </summary>
    internal static class OnnxResNetImporter
    {
        /// <summary>torchvision's batch-norm epsilon; other epsilons are folded into the running variance.</summary>
        private const float TorchEpsilon = 1e-5f;

        /// <summary>The bytes an import may copy from initializers that several nodes read (see FromInitializer).</summary>
        private const long MaxRereadBytes = 16L << 20;

        public static OnnxImportResult Import(string path, ILogger logger)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(string.Format(CultureInfo.InvariantCulture, "The ONNX model '{0}' does not exist. Check the path.", path), path);
            }

            var model = OnnxModelFile.Read(path);
            var result = new GraphWalker(model, Path.GetFullPath(path)).Run();
            Log.OnnxImported(logger, path, result.Architecture.Block.ToString(), string.Join(", ", result.Architecture.StageDepths), result.StateDict.Count);
            if (result.FoldedBatchNorm)
            {
                Log.OnnxFoldedBatchNorm(logger, path);
            }
            return result;
        }

        /// <summary>
        /// The block type and stage depths of the ResNet in an ONNX file, read from the graph without
        /// creating any tensor (for <see cref="TransferBuilder.FromPretrained"/> with <see cref="ResNetWeights.FromOnnx"/>).
        /// </summary>
        /// <exception cref="FileNotFoundException">The file does not exist.</exception>
        /// <exception cref="WeightsFormatException">The graph is not a ResNet the importer maps.</exception>
        public static ResNetArchitecture ReadArchitecture(string path)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(string.Format(CultureInfo.InvariantCulture, "The ONNX model '{0}' does not exist. Check the path.", path), path);
            }

            var result = new GraphWalker(OnnxModelFile.Read(path), Path.GetFullPath(path)).Run(materialize: false);
            return result.Architecture;
        }

        private sealed class GraphWalker
        {
            private readonly ModelProto _model;
            private readonly GraphProto _graph;
            private readonly Dictionary<string, TensorProto> _initializers;
            private readonly Dictionary<NodeProto, int> _index = new(ReferenceEqualityComparer.Instance);
            private readonly string _path;
            private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
            private readonly HashSet<NodeProto> _visited = new(ReferenceEqualityComparer.Instance);
            private readonly List<(string Key, NodeProto Node, Func<Tensor> Make, long[] Shape)> _entries = new();
            private readonly HashSet<TensorProto> _read = new(ReferenceEqualityComparer.Instance);
            private long _rereadBytes;

            public GraphWalker(ModelProto model, string path)
            {
                _model = model;
                _graph = model.Graph;
                _path = path;
                _initializers = OnnxModelFile.Initializers(_graph);
                foreach (var node in _graph.Node)
                {
                    _index[node] = _index.Count;
                    foreach (var input in node.Input.Where(i => i.Length > 0).Distinct(StringComparer.Ordinal))
                    {
                        if (!_consumers.TryGetValue(input, out var list))
                        {
                            _consumers[input] = list = new List<NodeProto>();
                        }

                        list.Add(node);
                    }
                }
            }

            public OnnxImportResult Run(bool materialize = true)
            {
                // The walk follows each node's first output; a node without any (never valid ONNX for these operators)
                // would otherwise fail as an ArgumentOutOfRangeException deep inside it (found by fuzzing).
                var outputless = _graph.Node.FirstOrDefault(n => n.Output.Count == 0);
                if (outputless is not null)
                {
                    throw Unsupported(outputless, "it has no output; every operator of a ResNet produces one");
                }

                var inputs = _graph.Input.Where(i => !_initializers.ContainsKey(i.Name)).ToList();
                if (inputs.Count != 1)
                {
                    throw Unsupported(null, string.Format(CultureInfo.InvariantCulture, "the graph has {0} data inputs ({1}); a ResNet has exactly one image input", inputs.Count, string.Join(", ", inputs.Select(i => i.Name))));
                }

                var input = inputs[0];

                // Stem: conv1, bn1, relu, maxpool.
                var conv1 = Consumer(input.Name, "Conv", "the stem convolution (7x7, stride 2) that a ResNet starts with");
                CheckConv(conv1, kernel: 7, stride: 2, inChannels: 3);
                var stem = Unit(conv1, "the stem batch normalisation");
                var relu = Consumer(Out(stem), "Relu", "the stem ReLU");
                var maxPool = Consumer(relu.Output[0], "MaxPool", "the stem max pool (3x3, stride 2)");
                CheckPool(maxPool, kernel: 3, stride: 2, padding: 1);
                AddUnit("conv1", "bn1", stem);

                // Residual blocks, until the global average pool.
                string current = maxPool.Output[0];
                var blocks = new List<Block>();
                while (true)
                {
                    var next = Consumers(current);
                    if (next.Count == 1 && next[0].OpType is "GlobalAveragePool" or "AveragePool")
                    {
                        break;
                    }

                    var block = ReadBlock(current, blocks.Count == 0 ? maxPool : blocks[^1].Relu);
                    blocks.Add(block);
                    current = block.Relu.Output[0];
                }

                if (blocks.Count == 0)
                {
                    throw Unsupported(Consumers(current).FirstOrDefault() ?? maxPool, "expected residual blocks after the stem max pool; found none");
                }

                var architecture = InferArchitecture(blocks);
                MapBlocks(blocks, architecture);

                var pool = Consumers(current)[0];
                CheckGlobalPool(pool, input);
                _visited.Add(pool);
                string output = pool.Output[0];
                bool hasClassifier = ReadClassifier(pool, architecture, ref output);

                var unmapped = _graph.Node.FirstOrDefault(n => !_visited.Contains(n));
                if (unmapped is not null)
                {
                    throw Unsupported(unmapped, "this node is not part of a torchvision ResNet (stem, residual blocks, global average pool, optional classifier)");
                }

                return new OnnxImportResult(architecture, materialize ? Materialize() : new Dictionary<string, Tensor>(StringComparer.Ordinal), hasClassifier, FoldedBatchNorm, input.Name, output);
            }

            private Block ReadBlock(string input, NodeProto previous)
            {
                var consumers = Consumers(input);
                var convs = consumers.Where(n => n.OpType == "Conv").ToList();
                var other = consumers.FirstOrDefault(n => n.OpType is not "Conv" and not "Add");
                if (other is not null || convs.Count is 0 or > 2)
                {
                    throw Unsupported(other ?? consumers.FirstOrDefault() ?? previous, string.Format(CultureInfo.InvariantCulture, "expected the start of a residual block (one or two Conv nodes, and an Add for an identity shortcut) reading '{0}'; found {1}", input, Describe(consumers)));
                }

                _visited.UnionWith(convs);
                var main = new List<(NodeProto Conv, NodeProto? Bn)>();
                (NodeProto Conv, NodeProto? Bn)? projection = null;
                NodeProto? add = null;
                foreach (var conv in convs)
                {
                    var unit = Unit(conv, "a batch normalisation after every convolution");
                    var after = Consumers(Out(unit));
                    if (after.Count == 1 && after[0].OpType == "Add")
                    {
                        if (projection is not null)
                        {
                            throw Unsupported(conv, "a second projection shortcut in one block");
                        }

                        projection = unit;
                        add = after[0];
                    }
                    else if (main.Count == 0)
                    {
                        main.Add(unit);
                    }
                    else
                    {
                        throw Unsupported(conv, "two main paths leave the same block input");
                    }
                }

                if (main.Count == 0)
                {
                    throw Unsupported(convs[0], "the block has no main path (Conv, BatchNormalization, Relu...)");
                }

                // Follow the main path: (Conv, BN) pairs joined by ReLUs, until a BN feeds the Add.
                while (true)
                {
                    string last = Out(main[^1]);
                    var after = Consumers(last);
                    if (after.Count == 1 && after[0].OpType == "Add")
                    {
                        if (add is not null && add != after[0])
                        {
                            throw Unsupported(after[0], "the main path and the shortcut end in different Add nodes");
                        }

                        add = after[0];
                        break;
                    }

                    var relu = Consumer(last, "Relu", "a ReLU between the convolutions of a residual block, or the Add that closes it");
                    var conv = Consumer(relu.Output[0], "Conv", "the next convolution of the residual block");
                    main.Add(Unit(conv, "a batch normalisation after every convolution"));
                    if (main.Count > 3)
                    {
                        throw Unsupported(conv, "a residual block with more than three convolutions");
                    }
                }

                string shortcut = projection is { } p ? Out(p) : input;
                var addInputs = add.Input;
                if (addInputs.Count != 2 || !addInputs.Contains(Out(main[^1])) || !addInputs.Contains(shortcut))
                {
                    throw Unsupported(add, string.Format(CultureInfo.InvariantCulture, "expected the Add closing a residual block to sum the main path and the shortcut ('{0}'); it reads {1}", shortcut, string.Join(", ", addInputs)));
                }

                var blockRelu = Consumer(add.Output[0], "Relu", "the ReLU after the residual Add");
                _visited.Add(add);
                return new Block(main, projection, add, blockRelu);
            }

            private ResNetArchitecture InferArchitecture(List<Block> blocks)
            {
                int convCount = blocks[0].Main.Count;
                var kind = convCount switch
                {
                    2 => BlockKind.Basic,
                    3 => BlockKind.Bottleneck,
                    _ => throw Unsupported(blocks[0].Main[0].Conv, string.Format(CultureInfo.InvariantCulture, "a residual block with {0} convolution(s); basic blocks have 2 and bottlenecks 3", convCount)),
                };
                var odd = blocks.FirstOrDefault(b => b.Main.Count != convCount);
                if (odd is not null)
                {
                    throw Unsupported(odd.Main[0].Conv, string.Format(CultureInfo.InvariantCulture, "a block with {0} convolutions in a network whose first block has {1}; mixed block types are not a torchvision ResNet", odd.Main.Count, convCount));
                }

                var stages = new List<int> { 1 };
                for (int i = 1; i < blocks.Count; i++)
                {
                    if (blocks[i].Projection is not null)
                    {
                        stages.Add(1);
                    }
                    else
                    {
                        stages[^1]++;
                    }
                }

                bool firstHasProjection = blocks[0].Projection is not null;
                if (firstHasProjection != (kind == BlockKind.Bottleneck))
                {
                    throw Unsupported(blocks[0].Main[0].Conv, kind == BlockKind.Bottleneck
                        ? "the first bottleneck block has no projection shortcut; torchvision's has one (64 to 256 channels)"
                        : "the first basic block has a projection shortcut; torchvision's has none");
                }

                if (stages.Count != 4)
                {
                    var extra = stages.Count > 4 ? blocks.Where(b => b.Projection is not null).Skip(kind == BlockKind.Bottleneck ? 4 : 3).First().Projection!.Value.Conv : blocks[^1].Relu;
                    throw Unsupported(extra, string.Format(CultureInfo.InvariantCulture, "the projection shortcuts divide the blocks into {0} stages ([{1}]); a ResNet has 4", stages.Count, string.Join(", ", stages)));
                }

                return ResNetArchitecture.Custom(kind, stages.ToArray());
            }

            private void MapBlocks(List<Block> blocks, ResNetArchitecture architecture)
            {
                int index = 0;
                for (int stage = 0; stage < 4; stage++)
                {
                    for (int j = 0; j < architecture.StageDepths[stage]; j++, index++)
                    {
                        var block = blocks[index];
                        string prefix = string.Format(CultureInfo.InvariantCulture, "layer{0}.{1}.", stage + 1, j);
                        int stride = stage > 0 && j == 0 ? 2 : 1;
                        int strided = architecture.Block == BlockKind.Basic ? 0 : 1;
                        for (int c = 0; c < block.Main.Count; c++)
                        {
                            int kernel = architecture.Block == BlockKind.Bottleneck && c != 1 ? 1 : 3;
                            CheckConv(block.Main[c].Conv, kernel, c == strided ? stride : 1, inChannels: null);
                            string n = (c + 1).ToString(CultureInfo.InvariantCulture);
                            AddUnit(prefix + "conv" + n, prefix + "bn" + n, block.Main[c]);
                        }

                        if (block.Projection is { } projection)
                        {
                            CheckConv(projection.Conv, 1, stride, inChannels: null);
                            AddUnit(prefix + "downsample.0", prefix + "downsample.1", projection);
                        }
                    }
                }

                // Widths must be torchvision's (64, 128, 256, 512 times the expansion).
                var expected = ExpectedShapes(architecture, null);
                foreach (var (key, node, _, shape) in _entries)
                {
                    if (!expected.TryGetValue(key, out var want) || !want.SequenceEqual(shape))
                    {
                        throw Unsupported(node, string.Format(CultureInfo.InvariantCulture, "its weights map to '{0}' with shape [{1}], but a torchvision {2} has [{3}] there", key, string.Join(", ", shape), architecture.Name, want is null ? "no such key" : string.Join(", ", want)));
                    }
                }
            }

            private bool ReadClassifier(NodeProto pool, ResNetArchitecture architecture, ref string output)
            {
                var next = Consumers(pool.Output[0]);
                if (next.Count == 0)
                {
                    return false;
                }

                var flatten = next.Count == 1 && next[0].OpType is "Flatten" or "Reshape" ? next[0] : throw Unsupported(next[0], "after the global average pool only Flatten or Reshape and then Gemm (the classifier) are supported");
                _visited.Add(flatten);
                if (flatten.OpType == "Reshape" && flatten.Input.Count > 1)
                {
                    // The shape operand is an initializer or a small Constant node; either way it is not a weight.
                    var shapeProducer = _graph.Node.FirstOrDefault(n => n.Output.Contains(flatten.Input[1]));
                    if (shapeProducer is not null)
                    {
                        _visited.Add(shapeProducer);
                    }
                }

                output = flatten.Output[0];
                var after = Consumers(flatten.Output[0]);
                if (after.Count == 0)
                {
                    return false;
                }

                var gemm = after.Count == 1 && after[0].OpType == "Gemm" ? after[0] : throw Unsupported(after[0], "after Flatten only a Gemm classifier is supported");
                if (gemm.Float("alpha", 1f) != 1f || gemm.Float("beta", 1f) != 1f || gemm.Int("transA", 0) != 0 || gemm.Input.Count != 3)
                {
                    throw Unsupported(gemm, "a classifier Gemm must have alpha = beta = 1, transA = 0 and a bias");
                }

                var weight = Initializer(gemm, 1);
                var bias = Initializer(gemm, 2);
                bool transposed = gemm.Int("transB", 0) != 0;
                if (weight.Dims.Count != 2 || bias.Dims.Count != 1)
                {
                    throw Unsupported(gemm, "a classifier needs a 2-d weight and a 1-d bias");
                }

                long classes = transposed ? weight.Dims[0] : weight.Dims[1];
                long features = transposed ? weight.Dims[1] : weight.Dims[0];
                if (features != architecture.FeatureCount || bias.Dims[0] != classes)
                {
                    throw Unsupported(gemm, string.Format(CultureInfo.InvariantCulture, "the classifier maps {0} features to {1} classes with a bias of {2}; the backbone produces {3}", features, classes, bias.Dims[0], architecture.FeatureCount));
                }

                _visited.Add(gemm);
                _entries.Add(("fc.weight", gemm, () =>
                {
                    var t = FromInitializer(weight, gemm, new[] { weight.Dims[0], weight.Dims[1] });
                    if (transposed)
                    {
                        return t;
                    }

                    using (t)
                    {
                        return t.t().contiguous();
                    }
                }, new[] { classes, features }));
                _entries.Add(("fc.bias", gemm, () => FromInitializer(bias, gemm, new[] { classes }), new[] { classes }));
                output = gemm.Output[0];
                return true;
            }

            /// <summary>
            /// A convolution and the batch norm after it. Exporters that fold batch norm into the
            /// convolutions (PyTorch's eval-mode export does) leave a convolution with a bias and no batch
            /// norm; that is imported with an identity batch norm that adds the bias.
            /// </summary>
            private (NodeProto Conv, NodeProto? Bn) Unit(NodeProto conv, string expected)
            {
                var after = Consumers(conv.Output[0]);
                if (after.Count == 1 && after[0].OpType == "BatchNormalization")
                {
                    _visited.Add(after[0]);
                    return (conv, after[0]);
                }

                if (conv.Input.Count > 2 && conv.Input[2].Length > 0)
                {
                    FoldedBatchNorm = true;
                    return (conv, null);
                }

                var culprit = after.FirstOrDefault(n => n.OpType != "BatchNormalization") ?? after.FirstOrDefault() ?? conv;
                throw Unsupported(culprit, string.Format(CultureInfo.InvariantCulture, "expected '{0}' to feed exactly one BatchNormalization ({1}), or the convolution to have a bias (batch norm folded in by the exporter); it feeds {2}", conv.Output[0], expected, Describe(after)));
            }

            /// <summary>Whether some batch norms were folded into convolutions by the exporter.</summary>
            public bool FoldedBatchNorm { get; private set; }

            private static string Out((NodeProto Conv, NodeProto? Bn) unit) => (unit.Bn ?? unit.Conv).Output[0];

            private void AddUnit(string convName, string bnName, (NodeProto Conv, NodeProto? Bn) unit)
            {
                var conv = unit.Conv;
                var weight = Initializer(conv, 1);
                long[] shape = weight.Dims.ToArray();
                _entries.Add((convName + ".weight", conv, () => FromInitializer(weight, conv, shape), shape));
                TensorProto? convBias = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? Initializer(conv, 2) : null;
                if (convBias is not null && (convBias.Dims.Count != 1 || convBias.Dims[0] != shape[0]))
                {
                    throw Unsupported(conv, string.Format(CultureInfo.InvariantCulture, "its bias has shape {0}; expected [{1}]", convBias.DescribeShape(), shape[0]));
                }

                if (unit.Bn is { } bn)
                {
                    AddBatchNorm(bnName, bn, conv, convBias);
                }
                else
                {
                    AddIdentityBatchNorm(bnName, conv, convBias!, shape[0]);
                }
            }

            private void AddIdentityBatchNorm(string name, NodeProto conv, TensorProto convBias, long channels)
            {
                // weight 1, mean 0 and var + 1e-5 = 1 make the batch norm the identity; its bias adds the convolution's.
                var shape = new[] { channels };
                _entries.Add((name + ".weight", conv, () => torch.ones(shape), shape));
                _entries.Add((name + ".bias", conv, () => FromInitializer(convBias, conv, shape), shape));
                _entries.Add((name + ".running_mean", conv, () => torch.zeros(shape), shape));
                _entries.Add((name + ".running_var", conv, () => torch.full(shape, 1f - TorchEpsilon), shape));
                _entries.Add((name + ".num_batches_tracked", conv, () => torch.tensor(0L), Array.Empty<long>()));
            }

            private void AddBatchNorm(string name, NodeProto bn, NodeProto conv, TensorProto? convBias)
            {
                if (bn.Input.Count < 5 || bn.Int("spatial", 1) != 1 || bn.Int("training_mode", 0) != 0)
                {
                    throw Unsupported(bn, "expected an inference BatchNormalization with inputs X, scale, B, mean, var (spatial = 1)");
                }

                float epsilon = bn.Float("epsilon", TorchEpsilon);
                var scale = Initializer(bn, 1);
                var bias = Initializer(bn, 2);
                var mean = Initializer(bn, 3);
                var variance = Initializer(bn, 4);
                long channels = scale.Dims.Count == 1 ? scale.Dims[0] : -1;
                foreach (var t in new[] { bias, mean, variance })
                {
                    if (t.Dims.Count != 1 || t.Dims[0] != channels)
                    {
                        throw Unsupported(bn, string.Format(CultureInfo.InvariantCulture, "its parameters have shapes {0}, {1}, {2}, {3}; expected four vectors of the same length", scale.DescribeShape(), bias.DescribeShape(), mean.DescribeShape(), variance.DescribeShape()));
                    }
                }

                var shape = new[] { channels };
                _entries.Add((name + ".weight", bn, () => FromInitializer(scale, bn, shape), shape));
                _entries.Add((name + ".bias", bn, () => FromInitializer(bias, bn, shape), shape));
                _entries.Add((name + ".running_mean", bn, () =>
                {
                    // A convolution bias b shifts what the batch norm sees: BN(conv + b) uses mean - b.
                    var values = OnnxTensorData.ReadFloats(mean, _path, Describe(bn));
                    if (convBias is not null)
                    {
                        var b = OnnxTensorData.ReadFloats(convBias, _path, Describe(conv));
                        for (int i = 0; i < values.Length; i++)
                        {
                            values[i] -= b[i];
                        }
                    }

                    return torch.tensor(values, shape);
                }, shape));
                _entries.Add((name + ".running_var", bn, () =>
                {
                    // Same normalisation with torchvision's epsilon: var' + 1e-5 = var + epsilon.
                    var values = OnnxTensorData.ReadFloats(variance, _path, Describe(bn));
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] += epsilon - TorchEpsilon;
                        if (values[i] < 0)
                        {
                            throw Unsupported(bn, string.Format(CultureInfo.InvariantCulture, "its epsilon {0} is smaller than torchvision's 1e-5 and a running variance is too small to compensate", epsilon));
                        }
                    }

                    return torch.tensor(values, shape);
                }, shape));
                _entries.Add((name + ".num_batches_tracked", bn, () => torch.tensor(0L), Array.Empty<long>()));
            }

            private void CheckConv(NodeProto conv, int kernel, int stride, int? inChannels)
            {
                var weight = Initializer(conv, 1);
                long[] kernelShape = conv.Ints("kernel_shape", weight.Dims.Skip(2).ToArray());
                long[] strides = conv.Ints("strides", new long[] { 1, 1 });
                long[] dilations = conv.Ints("dilations", new long[] { 1, 1 });
                if (weight.Dims.Count != 4 || weight.Dims[2] != kernel || weight.Dims[3] != kernel || !kernelShape.SequenceEqual(new long[] { kernel, kernel }))
                {
                    throw Unsupported(conv, string.Format(CultureInfo.InvariantCulture, "expected a {0}x{0} convolution here; its weight has shape {1}", kernel, weight.DescribeShape()));
                }

                if (!strides.SequenceEqual(new long[] { stride, stride }) || dilations.Any(d => d != 1) || conv.Int("group", 1) != 1)
                {
                    throw Unsupported(conv, string.Format(CultureInfo.InvariantCulture, "expected stride {0}, dilation 1 and one group (torchvision strides the {1} convolution of a stage's first block); found strides [{2}], dilations [{3}], group {4}", stride, kernel == 3 ? "3x3" : "1x1", string.Join(", ", strides), string.Join(", ", dilations), conv.Int("group", 1)));
                }

                if (inChannels is { } c && weight.Dims[1] != c)
                {
                    throw Unsupported(conv, string.Format(CultureInfo.InvariantCulture, "expected {0} input channels; the weight has shape {1}", c, weight.DescribeShape()));
                }

                CheckPads(conv, kernel, stride, kernel / 2);
            }

            private void CheckPool(NodeProto pool, int kernel, int stride, int padding)
            {
                if (!pool.Ints("kernel_shape", Array.Empty<long>()).SequenceEqual(new long[] { kernel, kernel }) ||
                    !pool.Ints("strides", new long[] { 1, 1 }).SequenceEqual(new long[] { stride, stride }) ||
                    pool.Int("ceil_mode", 0) != 0 || pool.Ints("dilations", new long[] { 1, 1 }).Any(d => d != 1) || pool.Output.Count > 1 && pool.Output[1].Length > 0)
                {
                    throw Unsupported(pool, string.Format(CultureInfo.InvariantCulture, "expected a {0}x{0} pool with stride {1}, floor rounding and no indices output", kernel, stride));
                }

                CheckPads(pool, kernel, stride, padding);
            }

            /// <summary>
            /// torchvision pads symmetrically. Exports such as CNTK's pad less at the end of strided
            /// windows ([1, 1, 0, 0]); on even-sized inputs the trailing pad is never read, so those
            /// are accepted as long as the leading pad matches.
            /// </summary>
            private void CheckPads(NodeProto node, int kernel, int stride, int padding)
            {
                string? autoPad = node.String("auto_pad");
                if (autoPad is not null && autoPad != "NOTSET" && !(autoPad == "VALID" && padding == 0))
                {
                    throw Unsupported(node, string.Format(CultureInfo.InvariantCulture, "auto_pad = {0} is not supported; export with explicit pads", autoPad));
                }

                long[] pads = node.Ints("pads", new long[] { 0, 0, 0, 0 });
                bool ok = pads.Length == 4 && pads[0] == padding && pads[1] == padding &&
                          pads[2] <= padding && pads[3] <= padding &&
                          pads[2] >= padding - (stride - 1) && pads[3] >= padding - (stride - 1);
                if (!ok)
                {
                    throw Unsupported(node, string.Format(CultureInfo.InvariantCulture, "expected padding {0} around a {1}x{1} window (torchvision's); found pads [{2}]", padding, kernel, string.Join(", ", pads)));
                }
            }

            private void CheckGlobalPool(NodeProto pool, ValueInfoProto input)
            {
                if (pool.OpType == "GlobalAveragePool")
                {
                    return;
                }

                long[] kernel = pool.Ints("kernel_shape", Array.Empty<long>());
                long[] pads = pool.Ints("pads", new long[] { 0, 0, 0, 0 });
                bool squareInput = input.Shape().Count == 4 && input.Shape()[2] is { } h && input.Shape()[3] is { } w && h == w && h % 32 == 0;
                long? mapSize = squareInput ? input.Shape()[2]!.Value / 32 : null;
                if (kernel.Length != 2 || kernel[0] != kernel[1] || pads.Any(p => p != 0) || (mapSize is { } m && kernel[0] != m))
                {
                    throw Unsupported(pool, string.Format(CultureInfo.InvariantCulture, "an AveragePool is imported as global average pooling only when its window covers the whole last feature map ({0}); found kernel [{1}], pads [{2}]", mapSize is { } s ? string.Format(CultureInfo.InvariantCulture, "{0}x{0} for the declared input", s) : "unknown size", string.Join(", ", kernel), string.Join(", ", pads)));
                }
            }

            private TensorProto Initializer(NodeProto node, int inputIndex)
            {
                if (node.Input.Count <= inputIndex || !_initializers.TryGetValue(node.Input[inputIndex], out var tensor))
                {
                    throw Unsupported(node, string.Format(CultureInfo.InvariantCulture, "its input {0} ('{1}') is not a stored weight (initializer); weights computed by other nodes are not supported", inputIndex, node.Input.Count > inputIndex ? node.Input[inputIndex] : "missing"));
                }

                return tensor;
            }

            private Tensor FromInitializer(TensorProto tensor, NodeProto node, long[] shape)
            {
                // Every declared size is checked against the bytes that hold it, but one initializer may feed several
                // nodes, and each use becomes its own copy: a small graph could make the import allocate without bound.
                // Exporters do share equal constants (the BatchNorm vectors of an untrained model), so re-reading is
                // allowed up to a few MiB in all, checked before the copy is made.
                if (!_read.Add(tensor))
                {
                    _rereadBytes += sizeof(float) * shape.Aggregate(1L, (a, b) => a * b);
                    if (_rereadBytes > MaxRereadBytes)
                    {
                        throw Unsupported(node, string.Format(CultureInfo.InvariantCulture, "its weight '{0}' is an initializer that other nodes read too; the graph reads its stored weights over and over ({1} bytes of copies beyond the stored data, more than the {2} an export can need). Export each parameter as its own initializer", tensor.Name, _rereadBytes, MaxRereadBytes));
                    }
                }

                return torch.tensor(OnnxTensorData.ReadFloats(tensor, _path, Describe(node)), shape);
            }

            private Dictionary<string, Tensor> Materialize()
            {
                var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                try
                {
                    foreach (var (key, _, make, _) in _entries)
                    {
                        result.Add(key, make());
                    }
                }
                catch
                {
                    foreach (var tensor in result.Values)
                    {
                        tensor.Dispose();
                    }

                    throw;
                }

                return result;
            }

            private NodeProto Consumer(string tensor, string opType, string expected)
            {
                var consumers = Consumers(tensor);
                if (consumers.Count != 1 || consumers[0].OpType != opType)
                {
                    var culprit = consumers.FirstOrDefault(n => n.OpType != opType) ?? consumers.FirstOrDefault() ?? _graph.Node.FirstOrDefault(n => n.Output.Contains(tensor));
                    throw Unsupported(culprit, string.Format(CultureInfo.InvariantCulture, "expected '{0}' to feed exactly one {1} ({2}); it feeds {3}", tensor, opType, expected, Describe(consumers)));
                }

                _visited.Add(consumers[0]);
                return consumers[0];
            }

            private List<NodeProto> Consumers(string tensor) =>
                _consumers.TryGetValue(tensor, out var list) ? list : new List<NodeProto>();

            private string Describe(List<NodeProto> nodes) =>
                nodes.Count == 0 ? "nothing" : string.Join(", ", nodes.Select(Describe));

            /// <summary>How messages name a node: its index, its name (or its output when unnamed) and its operator.</summary>
            private string Describe(NodeProto node) => string.Format(
                CultureInfo.InvariantCulture,
                "node #{0} '{1}' ({2})",
                _index[node], node.Name.Length > 0 ? node.Name : node.Output.Count > 0 ? "-> " + node.Output[0] : "unnamed", node.OpType);

            private WeightsFormatException Unsupported(NodeProto? node, string why)
            {
                if (node is not null && node.Domain.Length > 0 && node.Domain != "ai.onnx")
                {
                    why += string.Format(CultureInfo.InvariantCulture, " (operator domain '{0}')", node.Domain);
                }

                return new WeightsFormatException(string.Format(
                    CultureInfo.InvariantCulture,
                    "'{0}' cannot be imported as a ResNet: the first node that could not be mapped is {1}: {2}. Supported: torchvision-topology ResNets (basic or bottleneck blocks, any stage depths) made of Conv, BatchNormalization, Relu, Add, MaxPool, GlobalAveragePool or AveragePool, and optionally Flatten/Reshape and Gemm (opset {3} model by '{4}').",
                    _path, (node is null ? "the graph input" : Describe(node)), why, OnnxModelFile.DefaultOpset(_model), _model.ProducerName));
            }
        }

        /// <summary>torchvision's state-dict keys and shapes for a ResNet (without the classifier when <paramref name="classes"/> is null).</summary>
        internal static Dictionary<string, long[]> ExpectedShapes(ResNetArchitecture architecture, long? classes)
        {
            var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
            void Bn(string name, long c)
            {
                foreach (var suffix in new[] { "weight", "bias", "running_mean", "running_var" })
                {
                    shapes[name + "." + suffix] = new[] { c };
                }

                shapes[name + ".num_batches_tracked"] = Array.Empty<long>();
            }

            shapes["conv1.weight"] = new long[] { 64, 3, 7, 7 };
            Bn("bn1", 64);
            long inplanes = 64;
            int expansion = architecture.Expansion;
            for (int s = 0; s < 4; s++)
            {
                long planes = 64L << s;
                for (int j = 0; j < architecture.StageDepths[s]; j++)
                {
                    string p = string.Format(CultureInfo.InvariantCulture, "layer{0}.{1}.", s + 1, j);
                    if (architecture.Block == BlockKind.Basic)
                    {
                        shapes[p + "conv1.weight"] = new[] { planes, inplanes, 3, 3 };
                        Bn(p + "bn1", planes);
                        shapes[p + "conv2.weight"] = new[] { planes, planes, 3, 3 };
                        Bn(p + "bn2", planes);
                    }
                    else
                    {
                        shapes[p + "conv1.weight"] = new[] { planes, inplanes, 1, 1 };
                        Bn(p + "bn1", planes);
                        shapes[p + "conv2.weight"] = new[] { planes, planes, 3, 3 };
                        Bn(p + "bn2", planes);
                        shapes[p + "conv3.weight"] = new[] { planes * expansion, planes, 1, 1 };
                        Bn(p + "bn3", planes * expansion);
                    }

                    if (j == 0 && (s > 0 || inplanes != planes * expansion))
                    {
                        shapes[p + "downsample.0.weight"] = new[] { planes * expansion, inplanes, 1, 1 };
                        Bn(p + "downsample.1", planes * expansion);
                    }

                    inplanes = planes * expansion;
                }
            }

            if (classes is { } k)
            {
                shapes["fc.weight"] = new[] { k, inplanes };
                shapes["fc.bias"] = new[] { k };
            }

            return shapes;
        }

        private sealed record Block(List<(NodeProto Conv, NodeProto? Bn)> Main, (NodeProto Conv, NodeProto? Bn)? Projection, NodeProto Add, NodeProto Relu);
    }
}
