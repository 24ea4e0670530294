using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Export
{
    /// <summary>
    /// A DenseNet backbone: torchvision's <c>features</c> sequence (conv0 with norm0 folded in, ReLU, max pool, the
    /// dense blocks and transitions, norm5), then the ReLU after norm5, global average pooling and flatten, as
    /// <c>DenseNetBackbone</c> runs its last stage and pooling.
    /// </summary>
    internal sealed class DenseNetEmitter : IBackboneEmitter
    {
        public Type ArchitectureType => typeof(DenseNetArchitecture);

        public string EmitFeatures(OnnxEmitContext context, BackboneNetwork network, string input)
        {
            var c = OnnxEmitContext.Children(network);
            string x = context.Emit(OnnxEmitContext.Child<Sequential>(c, "features", network), input, "features");
            x = context.Graph.Node("Relu", "features.relu5", new[] { x });
            x = context.Graph.Node("GlobalAveragePool", "avgpool", new[] { x });
            return context.Graph.Node("Flatten", "flatten", new[] { x }, ("axis", 1L));
        }
    }

    /// <summary>
    /// Each layer reads the concatenation (Concat on the channel axis) of the block's input and every earlier
    /// layer's output; the block returns the concatenation including the last layer's output.
    /// </summary>
    internal sealed class DenseBlockEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(DenseBlock);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var features = new List<string> { input };
            foreach (var (layerName, layer) in module.named_children())
            {
                string layerInput = features.Count == 1 ? input : context.Graph.Node("Concat", name + "." + layerName + ".concat", features.ToArray(), ("axis", 1L));
                features.Add(context.Emit(layer, layerInput, name + "." + layerName));
            }

            return context.Graph.Node("Concat", name + ".concat", features, ("axis", 1L));
        }
    }

    /// <summary>
    /// norm1-ReLU-conv1-norm2-ReLU-conv2 (DenseNet-BC's pre-activation layer). norm2 follows conv1 and is folded
    /// into it when folding is on; norm1 follows the concatenation, so it stays a BatchNormalization node.
    /// </summary>
    internal sealed class DenseLayerEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(DenseLayer);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var c = OnnxEmitContext.Children(module);
            string x = context.Emit(OnnxEmitContext.Child<BatchNorm2d>(c, "norm1", module), input, name + ".norm1");
            x = context.Graph.Node("Relu", name + ".relu1", new[] { x });
            x = context.ConvolutionWithBatchNorm(OnnxEmitContext.Child<Conv2d>(c, "conv1", module), OnnxEmitContext.Child<BatchNorm2d>(c, "norm2", module), x, name + ".conv1", name + ".norm2");
            x = context.Graph.Node("Relu", name + ".relu2", new[] { x });
            return context.Emit(OnnxEmitContext.Child<Conv2d>(c, "conv2", module), x, name + ".conv2");
        }
    }

    /// <summary>norm-ReLU-conv (1x1)-average pool (2x2, stride 2) between two dense blocks.</summary>
    internal sealed class DenseTransitionEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(DenseTransition);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var c = OnnxEmitContext.Children(module);
            string x = context.Emit(OnnxEmitContext.Child<BatchNorm2d>(c, "norm", module), input, name + ".norm");
            x = context.Graph.Node("Relu", name + ".relu", new[] { x });
            x = context.Emit(OnnxEmitContext.Child<Conv2d>(c, "conv", module), x, name + ".conv");
            return context.Emit(OnnxEmitContext.Child<AvgPool2d>(c, "pool", module), x, name + ".pool");
        }
    }
}
