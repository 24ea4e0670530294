using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// torchvision's ResNet as a plain network (backbone and a linear classifier), built from <see cref="BasicBlock"/>
    /// or <see cref="Bottleneck"/> blocks, with parameter and buffer names identical to torchvision's
    /// <c>state_dict</c> keys (<c>conv1.weight</c>, <c>bn1.running_mean</c>, <c>layer3.5.conv2.weight</c>,
    /// <c>layer2.0.downsample.1.bias</c>, <c>fc.weight</c>...), so PyTorch checkpoints load with no renaming. Its
    /// named stages are <c>stem</c> (conv1, bn1, ReLU, max pool), <c>layer1</c>..<c>layer4</c>, <c>pooling</c>
    /// (global average pool and flatten) and <c>head</c> (the module registered as <c>fc</c>). For transfer learning
    /// use <see cref="TransferBuilder.FromResNet(int)"/>, which builds the same backbone with a head of your choice.
    /// </summary>
    public sealed class ResNet : BackboneNetwork
    {
        /// <summary>Creates a ResNet with a linear classifier, initialised as torchvision does.</summary>
        /// <param name="architecture">Block type and stage depths; see <see cref="ResNetArchitecture.ForDepth"/>.</param>
        /// <param name="numClasses">Outputs of the classifier.</param>
        public ResNet(ResNetArchitecture architecture, int numClasses = 1000)
            : this(Create(Guard.NotNull(architecture), Guard.Positive(numClasses)))
        {
        }

        private ResNet((Backbone Body, Module<Tensor, Tensor> Head) parts)
            : base(nameof(ResNet), parts.Body, parts.Head)
        {
            Architecture = (ResNetArchitecture)parts.Body.Architecture;
        }

        /// <summary>The stage names, in forward order: <c>stem</c>, <c>layer1</c>..<c>layer4</c>, <c>pooling</c>, <c>head</c>.</summary>
        public static IReadOnlyList<string> StageNames { get; } = Array.AsReadOnly(new[] { Stages.Stem, Stages.Layer1, Stages.Layer2, Stages.Layer3, Stages.Layer4, Stages.Pooling, Stages.Head });

        /// <summary>Block type and stage depths of this network.</summary>
        public ResNetArchitecture Architecture { get; }

        // The classifier first, then the backbone: the order torchvision-style construction draws from the global generator.
        private static (Backbone, Module<Tensor, Tensor>) Create(ResNetArchitecture architecture, int numClasses)
        {
            var head = Linear(architecture.FeatureCount, numClasses);
            return (architecture.CreateBackbone(3), head);
        }
    }

    /// <summary>The modules of a ResNet backbone (everything but <c>fc</c>), with torchvision's names.</summary>
    internal sealed class ResNetBackbone : Backbone
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly MaxPool2d maxpool;
        private readonly Sequential[] layers;
        private readonly AdaptiveAvgPool2d avgpool;

        public ResNetBackbone(ResNetArchitecture architecture, int inputChannels)
            : base(architecture, inputChannels)
        {
            conv1 = Conv2d(inputChannels, 64, kernel_size: 7, stride: 2, padding: 3, bias: false);
            bn1 = BatchNorm2d(64);
            maxpool = MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
            int channels = 64;
            layers = new[]
            {
                MakeStage(architecture, ref channels, 64, architecture.StageDepths[0], stride: 1),
                MakeStage(architecture, ref channels, 128, architecture.StageDepths[1], stride: 2),
                MakeStage(architecture, ref channels, 256, architecture.StageDepths[2], stride: 2),
                MakeStage(architecture, ref channels, 512, architecture.StageDepths[3], stride: 2),
            };
            avgpool = AdaptiveAvgPool2d(new long[] { 1, 1 });
            Modules = new (string, nn.Module)[]
            {
                ("conv1", conv1), ("bn1", bn1), ("maxpool", maxpool),
                ("layer1", layers[0]), ("layer2", layers[1]), ("layer3", layers[2]), ("layer4", layers[3]),
                ("avgpool", avgpool),
            };
            Initialization.Apply(Modules, ConvolutionInit.KaimingFanOut, generator: null);
        }

        public override IReadOnlyList<(string Name, nn.Module Module)> Modules { get; }

        public override Tensor RunStage(int index, Tensor x) => index == 0
            ? maxpool.call(functional.relu(ConvolutionWithBatchNorm.Run(conv1, bn1, x), inplace: true))
            : layers[index - 1].call(x);

        public override Tensor Pool(Tensor x) => avgpool.call(x).flatten(1);

        public override bool SupportsBFloat16 => true;

        public override IReadOnlyList<Module<Tensor, Tensor>>? ChainBlocks(int index) =>
            index == 0 ? null : layers[index - 1].children().Cast<Module<Tensor, Tensor>>().ToArray();

        private static Sequential MakeStage(ResNetArchitecture architecture, ref int inChannels, int channels, int blocks, int stride)
        {
            var stage = Sequential();
            for (int i = 0; i < blocks; i++)
            {
                Module<Tensor, Tensor> block = architecture.Block == BlockKind.Basic
                    ? new BasicBlock(inChannels, channels, i == 0 ? stride : 1)
                    : new Bottleneck(inChannels, channels, i == 0 ? stride : 1);
                stage.append(block);
                inChannels = channels * architecture.Expansion;
            }

            return stage;
        }
    }

    /// <summary>
    /// Names of a ResNet's stages, as accepted by <see cref="BackboneNetwork.ForwardTo"/> and freeze specs, and the
    /// two stages every backbone ends with (<see cref="Pooling"/>, <see cref="Head"/>). Other families name their
    /// stages in <see cref="BackboneArchitecture.BackboneStageNames"/>.
    /// </summary>
    public static class Stages
    {
        /// <summary>The first convolution and what follows it before the first block: for a ResNet <c>conv1</c>, <c>bn1</c>, ReLU and max pool.</summary>
        public const string Stem = "stem";

        /// <summary>The first residual stage (stride 4 from the input).</summary>
        public const string Layer1 = "layer1";

        /// <summary>The second residual stage (stride 8).</summary>
        public const string Layer2 = "layer2";

        /// <summary>The third residual stage (stride 16).</summary>
        public const string Layer3 = "layer3";

        /// <summary>The fourth residual stage (stride 32); Grad-CAM's default target for a ResNet.</summary>
        public const string Layer4 = "layer4";

        /// <summary>Global average pooling and flattening to [N, features], in every backbone.</summary>
        public const string Pooling = "pooling";

        /// <summary>The classifier, in every backbone (registered as <c>fc</c> in a ResNet, <c>classifier</c> in DenseNet and EfficientNet).</summary>
        public const string Head = "head";
    }
}
