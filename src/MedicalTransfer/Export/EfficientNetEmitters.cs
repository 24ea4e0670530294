using System;
using MedicalTransfer.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Export
{
    /// <summary>
    /// An EfficientNet backbone: torchvision's <c>features</c> (the stem, the seven MBConv stages and the head
    /// convolution, each convolution with its BatchNorm folded in), then <c>avgpool</c> and flatten.
    /// </summary>
    internal sealed class EfficientNetEmitter : IBackboneEmitter
    {
        public Type ArchitectureType => typeof(EfficientNetArchitecture);

        public string EmitFeatures(OnnxEmitContext context, BackboneNetwork network, string input)
        {
            var c = OnnxEmitContext.Children(network);
            string x = context.Emit(OnnxEmitContext.Child<Sequential>(c, "features", network), input, "features");
            x = context.Emit(OnnxEmitContext.Child<AdaptiveAvgPool2d>(c, "avgpool", network), x, "avgpool");
            return context.Graph.Node("Flatten", "flatten", new[] { x }, ("axis", 1L));
        }
    }

    /// <summary>
    /// The block's layers ([expansion,] depthwise convolution as a grouped Conv, squeeze-and-excitation, projection),
    /// and when the block has a residual, stochastic depth (the identity at inference) and Add of the input.
    /// </summary>
    internal sealed class MBConvEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(MBConv);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var block = (MBConv)module;
            var c = OnnxEmitContext.Children(module);
            string x = context.Emit(OnnxEmitContext.Child<Sequential>(c, "block", module), input, name + ".block");
            if (!block.HasResidual)
            {
                return x;
            }

            x = context.Emit(OnnxEmitContext.Child<StochasticDepth>(c, "stochastic_depth", module), x, name + ".stochastic_depth");
            return context.Graph.Node("Add", name + ".add", new[] { x, input });
        }
    }

    /// <summary>GlobalAveragePool, fc1 (1x1 Conv with bias), SiLU, fc2, Sigmoid, and the input multiplied by the result per channel.</summary>
    internal sealed class SqueezeExcitationEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(SqueezeExcitation);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var c = OnnxEmitContext.Children(module);
            string s = context.Emit(OnnxEmitContext.Child<AdaptiveAvgPool2d>(c, "avgpool", module), input, name + ".avgpool");
            s = context.Emit(OnnxEmitContext.Child<Conv2d>(c, "fc1", module), s, name + ".fc1");
            s = context.Emit(OnnxEmitContext.Child<SiLU>(c, "activation", module), s, name + ".activation");
            s = context.Emit(OnnxEmitContext.Child<Conv2d>(c, "fc2", module), s, name + ".fc2");
            s = context.Emit(OnnxEmitContext.Child<Sigmoid>(c, "scale_activation", module), s, name + ".scale_activation");
            return context.Graph.Node("Mul", name + ".scale", new[] { s, input });
        }
    }

    /// <summary>Stochastic depth is the identity at inference: no node.</summary>
    internal sealed class StochasticDepthEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(StochasticDepth);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) => input;
    }
}
