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
    /// torchvision's EfficientNet (B0 to B7) as a plain network: the backbone and torchvision's classifier (dropout,
    /// then a linear layer), built from <see cref="MBConv"/>, <see cref="SqueezeExcitation"/> and
    /// <see cref="StochasticDepth"/> blocks, with parameter and buffer names identical to torchvision's <c>state_dict</c>
    /// keys (<c>features.0.0.weight</c>, <c>features.2.1.block.2.fc1.bias</c>, <c>features.8.1.running_mean</c>,
    /// <c>classifier.1.weight</c>), so PyTorch checkpoints load with no renaming. For transfer learning use
    /// <see cref="TransferBuilder.FromEfficientNet(int)"/>.
    /// </summary>
    public sealed class EfficientNet : BackboneNetwork
    {
        /// <summary>Creates an EfficientNet with torchvision's classifier, initialised as torchvision does.</summary>
        /// <param name="architecture">The width; see <see cref="EfficientNetArchitecture.ForWidth"/>.</param>
        /// <param name="numClasses">Outputs of the classifier.</param>
        public EfficientNet(EfficientNetArchitecture architecture, int numClasses = 1000)
            : this(Create(Guard.NotNull(architecture), Guard.Positive(numClasses)))
        {
        }

        private EfficientNet((Backbone Body, Module<Tensor, Tensor> Head) parts)
            : base(nameof(EfficientNet), parts.Body, parts.Head)
        {
            Architecture = (EfficientNetArchitecture)parts.Body.Architecture;
        }

        /// <summary>The width of this network.</summary>
        public EfficientNetArchitecture Architecture { get; }

        private static (Backbone, Module<Tensor, Tensor>) Create(EfficientNetArchitecture architecture, int numClasses)
        {
            var backbone = architecture.CreateBackbone(3);
            var classifier = Linear(architecture.FeatureCount, numClasses);
            using (no_grad())
            {
                double range = 1 / Math.Sqrt(numClasses);
                classifier.weight!.uniform_(-range, range);
                classifier.bias!.zero_();
            }

            return (backbone, classifier);
        }
    }

    /// <summary>The modules of an EfficientNet backbone: torchvision's <c>features</c> (stem, seven MBConv stages, head convolution) and <c>avgpool</c>.</summary>
    internal sealed class EfficientNetBackbone : Backbone
    {
        private readonly Sequential features;
        private readonly Module<Tensor, Tensor>[] stages;
        private readonly AdaptiveAvgPool2d avgpool;

        public EfficientNetBackbone(EfficientNetArchitecture architecture, int inputChannels)
            : base(architecture, inputChannels)
        {
            double eps = architecture.BatchNormEpsilon, momentum = architecture.BatchNormMomentum;
            var settings = architecture.StageSettings;
            int total = settings.Sum(s => s.Layers);
            int blockId = 0;
            var all = new List<Module<Tensor, Tensor>> { ConvNormActivation.Create(inputChannels, architecture.StemChannels, 3, 2, 1, eps, momentum, activation: true) };
            foreach (var s in settings)
            {
                var blocks = new List<Module<Tensor, Tensor>>();
                for (int i = 0; i < s.Layers; i++)
                {
                    double drop = architecture.StochasticDepthProbability * blockId / total;
                    blocks.Add(new MBConv(i == 0 ? s.InChannels : s.OutChannels, s.OutChannels, s.Expand, s.Kernel, i == 0 ? s.Stride : 1, drop, eps, momentum));
                    blockId++;
                }

                all.Add(Sequential(blocks));
            }

            all.Add(ConvNormActivation.Create(settings[^1].OutChannels, architecture.FeatureCount, 1, 1, 1, eps, momentum, activation: true));
            stages = all.ToArray();
            features = Sequential(all);
            avgpool = AdaptiveAvgPool2d(1);
            Modules = new (string, nn.Module)[] { ("features", features), ("avgpool", avgpool) };
            Initialization.Apply(Modules, ConvolutionInit.KaimingFanOutZeroBias, generator: null);
        }

        public override IReadOnlyList<(string Name, nn.Module Module)> Modules { get; }

        /// <summary>torchvision's <c>features</c>: index 0 the stem, 1 to 7 the MBConv stages, 8 the head convolution.</summary>
        internal Sequential Features => features;

        public override Tensor RunStage(int index, Tensor x) =>
            index == 0 || index == stages.Length - 1 ? ConvNormActivation.Run((Sequential)stages[index], x) : stages[index].call(x);

        // Every convolution of the stages is followed by its BatchNorm and folds; squeeze-and-excitation's fc1/fc2 run through UnfoldedLayers.
        public override bool SupportsBFloat16 => true;

        public override Tensor Pool(Tensor x) => avgpool.call(x).flatten(1);

        public override IReadOnlyList<Module<Tensor, Tensor>>? ChainBlocks(int index) =>
            index is >= 1 and <= 7 ? stages[index].children().Cast<Module<Tensor, Tensor>>().ToArray() : null;
    }
}
