using MedicalTransfer.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// One layer of a dense block (DenseNet-BC): BatchNorm, ReLU, 1x1 convolution to <c>bottleneckSize * growthRate</c>
    /// channels, BatchNorm, ReLU, 3x3 convolution to <c>growthRate</c> new channels. Its input is the concatenation of
    /// the block's input and every earlier layer's output. Parameter names match torchvision's (<c>norm1</c>,
    /// <c>conv1</c>, <c>norm2</c>, <c>conv2</c>). With <see cref="BackboneNetwork.FoldBatchNorm"/>, <c>norm2</c> folds
    /// into <c>conv1</c>; <c>norm1</c> cannot fold (it normalises the concatenated input ahead of a ReLU, and no
    /// convolution computes exactly its input) and runs as a BatchNorm.
    /// </summary>
    public sealed class DenseLayer : Module<Tensor, Tensor>
    {
        // Field names are state-dict keys: never rename them.
        private readonly BatchNorm2d norm1;
        private readonly ReLU relu1;
        private readonly Conv2d conv1;
        private readonly BatchNorm2d norm2;
        private readonly ReLU relu2;
        private readonly Conv2d conv2;

        /// <summary>Creates a layer.</summary>
        /// <param name="inChannels">Channels of the concatenated input.</param>
        /// <param name="growthRate">Channels the layer adds (32 for DenseNet-121, -169 and -201; 48 for -161).</param>
        /// <param name="bottleneckSize">Width of the 1x1 bottleneck as a multiple of the growth rate; torchvision's <c>bn_size</c>, 4.</param>
        public DenseLayer(int inChannels, int growthRate, int bottleneckSize = 4) : base(nameof(DenseLayer))
        {
            Guard.Positive(inChannels);
            Guard.Positive(growthRate);
            Guard.Positive(bottleneckSize);
            InChannels = inChannels;
            GrowthRate = growthRate;
            norm1 = BatchNorm2d(inChannels);
            relu1 = ReLU(inplace: true);
            conv1 = Conv2d(inChannels, bottleneckSize * growthRate, kernel_size: 1, stride: 1, bias: false);
            norm2 = BatchNorm2d(bottleneckSize * growthRate);
            relu2 = ReLU(inplace: true);
            conv2 = Conv2d(bottleneckSize * growthRate, growthRate, kernel_size: 3, stride: 1, padding: 1, bias: false);
            RegisterComponents();
        }

        /// <summary>Channels of the concatenated input.</summary>
        public int InChannels { get; }

        /// <summary>Channels of the output (the new features).</summary>
        public int GrowthRate { get; }

        internal BatchNorm2d Norm1 => norm1;

        internal Conv2d Conv1 => conv1;

        internal BatchNorm2d Norm2 => norm2;

        internal Conv2d Conv2 => conv2;

        /// <summary>Runs the layer.</summary>
        /// <param name="input">The concatenated features [N, InChannels, H, W].</param>
        /// <returns>The new features [N, GrowthRate, H, W].</returns>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            // norm1 is pre-activation (after the concatenation, before a ReLU): it cannot fold. norm2 follows conv1 and folds into it.
            var bottleneck = ConvolutionWithBatchNorm.Run(conv1, norm2, relu1.call(UnfoldedLayers.BatchNorm(norm1, input)));
            return UnfoldedLayers.Convolution(conv2, relu2.call(bottleneck)).MoveToOuterDisposeScope();
        }
    }
}
