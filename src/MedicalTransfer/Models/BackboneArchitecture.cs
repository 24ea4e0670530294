using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The body of a transfer model, described before any tensor exists: its named stages, the number of features it
    /// hands the head, the preprocessing its pretrained weights expect, the stage Grad-CAM explains by default and the
    /// compact layout saved in model files. A transfer model is such a backbone plus a head (fastai's body + head
    /// split, with this class as its per-architecture table); freezing, training, layer importance, Grad-CAM and
    /// saving read everything architecture-specific from here. The families are <see cref="ResNetArchitecture"/>,
    /// <see cref="DenseNetArchitecture"/> and <see cref="EfficientNetArchitecture"/>; docs/architectures.md compares them.
    /// </summary>
    public abstract class BackboneArchitecture : IEquatable<BackboneArchitecture>
    {
        private IReadOnlyList<string>? _backboneStageNames;
        private IReadOnlyList<string>? _stageNames;

        private protected BackboneArchitecture()
        {
        }

        /// <summary>A readable name, such as <c>ResNet-50</c>, <c>DenseNet-121</c> or <c>EfficientNet-B0</c>.</summary>
        public abstract string Name { get; }

        /// <summary>Number of features the backbone hands the head after global average pooling (2048 for ResNet-50, 1024 for DenseNet-121, 1280 for EfficientNet-B0).</summary>
        public abstract int FeatureCount { get; }

        /// <summary>
        /// The backbone's stages in forward order, the units that freeze specs name: <c>stem</c> first, then for a
        /// ResNet <c>layer1</c>..<c>layer4</c>, for a DenseNet <c>denseblock1</c>..<c>denseblock4</c> (each with the
        /// transition after it), for an EfficientNet <c>stage1</c>..<c>stage7</c> and <c>conv_head</c>.
        /// <c>Layers.UpTo(n)</c> freezes the first n + 1 of them.
        /// </summary>
        public IReadOnlyList<string> BackboneStageNames => _backboneStageNames ??= Array.AsReadOnly(StageLayouts.Select(s => s.Name).ToArray());

        /// <summary>Every stage in forward order, as <see cref="BackboneNetwork.ForwardTo"/> accepts them: <see cref="BackboneStageNames"/>, then <c>pooling</c> and <c>head</c>.</summary>
        public IReadOnlyList<string> StageNames => _stageNames ??= Array.AsReadOnly(BackboneStageNames.Append(Stages.Pooling).Append(Stages.Head).ToArray());

        /// <summary>The stage Grad-CAM explains when no layer is given: the last stage with a spatial output (<c>layer4</c>, <c>denseblock4</c>, <c>conv_head</c>).</summary>
        public abstract string DefaultCamStage { get; }

        /// <summary>
        /// The evaluation preprocessing of torchvision's ImageNet weights for this architecture; a model built without
        /// pretrained weights (or with weights that do not say) declares it.
        /// </summary>
        public abstract Preprocessing Preprocessing { get; }

        /// <summary>The stages' parameters and blocks (backbone stages only; pooling and the head are added by the model).</summary>
        internal abstract IReadOnlyList<StageLayout> StageLayouts { get; }

        /// <summary>The state-dict key of the classifier: <c>fc</c> for a ResNet, <c>classifier</c> for DenseNet and EfficientNet.</summary>
        internal abstract string HeadKey { get; }

        /// <summary>Module path of the first convolution, the one whose input channels <see cref="TransferBuilder.WithInputChannels"/> changes.</summary>
        internal abstract string InputConvolution { get; }

        /// <summary>How torchvision initialises this family's convolutions (used again when a seed is given).</summary>
        internal abstract ConvolutionInit ConvolutionInit { get; }

        /// <summary>The compact form saved in model files and training checkpoints, for example <c>bottleneck:3,4,6,3</c> or <c>densenet:32:64:6,12,24,16</c>.</summary>
        /// <returns>The layout.</returns>
        public abstract override string ToString();

        /// <inheritdoc />
        public abstract bool Equals(BackboneArchitecture? other);

        /// <inheritdoc />
        public sealed override bool Equals(object? obj) => Equals(obj as BackboneArchitecture);

        /// <inheritdoc />
        public abstract override int GetHashCode();

        /// <summary>Creates the backbone's modules, initialised as torchvision initialises them.</summary>
        /// <param name="inputChannels">Channels of the input images: 3, or 1 for gray images.</param>
        internal abstract Backbone CreateBackbone(int inputChannels);

        /// <summary>The module registered under <see cref="HeadKey"/> for a head (EfficientNet puts its dropout in front, as torchvision's <c>classifier.0</c>).</summary>
        internal virtual nn.Module<Tensor, Tensor> WrapHead(nn.Module<Tensor, Tensor> head) => head;

        /// <summary>The key a checkpoint written by an older torchvision uses for <paramref name="key"/>'s tensor today, or <see langword="null"/> when it is current.</summary>
        internal virtual string? RenameLegacyKey(string key) => null;

        /// <summary>The stage called <paramref name="name"/>, or <see langword="null"/>.</summary>
        internal StageLayout? FindStage(string name) => StageLayouts.FirstOrDefault(s => s.Name == name);

        /// <summary>Index of a stage in <see cref="StageNames"/>.</summary>
        /// <exception cref="ArgumentException">Not a stage of this architecture; the message lists the stages.</exception>
        internal int StageIndex(string stage)
        {
            int index = StageNames.ToList().IndexOf(stage);
            if (index < 0)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Unknown stage '{0}'. Stages: {1}.", stage, string.Join(", ", StageNames)),
                    nameof(stage));
            }

            return index;
        }

        /// <summary>Module paths (state-dict prefixes) holding a stage's parameters; none for pooling.</summary>
        internal IReadOnlyList<string> StageModulePaths(string stage) => stage switch
        {
            Stages.Pooling => Array.Empty<string>(),
            Stages.Head => new[] { HeadKey },
            _ => FindStage(stage)?.ModulePaths ?? throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Unknown stage '{0}'. Stages: {1}.", stage, string.Join(", ", StageNames)), nameof(stage)),
        };

        /// <summary>The block called <paramref name="name"/> (for example <c>layer4.1</c>) and its stage, when there is one.</summary>
        internal (StageLayout Stage, int Index)? FindBlock(string name)
        {
            foreach (var stage in StageLayouts)
            {
                for (int i = 0; i < stage.Blocks.Count; i++)
                {
                    if (stage.Blocks[i].Name == name)
                    {
                        return (stage, i);
                    }
                }
            }

            return null;
        }
    }

    /// <summary>How a family's convolutions are initialised (torchvision's choices).</summary>
    internal enum ConvolutionInit
    {
        /// <summary>ResNet: Kaiming normal, fan out, ReLU gain; biases (none in the backbone) as PyTorch's default.</summary>
        KaimingFanOut,

        /// <summary>DenseNet: Kaiming normal, fan in, ReLU gain.</summary>
        KaimingFanIn,

        /// <summary>EfficientNet: Kaiming normal, fan out, ReLU gain; biases zero.</summary>
        KaimingFanOutZeroBias,
    }
}
