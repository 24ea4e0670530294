using System;
using MedicalTransfer.Data;

namespace MedicalTransfer.Evaluation
{
    /// <summary>Test-time augmentation: extra views of each image whose probabilities are averaged.</summary>
    [Flags]
    public enum TestTimeAugmentation
    {
        /// <summary>One view: the model's evaluation preprocessing (resize, center crop).</summary>
        None = 0,

        /// <summary>Adds the left-right mirror of every view.</summary>
        HorizontalFlip = 1,

        /// <summary>
        /// Five crops of the model's crop size instead of one: the center and the four corners of
        /// the central square of the resized image (torchvision's <c>FiveCrop</c> after
        /// <c>Resize(ResizeSize)</c> and <c>CenterCrop(ResizeSize)</c>).
        /// </summary>
        FiveCrop = 2,
    }

    /// <summary>How a model is run over a dataset to get <see cref="Predictions"/>.</summary>
    public sealed record PredictionOptions
    {
        /// <summary>
        /// Batch size, workers, device and decoding of the loader; sampling is always sequential
        /// and no image is dropped.
        /// </summary>
        /// <value>The default is <see langword="null"/>: <see cref="LoaderOptions"/>'s defaults.</value>
        public LoaderOptions? Loader { get; init; }

        /// <summary>Test-time augmentation; flip and five-crop combine into ten views.</summary>
        /// <value>The default is <see cref="TestTimeAugmentation.None"/>.</value>
        public TestTimeAugmentation Augmentation { get; init; } = TestTimeAugmentation.None;

        /// <summary>
        /// Precision of the backbone's stages while evaluating: <see cref="Models.ComputePrecision.BFloat16"/> is faster
        /// on CPUs with AVX512-BF16 or AMX, emulated and slower elsewhere (a warning is traced), and changes results
        /// slightly (docs/training.md). Every backbone (ResNet, DenseNet, EfficientNet) takes it.
        /// </summary>
        /// <value>The default is <see cref="Models.ComputePrecision.Float32"/>.</value>
        public Models.ComputePrecision Precision { get; init; } = Models.ComputePrecision.Float32;

        internal PredictionOptions Validate()
        {
            if ((Augmentation & ~(TestTimeAugmentation.HorizontalFlip | TestTimeAugmentation.FiveCrop)) != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(Augmentation), Augmentation, "PredictionOptions.Augmentation must combine None, HorizontalFlip and FiveCrop.");
            }

            return this;
        }
    }
}
