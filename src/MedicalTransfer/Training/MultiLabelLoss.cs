using static TorchSharp.torch;

namespace MedicalTransfer.Training
{
    /// <summary>The multi-label criterion: binary cross-entropy with logits over the observed labels only.</summary>
    internal static class MultiLabelLoss
    {
        /// <summary>
        /// <c>sum(mask * BCEWithLogits(logits, smooth(targets), pos_weight)) / max(sum(mask), 1)</c>: the mean over observed labels
        /// (PyTorch's <c>binary_cross_entropy_with_logits(..., reduction='none')</c> masked), so a batch's masked labels neither
        /// add loss nor dilute it. Label smoothing ε moves targets to <c>t (1 - ε) + ε / 2</c>.
        /// </summary>
        public static Tensor Masked(Tensor logits, Tensor targets, Tensor mask, Tensor? positiveWeights, double labelSmoothing)
        {
            var y = labelSmoothing > 0 ? (targets * (1 - labelSmoothing)) + (labelSmoothing / 2) : targets;
            var perLabel = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weights: positiveWeights, reduction: nn.Reduction.None);
            return (perLabel * mask).sum() / mask.sum().clamp_min(1);
        }
    }
}
