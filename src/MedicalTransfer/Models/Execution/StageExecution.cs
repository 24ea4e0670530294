using System;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// How the backbone stage running on this thread computes: whether a convolution followed by an evaluation-mode
    /// BatchNorm may run as one folded convolution, and in which precision. <see cref="BackboneNetwork"/> enters it
    /// around every backbone stage; the blocks read it through <see cref="ConvolutionWithBatchNorm"/>. Thread-static
    /// because a module's forward takes only its input.
    /// </summary>
    internal static class StageExecution
    {
        [ThreadStatic]
        private static bool t_fold;

        [ThreadStatic]
        private static bool t_bfloat16;

        public static bool Fold => t_fold || t_bfloat16;

        public static bool BFloat16 => t_bfloat16;

        public static Scope Enter(bool fold, bool bfloat16) => new(fold, bfloat16);

        /// <summary>Restores the previous state when disposed, so nested network calls (an ensemble) do not leak theirs.</summary>
        public readonly struct Scope : IDisposable
        {
            private readonly bool _fold;
            private readonly bool _bfloat16;

            public Scope(bool fold, bool bfloat16)
            {
                _fold = t_fold;
                _bfloat16 = t_bfloat16;
                t_fold = fold;
                t_bfloat16 = bfloat16;
            }

            public void Dispose()
            {
                t_fold = _fold;
                t_bfloat16 = _bfloat16;
            }
        }
    }

    /// <summary>Channels-last memory layout of 4-d CPU activations (TorchSharp 0.107 has no <c>memory_format</c> argument).</summary>
    internal static class MemoryLayout
    {
        /// <summary>
        /// Whether <paramref name="x"/> [N, C, H, W] is laid out channels-last (strides C*H*W, 1, W*C, C), the layout
        /// oneDNN's channels-last convolutions take and return. Size-1 dimensions may have any stride.
        /// </summary>
        public static bool IsChannelsLast(Tensor x)
        {
            if (x.dim() != 4)
            {
                return false;
            }

            var shape = x.shape;
            var strides = x.stride();
            long c = shape[1], h = shape[2], w = shape[3];
            return (c == 1 || strides[1] == 1)
                && (w == 1 || strides[3] == c)
                && (h == 1 || strides[2] == w * c)
                && (shape[0] == 1 || strides[0] == c * h * w);
        }

        /// <summary>The same values, channels-last: <paramref name="x"/> itself when it already is, a copy otherwise.</summary>
        public static Tensor ToChannelsLast(Tensor x) =>
            IsChannelsLast(x) ? x : x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }
}
