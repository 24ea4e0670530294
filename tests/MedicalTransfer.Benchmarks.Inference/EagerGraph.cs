using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Weights;
using MedicalTransfer.Weights.OnnxIr;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Benchmarks.Inference
{
    /// <summary>
    /// Runs an exported graph eagerly with TorchSharp's functional operators, node by node: the same libtorch kernels as
    /// the SDK's modules, so an export with BatchNorm folded against one without measures what folding saves eagerly.
    /// </summary>
    internal sealed class EagerGraph : IDisposable
    {
        private readonly GraphProto graph;
        private readonly Dictionary<string, Tensor> weights = new(StringComparer.Ordinal);

        public EagerGraph(string path)
        {
            var model = OnnxModelFile.Read(path);
            graph = model.Graph;
            foreach (var t in graph.Initializer)
            {
                weights[t.Name] = tensor(OnnxTensorData.ReadFloats(t, path, t.Name), t.Dims.ToArray()).DetachFromDisposeScope();
            }

            Nodes = graph.Node.Count;
        }

        public int Nodes { get; }

        public Tensor Forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var values = new Dictionary<string, Tensor>(weights, StringComparer.Ordinal) { [graph.Input[0].Name] = input };
            Tensor last = input;
            foreach (var node in graph.Node)
            {
                Tensor In(int i) => values[node.Input[i]];
                Tensor? Optional(int i) => node.Input.Count > i ? values[node.Input[i]] : null;
                last = node.OpType switch
                {
                    "Conv" => nn.functional.conv2d(In(0), In(1), Optional(2), strides: node.Ints("strides", new long[] { 1, 1 }), padding: node.Ints("pads", new long[] { 0, 0, 0, 0 }).Take(2).ToArray(), dilation: node.Ints("dilations", new long[] { 1, 1 }), groups: node.Int("group", 1)),
                    "BatchNormalization" => nn.functional.batch_norm(In(0), In(3), In(4), In(1), In(2), false, 0.1, node.Float("epsilon", 1e-5f)),
                    "Relu" => nn.functional.relu(In(0)),
                    "MaxPool" => nn.functional.max_pool2d(In(0), node.Ints("kernel_shape", Array.Empty<long>()), node.Ints("strides", new long[] { 1, 1 }), node.Ints("pads", new long[] { 0, 0, 0, 0 }).Take(2).ToArray()),
                    "Add" => In(0) + In(1),
                    "GlobalAveragePool" => nn.functional.adaptive_avg_pool2d(In(0), new long[] { 1, 1 }),
                    "Flatten" => In(0).flatten(1),
                    "Gemm" => nn.functional.linear(In(0), In(1), Optional(2)),
                    "Softmax" => nn.functional.softmax(In(0), 1),
                    _ => throw new NotSupportedException(node.OpType),
                };
                values[node.Output[0]] = last;
            }

            return last.MoveToOuterDisposeScope();
        }

        public void Dispose()
        {
            foreach (var t in weights.Values)
            {
                t.Dispose();
            }
        }
    }
}
