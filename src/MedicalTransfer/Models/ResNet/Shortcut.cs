using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer.Models
{
    /// <summary>The residual shortcut both block types share.</summary>
    internal static class Shortcut
    {
        /// <summary>
        /// torchvision's projection (1x1 convolution + BatchNorm, registered as <c>downsample.0</c> and
        /// <c>downsample.1</c>) when the stride or channel count changes; <see langword="null"/> (identity) otherwise.
        /// </summary>
        public static Sequential? Create(int inChannels, int outChannels, int stride) =>
            stride != 1 || inChannels != outChannels
                ? Sequential(Conv2d(inChannels, outChannels, kernel_size: 1, stride: stride, bias: false), BatchNorm2d(outChannels))
                : null;

        /// <summary>The shortcut's value for <paramref name="input"/>: the input itself, or its projection.</summary>
        public static Tensor Apply(Sequential? projection, Tensor input)
        {
            if (projection is null)
            {
                return input;
            }

            // Without folding, inference never takes the matrix product: no need to look the layers up.
            if (!StageExecution.Fold && !PointwiseConvolution.MayNeedProduct(input))
            {
                return projection.call(input);
            }

            var layers = projection.children().ToArray();
            return ConvolutionWithBatchNorm.Run((Conv2d)layers[0], (BatchNorm2d)layers[1], input);
        }
    }
}
