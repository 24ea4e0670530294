using System;
using System.Globalization;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;

namespace MedicalTransfer.Prediction
{
    /// <summary>How <see cref="ImageClassifierExtensions"/> and <see cref="TransferModelPredictionExtensions"/> classify images.</summary>
    public sealed record ImagePredictionOptions
    {
        /// <summary>Test-time augmentation: the probabilities of the views are averaged, as in evaluation.</summary>
        /// <value>The default is <see cref="TestTimeAugmentation.None"/>.</value>
        public TestTimeAugmentation Augmentation { get; init; } = TestTimeAugmentation.None;

        /// <summary>Whether the classifier's <see cref="IImageClassifier.DecisionThreshold"/> (chosen on validation) decides the predicted class.</summary>
        /// <value>The default is <see langword="true"/>; without a threshold, or when <see langword="false"/>, the most probable class is predicted.</value>
        public bool ApplyDecisionThreshold { get; init; } = true;

        /// <summary>Images run through the classifier at once (folder prediction).</summary>
        /// <value>The default is 16.</value>
        public int BatchSize { get; init; } = 16;

        /// <summary>Threads that decode and preprocess the next batches while the classifier runs (folder prediction).</summary>
        /// <value>The default is the number of processors, at most 4.</value>
        public int Workers { get; init; } = Math.Min(Environment.ProcessorCount, 4);

        /// <summary>How many prepared batches may wait for the classifier; memory is bounded by this many batches.</summary>
        /// <value>The default is 2.</value>
        public int PrefetchBatches { get; init; } = 2;

        /// <summary>
        /// Decoding limits and the bad-file policy of folder prediction: under <see cref="BadImagePolicy.Skip"/> an
        /// unreadable file gives a result with its <see cref="ImagePrediction.Error"/> and the run goes on; under
        /// <see cref="BadImagePolicy.Throw"/> it stops the run with an <see cref="ImageDataException"/>.
        /// </summary>
        /// <value>The default is 64 megapixels and <see cref="BadImagePolicy.Skip"/>.</value>
        public ImageLoadOptions Decoding { get; init; } = new() { BadImages = BadImagePolicy.Skip };

        /// <summary>Receives progress after every batch of a folder prediction.</summary>
        /// <value>The default is <see langword="null"/>: no progress reports.</value>
        public IProgress<PredictionProgress>? Progress { get; init; }

        /// <summary>
        /// Precision of the backbone's stages: <see cref="Models.ComputePrecision.BFloat16"/> is faster on CPUs with
        /// AVX512-BF16 or AMX, emulated and slower elsewhere (a warning is traced), and changes probabilities slightly
        /// (docs/training.md). Every backbone (ResNet, DenseNet, EfficientNet) takes it; only a
        /// <see cref="TransferModel"/>'s own classifier does (an ONNX classifier computes in its own precision).
        /// </summary>
        /// <value>The default is <see cref="Models.ComputePrecision.Float32"/>.</value>
        public Models.ComputePrecision Precision { get; init; } = Models.ComputePrecision.Float32;

        internal ImagePredictionOptions Validate()
        {
            Check(BatchSize is >= 1 and <= 4096, nameof(BatchSize), BatchSize, "from 1 to 4096");
            Check(Workers is >= 1 and <= 256, nameof(Workers), Workers, "from 1 to 256");
            Check(PrefetchBatches is >= 1 and <= 64, nameof(PrefetchBatches), PrefetchBatches, "from 1 to 64");
            new PredictionOptions { Augmentation = Augmentation }.Validate();
            (Decoding ?? throw new ArgumentNullException(nameof(Decoding))).Validate();
            return this;
        }

        private static void Check(bool ok, string name, object value, string expected)
        {
            if (!ok)
            {
                throw new ArgumentOutOfRangeException(name, value, string.Format(CultureInfo.InvariantCulture, "ImagePredictionOptions.{0} must be {1}; found {2}.", name, expected, value));
            }
        }
    }

    /// <summary>Where a folder prediction stands.</summary>
    /// <param name="Completed">Images done so far (classified or failed).</param>
    /// <param name="Failed">Images that could not be classified.</param>
    /// <param name="Total">Images in the run.</param>
    /// <param name="Elapsed">Time since the run started.</param>
    public readonly record struct PredictionProgress(int Completed, int Failed, int Total, TimeSpan Elapsed)
    {
        /// <summary>Throughput so far.</summary>
        public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? Completed / Elapsed.TotalSeconds : 0;

        /// <summary>Estimated time to finish at the throughput so far, or <see langword="null"/> before the first image.</summary>
        public TimeSpan? Remaining => Completed > 0 ? TimeSpan.FromSeconds((Total - Completed) / ImagesPerSecond) : null;
    }
}
