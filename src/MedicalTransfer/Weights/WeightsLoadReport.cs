using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MedicalTransfer.Weights
{
    /// <summary>What happened when weights were loaded into a model.</summary>
    public sealed class WeightsLoadReport
    {
        internal WeightsLoadReport(string source, int loadedCount, IReadOnlyList<string> skippedHeadKeys, IReadOnlyList<string> missingKeys, IReadOnlyList<string> unexpectedKeys, IReadOnlyList<string>? adaptedKeys = null, int renamedLegacyKeys = 0, int zeroedBatchCounters = 0)
        {
            Source = source;
            LoadedCount = loadedCount;
            SkippedHeadKeys = skippedHeadKeys;
            MissingKeys = missingKeys;
            UnexpectedKeys = unexpectedKeys;
            AdaptedKeys = adaptedKeys ?? System.Array.Empty<string>();
            RenamedLegacyKeys = renamedLegacyKeys;
            ZeroedBatchCounters = zeroedBatchCounters;
        }

        /// <summary>Where the weights came from (a file path or a catalogue name).</summary>
        public string Source { get; }

        /// <summary>Number of parameters and buffers copied into the model.</summary>
        public int LoadedCount { get; }

        /// <summary>
        /// Classifier keys of the source (<c>fc.*</c> for a ResNet, <c>classifier.*</c> for DenseNet and EfficientNet) that were skipped because the model's head has a
        /// different layout or shape: the normal transfer-learning case. The model's head keeps its fresh
        /// initialisation.
        /// </summary>
        public IReadOnlyList<string> SkippedHeadKeys { get; }

        /// <summary>
        /// Keys whose tensors were adapted to fit: the first convolution of a model built for gray images
        /// (<see cref="TransferBuilder.WithInputChannels"/>), whose RGB weights were summed over their input channels.
        /// </summary>
        public IReadOnlyList<string> AdaptedKeys { get; }

        /// <summary>
        /// Number of keys the source named as an older torchvision did and that were loaded under today's names (the
        /// published DenseNet checkpoints say <c>denselayer1.norm.1.weight</c> for <c>denselayer1.norm1.weight</c>;
        /// torchvision renames them the same way).
        /// </summary>
        public int RenamedLegacyKeys { get; }

        /// <summary>
        /// Number of BatchNorm <c>num_batches_tracked</c> counters the source lacked and that were set to 0, as PyTorch
        /// does for checkpoints saved before it had them (PyTorch 0.4.1); they do not affect the model's outputs.
        /// </summary>
        public int ZeroedBatchCounters { get; }

        /// <summary>Model keys the source lacked (empty unless loading was non-strict).</summary>
        public IReadOnlyList<string> MissingKeys { get; }

        /// <summary>Source keys the model lacks (empty unless loading was non-strict).</summary>
        public IReadOnlyList<string> UnexpectedKeys { get; }

        /// <summary>A one-paragraph summary.</summary>
        /// <returns>The summary.</returns>
        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"Loaded {LoadedCount} tensors from {Source}");
            if (SkippedHeadKeys.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; skipped the source's head ({string.Join(", ", SkippedHeadKeys)}) because the new head differs");
            }

            if (AdaptedKeys.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; summed the RGB weights of {string.Join(", ", AdaptedKeys)} over the input channels for gray input");
            }

            if (RenamedLegacyKeys > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; read {RenamedLegacyKeys} keys under their current torchvision names");
            }

            if (ZeroedBatchCounters > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; set {ZeroedBatchCounters} BatchNorm batch counters the source lacks to 0");
            }

            if (MissingKeys.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; {MissingKeys.Count} model keys missing from the source");
            }

            if (UnexpectedKeys.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; {UnexpectedKeys.Count} source keys ignored");
            }

            return sb.Append('.').ToString();
        }
    }
}
