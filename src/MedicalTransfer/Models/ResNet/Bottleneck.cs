using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The residual block of ResNet-50, -101 and -152: 1x1 convolution down to <c>channels</c>, 3x3
    /// convolution (carrying the stride, as torchvision's "ResNet v1.5" does), 1x1 convolution up to
    /// <c>4 * channels</c>, each with batch normalisation, added to an identity or 1x1 projection
    /// shortcut. Parameter names match torchvision's (<c>conv1</c>..<c>conv3</c>, <c>bn1</c>..<c>bn3</c>,
    /// <c>downsample.0</c>, <c>downsample.1</c>).
    /// </summary>
    public sealed class Bottleneck : Module<Tensor, Tensor>
    {
        /// <summary>Ratio of output to bottleneck channels: 4.</summary>
        public const int Expansion = 4;

        // Field names are state-dict keys: never rename them.
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv3;
        private readonly BatchNorm2d bn3;
        private readonly Sequential? downsample;

        /// <summary>Creates a block.</summary>
        /// <param name="inChannels">Channels of the input.</param>
        /// <param name="channels">Bottleneck width; the output has <c>4 * channels</c> channels.</param>
        /// <param name="stride">Stride of the 3x3 convolution (2 halves the spatial size).</param>
        public Bottleneck(int inChannels, int channels, int stride = 1) : base(nameof(Bottleneck))
        {
            Internal.Guard.Positive(inChannels);
            Internal.Guard.Positive(channels);
            Internal.Guard.InRange(stride, 1, 2);
            InChannels = inChannels;
            OutChannels = channels * Expansion;
            conv1 = Conv2d(inChannels, channels, kernel_size: 1, bias: false);
            bn1 = BatchNorm2d(channels);
            conv2 = Conv2d(channels, channels, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn2 = BatchNorm2d(channels);
            conv3 = Conv2d(channels, OutChannels, kernel_size: 1, bias: false);
            bn3 = BatchNorm2d(OutChannels);
            downsample = Shortcut.Create(inChannels, OutChannels, stride);

            RegisterComponents();
        }

        /// <summary>Channels of the input.</summary>
        public int InChannels { get; }

        /// <summary>Channels of the output (<c>4 * channels</c>).</summary>
        public int OutChannels { get; }

        /// <summary>Whether the shortcut is a 1x1 convolution projection rather than the identity.</summary>
        public bool HasProjection => downsample is not null;

        /// <summary>Runs the block.</summary>
        /// <param name="input">A tensor [N, InChannels, H, W].</param>
        /// <returns>A tensor [N, OutChannels, H/stride, W/stride].</returns>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var x = functional.relu(ConvolutionWithBatchNorm.Run(conv1, bn1, input), inplace: true);
            x = functional.relu(ConvolutionWithBatchNorm.Run(conv2, bn2, x), inplace: true);
            x = ConvolutionWithBatchNorm.Run(conv3, bn3, x);
            var identity = Shortcut.Apply(downsample, input);
            return functional.relu(x.add_(identity), inplace: true).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                conv1.Dispose();
                bn1.Dispose();
                conv2.Dispose();
                bn2.Dispose();
                conv3.Dispose();
                bn3.Dispose();
                downsample?.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
