using System;
using MedicalTransfer.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Export
{
    /// <summary>
    /// A ResNet backbone (<see cref="ResNet"/>, or a <see cref="TransferModel"/> built on one): the stem (conv1, bn1,
    /// ReLU, max pool), layer1..layer4, global average pooling and flatten, read by child name.
    /// </summary>
    internal sealed class ResNetEmitter : IBackboneEmitter
    {
        private static readonly string[] StageNames = { "layer1", "layer2", "layer3", "layer4" };

        public Type ArchitectureType => typeof(ResNetArchitecture);

        public string EmitFeatures(OnnxEmitContext context, BackboneNetwork network, string input)
        {
            var c = OnnxEmitContext.Children(network);
            string x = context.ConvolutionWithBatchNorm(OnnxEmitContext.Child<Conv2d>(c, "conv1", network), OnnxEmitContext.Child<BatchNorm2d>(c, "bn1", network), input, "conv1", "bn1");
            x = context.Graph.Node("Relu", "relu", new[] { x });
            x = context.Emit(OnnxEmitContext.Child<MaxPool2d>(c, "maxpool", network), x, "maxpool");
            foreach (var stage in StageNames)
            {
                x = context.Emit(OnnxEmitContext.Child<nn.Module>(c, stage, network), x, stage);
            }

            x = context.Emit(OnnxEmitContext.Child<AdaptiveAvgPool2d>(c, "avgpool", network), x, "avgpool");
            return context.Graph.Node("Flatten", "flatten", new[] { x }, ("axis", 1L));
        }
    }

    /// <summary>conv1-bn1-ReLU-conv2-bn2, plus the identity or the downsample projection, Add, ReLU.</summary>
    internal sealed class BasicBlockEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(BasicBlock);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) =>
            ResidualBlock.Emit(context, module, input, name, 2);
    }

    /// <summary>conv1-bn1-ReLU-conv2-bn2-ReLU-conv3-bn3, plus the identity or the downsample projection, Add, ReLU.</summary>
    internal sealed class BottleneckEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(Bottleneck);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) =>
            ResidualBlock.Emit(context, module, input, name, 3);
    }

    internal static class ResidualBlock
    {
        public static string Emit(OnnxEmitContext context, nn.Module module, string input, string name, int convolutions)
        {
            var c = OnnxEmitContext.Children(module);
            string x = input;
            for (int i = 1; i <= convolutions; i++)
            {
                string n = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                x = context.ConvolutionWithBatchNorm(OnnxEmitContext.Child<Conv2d>(c, "conv" + n, module), OnnxEmitContext.Child<BatchNorm2d>(c, "bn" + n, module), x, name + ".conv" + n, name + ".bn" + n);
                if (i < convolutions)
                {
                    x = context.Graph.Node("Relu", name + ".relu" + n, new[] { x });
                }
            }

            string shortcut = c.TryGetValue("downsample", out var downsample) ? context.Emit(downsample, input, name + ".downsample") : input;
            x = context.Graph.Node("Add", name + ".add", new[] { x, shortcut });
            return context.Graph.Node("Relu", name + ".relu", new[] { x });
        }
    }
}
