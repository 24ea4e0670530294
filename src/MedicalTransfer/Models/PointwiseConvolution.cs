using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// Runs a 1x1 convolution (no bias, padding, dilation or groups) as the matrix product it is, on the CPU,
    /// whenever autograd will need the gradient of its input; otherwise as the convolution module itself.
    /// </summary>
    /// <remarks>
    /// Why: the oneDNN inside TorchSharp 0.107's libtorch divides by zero (SIGFPE: the process dies, no exception)
    /// while choosing a kernel for the input gradient of some 1x1 convolutions on x86-64 CPUs (its brgemm
    /// backward-data heuristic; fixed upstream in oneDNN in 2026, see also pytorch/pytorch#177227). Every
    /// ResNet-50/101/152 step that trained through layer4 died that way on our CI machines. The product
    /// <c>W[out, in] x X[N, in, H*W]</c> is the same arithmetic through BLAS instead, with the same parameters
    /// and state-dict keys; a stride-2 projection first keeps every second row and column, as the strided
    /// convolution does. Forward hooks registered on the convolution module itself do not run on this path.
    /// Inference, frozen stages and CUDA keep the convolution kernels.
    /// </remarks>
    internal static class PointwiseConvolution
    {
        public static Tensor Apply(Conv2d conv, Tensor input)
        {
            if (input.device_type != DeviceType.CPU || !input.requires_grad || !is_grad_enabled() || !IsPlainPointwise(conv))
            {
                return conv.call(input);
            }

            using var scope = NewDisposeScope();
            long stride = conv.stride![0];
            var x = stride == 1 ? input : input.slice(2, 0, input.shape[2], stride).slice(3, 0, input.shape[3], stride);
            var weight = conv.weight!;
            var y = matmul(weight.flatten(1), x.flatten(2));
            return y.view(x.shape[0], weight.shape[0], x.shape[2], x.shape[3]).MoveToOuterDisposeScope();
        }

        private static bool IsPlainPointwise(Conv2d conv) =>
            conv.bias is null
            && conv.weight is { } w && w.shape[2] == 1 && w.shape[3] == 1
            && conv.groups == 1
            && conv.stride is { Length: 2 } s && s[0] == s[1]
            && conv.padding is { Length: 2 } p && p[0] == 0 && p[1] == 0
            && conv.dilation is { Length: 2 } d && d[0] == 1 && d[1] == 1;
    }
}
