using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The layers of a backbone stage that have parameters but no BatchNorm to fold with (or a BatchNorm with nothing
    /// to fold into), run as their modules in float32 and, when the stage computes in bfloat16
    /// (<see cref="StageExecution.BFloat16"/>), from bfloat16 runtime copies of their weights, so that every
    /// parameterised layer of DenseNet and EfficientNet can take part in bfloat16 without changing the model's own
    /// 32-bit parameters. In float32 both are exactly the module's own forward.
    /// </summary>
    internal static class UnfoldedLayers
    {
        /// <summary>
        /// A convolution with no BatchNorm after it (DenseNet's <c>conv2</c> and transition <c>conv</c>, the
        /// squeeze-and-excitation <c>fc1</c>/<c>fc2</c>): the module, or in bfloat16 the same convolution from bfloat16
        /// copies of its weight and bias.
        /// </summary>
        public static Tensor Convolution(Conv2d conv, Tensor x)
        {
            if (!StageExecution.BFloat16 || conv.padding is null || conv.padding_mode != PaddingModes.Zeros)
            {
                return conv.call(ToFloat(x));
            }

            using var scope = NewDisposeScope();
            Tensor weight;
            Tensor? bias;
            using (no_grad())
            {
                weight = conv.weight!.to(ScalarType.BFloat16);
                bias = conv.bias?.to(ScalarType.BFloat16);
            }

            return nn.functional.conv2d(ToBFloat16(x), weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// A BatchNorm that cannot be folded into a convolution: DenseNet's pre-activation <c>norm1</c>, transition
        /// <c>norm</c> and <c>norm5</c>, which follow a concatenation (channels written by many earlier convolutions
        /// and read by every later layer, each through its own BatchNorm) and precede a ReLU, so no convolution's
        /// weights can absorb them. In float32 it runs as the module (folding does not change it). In bfloat16 and
        /// evaluation mode it runs as the affine map it then is, <c>x * s + (beta - mean * s)</c>,
        /// <c>s = gamma / sqrt(var + eps)</c>, from bfloat16 copies; a BatchNorm in training mode runs in float32.
        /// </summary>
        public static Tensor BatchNorm(BatchNorm2d bn, Tensor x)
        {
            if (!StageExecution.BFloat16 || bn.training || bn.running_mean is null || bn.running_var is null || bn.weight is null || bn.bias is null)
            {
                return bn.call(ToFloat(x));
            }

            using var scope = NewDisposeScope();
            Tensor scale, shift;
            using (no_grad())
            {
                var s = bn.weight / (bn.running_var + bn.eps).sqrt();
                shift = (bn.bias - (bn.running_mean * s)).to(ScalarType.BFloat16).view(1, -1, 1, 1);
                scale = s.to(ScalarType.BFloat16).view(1, -1, 1, 1);
            }

            return ToBFloat16(x).mul(scale).add_(shift).MoveToOuterDisposeScope();
        }

        private static Tensor ToFloat(Tensor x) => x.dtype == ScalarType.BFloat16 ? x.to(ScalarType.Float32) : x;

        private static Tensor ToBFloat16(Tensor x) => x.dtype == ScalarType.BFloat16 ? x : x.to(ScalarType.BFloat16);
    }
}
