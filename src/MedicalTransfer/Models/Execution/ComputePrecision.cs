namespace MedicalTransfer.Models
{
    /// <summary>
    /// The floating-point type a part of the network computes in. Reduced precision is always an explicit choice
    /// (<c>TrainingOptions.FrozenPrefixPrecision</c>, <c>ImagePredictionOptions.Precision</c>,
    /// <c>PredictionOptions.Precision</c>); weights, checkpoints and logits stay 32-bit floats.
    /// </summary>
    public enum ComputePrecision
    {
        /// <summary>32-bit floats everywhere: the results of the reference implementation (torchvision).</summary>
        Float32 = 0,

        /// <summary>
        /// bfloat16 activations and weights inside the backbone's stages (runtime copies of the folded weights, and
        /// of the weights of layers that do not fold; the model's own parameters stay 32-bit), 32-bit pooling, head
        /// and logits. Fast only on CPUs with native bfloat16 (AVX512-BF16 or AMX, see <see cref="CpuCapabilities"/>):
        /// elsewhere it is emulated and slower than <see cref="Float32"/>, and the SDK logs a warning. Every backbone
        /// takes it: ResNet, DenseNet (whose pre-activation BatchNorms, which cannot fold, run as bfloat16 affine
        /// maps) and EfficientNet.
        /// </summary>
        BFloat16 = 1,
    }
}
