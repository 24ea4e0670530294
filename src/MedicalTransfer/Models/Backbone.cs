using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The modules of one backbone and how to run its stages. The network that owns it registers
    /// <see cref="Modules"/> under their own names at its top level, so state-dict keys are exactly torchvision's
    /// (<c>conv1.weight</c>, <c>features.denseblock1.denselayer1.norm1.weight</c>, <c>features.3.0.block.1.0.weight</c>).
    /// </summary>
    internal abstract class Backbone
    {
        protected Backbone(BackboneArchitecture architecture, int inputChannels)
        {
            Architecture = architecture;
            InputChannels = inputChannels;
        }

        public BackboneArchitecture Architecture { get; }

        /// <summary>Channels of the input images (3, or 1 for a gray-input model).</summary>
        public int InputChannels { get; }

        /// <summary>The top-level modules with torchvision's names, in registration order.</summary>
        public abstract IReadOnlyList<(string Name, nn.Module Module)> Modules { get; }

        /// <summary>Runs backbone stage <paramref name="index"/> (an index into <see cref="BackboneArchitecture.BackboneStageNames"/>).</summary>
        public abstract Tensor RunStage(int index, Tensor x);

        /// <summary>Global average pooling of the last stage's output and flattening to [N, features].</summary>
        public abstract Tensor Pool(Tensor x);

        /// <summary>The block modules of a stage whose blocks form a chain (see <see cref="StageLayout.BlocksAreChain"/>), or <see langword="null"/>.</summary>
        public virtual IReadOnlyList<nn.Module<Tensor, Tensor>>? ChainBlocks(int index) => null;

        /// <summary>
        /// Whether every parameterised layer of the stages runs through <see cref="ConvolutionWithBatchNorm"/> or
        /// <see cref="UnfoldedLayers"/>, so the stages can compute in bfloat16 from runtime copies of the weights. A
        /// new backbone says <see langword="false"/> until it does (<see cref="PrecisionChoice"/> then refuses bfloat16).
        /// </summary>
        public virtual bool SupportsBFloat16 => false;
    }
}
