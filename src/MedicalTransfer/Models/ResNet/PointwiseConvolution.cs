using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// Runs a strided 1x1 convolution (no bias, padding, dilation or groups: a ResNet projection shortcut) as the
    /// matrix product it is, on the CPU, whenever autograd will need the gradient of its input; otherwise, and for
    /// every stride-1 convolution, as the convolution module itself.
    /// </summary>
    /// <remarks>
    /// Why: the oneDNN 3.7.1 inside TorchSharp 0.107's libtorch divides by zero (SIGFPE: the process dies, no
    /// exception) while choosing blocking for the input gradient of strided 1x1 convolutions on x86-64 CPUs: its
    /// <c>brgemm</c> backward-data implementation for non-unit strides (<c>est_eff_1x1</c>; fixed upstream in 2026,
    /// see also pytorch/pytorch#177227). With <c>ONEDNN_VERBOSE=all</c> the last primitive created before the crash
    /// is ResNet-50's layer4 projection, <c>mb16_ic1024oc2048_ih14oh7kh1sh2</c>; stride-1 1x1 convolutions take
    /// oneDNN's <c>jit_1x1</c> kernels for their input gradient and are left alone (running them as matrix products
    /// too made ResNet-50 training about 1.5x slower). The product <c>W[out, in] x X[N, in, H*W]</c>, after
    /// keeping every second row and column as the strided convolution does, is the same arithmetic through BLAS,
    /// with the same parameters and state-dict keys. Forward hooks registered on the convolution module itself do
    /// not run on this path. Inference, frozen stages and CUDA keep the convolution kernels.
    /// </remarks>
    internal static class PointwiseConvolution
    {
        /// <summary>
        /// Whether autograd will need <paramref name="input"/>'s gradient on the CPU: the only case <see cref="Apply"/>
        /// can take the matrix product. A cheap test, for callers that would otherwise look the convolution up.
        /// </summary>
        public static bool MayNeedProduct(Tensor input) =>
            input.device_type == DeviceType.CPU && input.requires_grad && is_grad_enabled();

        public static Tensor Apply(Conv2d conv, Tensor input)
        {
            if (!MayNeedProduct(input) || !IsPlainPointwise(conv))
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
            && conv.stride is { Length: 2 } s && s[0] == s[1] && s[0] > 1
            && conv.padding is { Length: 2 } p && p[0] == 0 && p[1] == 0
            && conv.dilation is { Length: 2 } d && d[0] == 1 && d[1] == 1;
    }
}
