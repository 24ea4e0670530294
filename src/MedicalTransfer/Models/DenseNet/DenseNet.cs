using System.Collections.Generic;
using MedicalTransfer.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// torchvision's DenseNet as a plain network (backbone and a linear classifier), built from <see cref="DenseLayer"/>,
    /// <see cref="DenseBlock"/> and <see cref="DenseTransition"/> blocks, with parameter and buffer names identical to
    /// torchvision's <c>state_dict</c> keys (<c>features.conv0.weight</c>, <c>features.denseblock3.denselayer7.norm2.running_var</c>,
    /// <c>features.transition2.conv.weight</c>, <c>features.norm5.bias</c>, <c>classifier.weight</c>), so PyTorch checkpoints
    /// load with no renaming (and torchvision's published files, which use older names for the dense layers, load
    /// as torchvision loads them). For transfer learning use <see cref="TransferBuilder.FromDenseNet(int)"/>.
    /// </summary>
    public sealed class DenseNet : BackboneNetwork
    {
        /// <summary>Creates a DenseNet with a linear classifier, initialised as torchvision does (the classifier's bias zero).</summary>
        /// <param name="architecture">Growth rate and block depths; see <see cref="DenseNetArchitecture.ForDepth"/>.</param>
        /// <param name="numClasses">Outputs of the classifier.</param>
        public DenseNet(DenseNetArchitecture architecture, int numClasses = 1000)
            : this(Create(Guard.NotNull(architecture), Guard.Positive(numClasses)))
        {
        }

        private DenseNet((Backbone Body, Module<Tensor, Tensor> Head) parts)
            : base(nameof(DenseNet), parts.Body, parts.Head)
        {
            Architecture = (DenseNetArchitecture)parts.Body.Architecture;
        }

        /// <summary>Growth rate and block depths of this network.</summary>
        public DenseNetArchitecture Architecture { get; }

        private static (Backbone, Module<Tensor, Tensor>) Create(DenseNetArchitecture architecture, int numClasses)
        {
            var backbone = architecture.CreateBackbone(3);
            var classifier = Linear(architecture.FeatureCount, numClasses);
            using (no_grad())
            {
                classifier.bias!.zero_();
            }

            return (backbone, classifier);
        }
    }

    /// <summary>The modules of a DenseNet backbone: torchvision's <c>features</c> sequence.</summary>
    internal sealed class DenseNetBackbone : Backbone
    {
        private readonly Conv2d conv0;
        private readonly BatchNorm2d norm0;
        private readonly MaxPool2d pool0;
        private readonly DenseBlock[] blocks;
        private readonly DenseTransition[] transitions;
        private readonly BatchNorm2d norm5;

        public DenseNetBackbone(DenseNetArchitecture architecture, int inputChannels)
            : base(architecture, inputChannels)
        {
            conv0 = Conv2d(inputChannels, architecture.InitialFeatures, kernel_size: 7, stride: 2, padding: 3, bias: false);
            norm0 = BatchNorm2d(architecture.InitialFeatures);
            var relu0 = ReLU(inplace: true);
            pool0 = MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
            var sequence = new List<(string, Module<Tensor, Tensor>)> { ("conv0", conv0), ("norm0", norm0), ("relu0", relu0), ("pool0", pool0) };
            blocks = new DenseBlock[4];
            transitions = new DenseTransition[3];
            int features = architecture.InitialFeatures;
            for (int b = 0; b < 4; b++)
            {
                string n = (b + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                blocks[b] = new DenseBlock(architecture.BlockDepths[b], features, architecture.GrowthRate, DenseNetArchitecture.BottleneckSize);
                sequence.Add(("denseblock" + n, blocks[b]));
                features = blocks[b].OutChannels;
                if (b < 3)
                {
                    transitions[b] = new DenseTransition(features, features / 2);
                    sequence.Add(("transition" + n, transitions[b]));
                    features /= 2;
                }
            }

            norm5 = BatchNorm2d(features);
            sequence.Add(("norm5", norm5));
            Features = Sequential(sequence);
            Modules = new (string, nn.Module)[] { ("features", Features) };
            Initialization.Apply(Modules, ConvolutionInit.KaimingFanIn, generator: null);
        }

        public override IReadOnlyList<(string Name, nn.Module Module)> Modules { get; }

        /// <summary>torchvision's <c>features</c>: the stem, the dense blocks with their transitions, and <c>norm5</c>.</summary>
        internal Sequential Features { get; }

        internal IReadOnlyList<DenseBlock> Blocks => blocks;

        internal IReadOnlyList<DenseTransition> Transitions => transitions;

        public override Tensor RunStage(int index, Tensor x) => index switch
        {
            0 => pool0.call(functional.relu(ConvolutionWithBatchNorm.Run(conv0, norm0, x), inplace: true)),
            4 => functional.relu(UnfoldedLayers.BatchNorm(norm5, blocks[3].call(x)), inplace: true),
            _ => transitions[index - 1].call(blocks[index - 1].call(x)),
        };

        public override Tensor Pool(Tensor x) => functional.adaptive_avg_pool2d(x, new long[] { 1, 1 }).flatten(1);

        // Folding: norm0 into conv0 and every dense layer's norm2 into its conv1 (59 of DenseNet-121's 121 BatchNorms);
        // the pre-activation ones (norm1, the transitions' norm, norm5) run through UnfoldedLayers, as do conv2 and the transitions' conv.
        public override bool SupportsBFloat16 => true;
    }
}
