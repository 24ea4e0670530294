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
    /// Squeeze-and-excitation (Hu et al., 2018) as torchvision's <c>SqueezeExcitation</c> in EfficientNet: global average
    /// pooling, a 1x1 convolution down to <c>squeezeChannels</c>, SiLU, a 1x1 convolution back, a sigmoid, and the input
    /// scaled channel by channel by the result. Parameter names match torchvision's (<c>fc1</c>, <c>fc2</c>).
    /// </summary>
    public sealed class SqueezeExcitation : Module<Tensor, Tensor>
    {
        // Field names are state-dict keys: never rename them.
        private readonly AdaptiveAvgPool2d avgpool;
        private readonly Conv2d fc1;
        private readonly Conv2d fc2;
        private readonly SiLU activation;
        private readonly Sigmoid scale_activation;

        /// <summary>Creates the block.</summary>
        /// <param name="channels">Channels of the input (and output).</param>
        /// <param name="squeezeChannels">Channels of the bottleneck (EfficientNet: a quarter of the MBConv block's input channels).</param>
        public SqueezeExcitation(int channels, int squeezeChannels) : base(nameof(SqueezeExcitation))
        {
            Guard.Positive(channels);
            Guard.Positive(squeezeChannels);
            Channels = channels;
            SqueezeChannels = squeezeChannels;
            avgpool = AdaptiveAvgPool2d(1);
            fc1 = Conv2d(channels, squeezeChannels, kernel_size: 1);
            fc2 = Conv2d(squeezeChannels, channels, kernel_size: 1);
            activation = SiLU(inplace: true);
            scale_activation = Sigmoid();
            RegisterComponents();
        }

        /// <summary>Channels of the input and output.</summary>
        public int Channels { get; }

        /// <summary>Channels of the bottleneck.</summary>
        public int SqueezeChannels { get; }

        internal Conv2d Fc1 => fc1;

        internal Conv2d Fc2 => fc2;

        /// <summary>Runs the block.</summary>
        /// <param name="input">A tensor [N, Channels, H, W].</param>
        /// <returns>The input scaled per channel.</returns>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var scale = scale_activation.call(UnfoldedLayers.Convolution(fc2, activation.call(UnfoldedLayers.Convolution(fc1, avgpool.call(input)))));
            return (scale * input).MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// Stochastic depth (Huang et al., 2016) in torchvision's "row" mode: while training, each sample's residual branch
    /// is dropped with probability <see cref="Probability"/> and the kept ones are scaled by 1 / (1 - p); in evaluation
    /// mode it is the identity. It has no parameters.
    /// </summary>
    public sealed class StochasticDepth : Module<Tensor, Tensor>
    {
        /// <summary>Creates the module.</summary>
        /// <param name="probability">Probability of dropping a sample's branch, from 0 to 1.</param>
        public StochasticDepth(double probability) : base(nameof(StochasticDepth))
        {
            Probability = Guard.InRange(probability, 0.0, 1.0);
        }

        /// <summary>Probability of dropping a sample's branch while training.</summary>
        public double Probability { get; }

        /// <summary>Drops whole samples of the branch while training; the identity otherwise.</summary>
        /// <param name="input">The residual branch [N, ...].</param>
        /// <returns>The branch, some samples zeroed and the rest rescaled, or the input itself.</returns>
        public override Tensor forward(Tensor input)
        {
            Guard.NotNull(input);
            if (!training || Probability == 0)
            {
                return input;
            }

            using var scope = NewDisposeScope();
            double survival = 1 - Probability;
            var size = new long[input.dim()];
            Array.Fill(size, 1L);
            size[0] = input.shape[0];
            var noise = empty(size, input.dtype, input.device).bernoulli_(survival);
            if (survival > 0)
            {
                noise.div_(survival);
            }

            return (input * noise).MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// The mobile inverted bottleneck of EfficientNet (Tan and Le, 2019), as torchvision's <c>MBConv</c>: a 1x1
    /// expansion convolution (when the expansion ratio is not 1), a depthwise k x k convolution carrying the stride,
    /// squeeze-and-excitation, and a 1x1 projection, each convolution with BatchNorm and all but the projection with
    /// SiLU; when stride and channels allow, the input is added back through <see cref="StochasticDepth"/>.
    /// Every BatchNorm directly follows its convolution, so <see cref="BackboneNetwork.FoldBatchNorm"/> folds all of them.
    /// Parameter names match torchvision's (<c>block.0.0.weight</c>, <c>block.1.1.running_mean</c>, <c>block.2.fc1.weight</c>...).
    /// </summary>
    public sealed class MBConv : Module<Tensor, Tensor>
    {
        // Field names are state-dict keys: never rename them.
        private readonly Sequential block;
        private readonly StochasticDepth stochastic_depth;

        /// <summary>Creates a block.</summary>
        /// <param name="inChannels">Channels of the input.</param>
        /// <param name="outChannels">Channels of the output.</param>
        /// <param name="expandRatio">Expansion of the hidden width (1 or 6 in EfficientNet-B0).</param>
        /// <param name="kernel">Side of the depthwise convolution (3 or 5).</param>
        /// <param name="stride">Stride of the depthwise convolution (1 or 2).</param>
        /// <param name="stochasticDepth">Probability of dropping the residual branch while training.</param>
        /// <param name="batchNormEpsilon">BatchNorm's epsilon (1e-5; 1e-3 in EfficientNet-B5 to -B7).</param>
        /// <param name="batchNormMomentum">BatchNorm's momentum (0.1; 0.01 in EfficientNet-B5 to -B7).</param>
        public MBConv(int inChannels, int outChannels, double expandRatio, int kernel, int stride, double stochasticDepth, double batchNormEpsilon = 1e-5, double batchNormMomentum = 0.1)
            : base(nameof(MBConv))
        {
            Guard.Positive(inChannels);
            Guard.Positive(outChannels);
            Guard.Positive(expandRatio);
            Guard.InRange(kernel, 1, 15);
            Guard.InRange(stride, 1, 2);
            InChannels = inChannels;
            OutChannels = outChannels;
            Stride = stride;
            HasResidual = stride == 1 && inChannels == outChannels;
            int expanded = EfficientNetArchitecture.MakeDivisible(inChannels * expandRatio, 8);
            var layers = new List<Module<Tensor, Tensor>>();
            if (expanded != inChannels)
            {
                layers.Add(ConvNormActivation.Create(inChannels, expanded, 1, 1, 1, batchNormEpsilon, batchNormMomentum, activation: true));
            }

            layers.Add(ConvNormActivation.Create(expanded, expanded, kernel, stride, expanded, batchNormEpsilon, batchNormMomentum, activation: true));
            layers.Add(new SqueezeExcitation(expanded, Math.Max(1, inChannels / 4)));
            layers.Add(ConvNormActivation.Create(expanded, outChannels, 1, 1, 1, batchNormEpsilon, batchNormMomentum, activation: false));
            block = Sequential(layers);
            stochastic_depth = new StochasticDepth(stochasticDepth);
            RegisterComponents();
        }

        /// <summary>Channels of the input.</summary>
        public int InChannels { get; }

        /// <summary>Channels of the output.</summary>
        public int OutChannels { get; }

        /// <summary>Stride of the depthwise convolution.</summary>
        public int Stride { get; }

        /// <summary>Whether the input is added back (stride 1 and as many output channels as input channels).</summary>
        public bool HasResidual { get; }

        /// <summary>The layers: [expansion,] depthwise, squeeze-and-excitation, projection.</summary>
        internal Sequential Block => block;

        internal StochasticDepth Depth => stochastic_depth;

        /// <summary>Runs the block.</summary>
        /// <param name="input">A tensor [N, InChannels, H, W].</param>
        /// <returns>A tensor [N, OutChannels, H / stride, W / stride].</returns>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            Tensor result;
            if (!StageExecution.Fold)
            {
                result = block.call(input);
            }
            else
            {
                // Folding or bfloat16: each convolution with its BatchNorm runs as one folded convolution.
                result = input;
                foreach (var layer in block.children())
                {
                    result = layer is Sequential convNorm ? ConvNormActivation.Run(convNorm, result) : ((Module<Tensor, Tensor>)layer).call(result);
                }
            }

            if (HasResidual)
            {
                result = stochastic_depth.call(result).add(input);
            }

            return result.MoveToOuterDisposeScope();
        }
    }

    /// <summary>torchvision's <c>Conv2dNormActivation</c> as EfficientNet uses it: convolution (no bias), BatchNorm, optional SiLU, keys <c>0</c>, <c>1</c>, <c>2</c>.</summary>
    internal static class ConvNormActivation
    {
        public static Sequential Create(int inChannels, int outChannels, int kernel, int stride, int groups, double epsilon, double momentum, bool activation)
        {
            var conv = Conv2d(inChannels, outChannels, kernel_size: kernel, stride: stride, padding: (kernel - 1) / 2, groups: groups, bias: false);
            var norm = BatchNorm2d(outChannels, eps: epsilon, momentum: momentum);
            return activation ? Sequential(conv, norm, SiLU(inplace: true)) : Sequential(conv, norm);
        }

        /// <summary>Runs a sequence made by <see cref="Create"/>: as the sequence, or with its BatchNorm folded into its convolution where <see cref="StageExecution"/> allows it.</summary>
        public static Tensor Run(Sequential layer, Tensor x)
        {
            if (!StageExecution.Fold)
            {
                return layer.call(x);
            }

            var parts = layer.children().ToArray();
            var y = ConvolutionWithBatchNorm.Run((Conv2d)parts[0], (BatchNorm2d)parts[1], x);
            return parts.Length > 2 ? ((Module<Tensor, Tensor>)parts[2]).call(y) : y;
        }
    }
}
