using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// A convolution followed by its BatchNorm (<c>bn(conv(x))</c>), run as one convolution with bias when the
    /// BatchNorm is in evaluation mode, so an affine map: <c>W' = W * s</c>, <c>b' = beta - mean * s</c> (plus
    /// <c>bias * s</c>), <c>s = gamma / sqrt(var + eps)</c>. Folding is a runtime view: the folded weights are
    /// computed from the current parameters and running statistics on every call (one pass over the weights, small
    /// against a batch's convolutions), so nothing is cached that a load, an unfreeze or a training step could leave
    /// stale, and the state dict keeps torchvision's keys and values.
    /// </summary>
    internal static class ConvolutionWithBatchNorm
    {
        /// <summary>Runs <c>bn(conv(x))</c>, folded where <see cref="StageExecution"/> allows it and the result is the same function.</summary>
        public static Tensor Run(Conv2d conv, BatchNorm2d bn, Tensor x)
        {
            if (!CanFold(conv, bn))
            {
                // The plain path, with the strided 1x1 workaround where autograd needs the input's gradient.
                return bn.call(PointwiseConvolution.Apply(conv, ToFloat(x)));
            }

            using var scope = NewDisposeScope();
            Tensor weight, bias;
            using (no_grad())
            {
                var scale = bn.weight! / (bn.running_var! + bn.eps).sqrt();
                weight = conv.weight! * scale.view(-1, 1, 1, 1);
                bias = bn.bias! - bn.running_mean! * scale;
                if (conv.bias is { } convBias)
                {
                    bias = bias + convBias * scale;
                }
            }

            if (StageExecution.BFloat16)
            {
                weight = weight.to(ScalarType.BFloat16);
                bias = bias.to(ScalarType.BFloat16);
                x = x.dtype == ScalarType.BFloat16 ? x : x.to(ScalarType.BFloat16);
            }
            else
            {
                x = ToFloat(x);
            }

            return Convolve(conv, x, weight, bias).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Folding gives the same function and the same input gradient, but no parameter gradients: only when the
        /// BatchNorm uses its running statistics and autograd needs none of the two modules' parameters.
        /// </summary>
        private static bool CanFold(Conv2d conv, BatchNorm2d bn)
        {
            if (!StageExecution.Fold || bn.training || conv.padding is null || conv.padding_mode != PaddingModes.Zeros || bn.running_mean is null || bn.running_var is null || bn.weight is null || bn.bias is null)
            {
                return false;
            }

            return !is_grad_enabled()
                || !(conv.weight!.requires_grad || (conv.bias?.requires_grad ?? false) || bn.weight.requires_grad || bn.bias.requires_grad);
        }

        // A stage entered in bfloat16 that cannot fold (a BatchNorm in training mode) computes in float32.
        private static Tensor ToFloat(Tensor x) => x.dtype == ScalarType.BFloat16 ? x.to(ScalarType.Float32) : x;

        private static Tensor Convolve(Conv2d conv, Tensor x, Tensor weight, Tensor bias)
        {
            // A strided 1x1 convolution whose input gradient autograd needs (Grad-CAM from a frozen stage) takes the
            // matrix product, as PointwiseConvolution explains: oneDNN's backward-data kernel for it kills the process.
            if (weight.shape[2] == 1 && weight.shape[3] == 1 && conv.groups == 1 && conv.stride![0] > 1
                && conv.padding is { } p && p[0] == 0 && p[1] == 0 && PointwiseConvolution.MayNeedProduct(x))
            {
                long stride = conv.stride[0];
                var sampled = x.slice(2, 0, x.shape[2], stride).slice(3, 0, x.shape[3], conv.stride[1]);
                var y = matmul(weight.flatten(1), sampled.flatten(2)).view(x.shape[0], weight.shape[0], sampled.shape[2], sampled.shape[3]);
                return y + bias.view(1, -1, 1, 1);
            }

            return nn.functional.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups);
        }
    }
}
