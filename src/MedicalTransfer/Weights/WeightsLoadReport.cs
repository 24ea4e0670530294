using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MedicalTransfer.Weights
{
    /// <summary>What happened when weights were loaded into a model.</summary>
    public sealed class WeightsLoadReport
    {
        internal WeightsLoadReport(string source, int loadedCount, IReadOnlyList<string> skippedHeadKeys, IReadOnlyList<string> missingKeys, IReadOnlyList<string> unexpectedKeys)
        {
            Source = source;
            LoadedCount = loadedCount;
            SkippedHeadKeys = skippedHeadKeys;
            MissingKeys = missingKeys;
            UnexpectedKeys = unexpectedKeys;
        }

        /// <summary>Where the weights came from (a file path or a catalogue name).</summary>
        public string Source { get; }

        /// <summary>Number of parameters and buffers copied into the model.</summary>
        public int LoadedCount { get; }

        /// <summary>
        /// Classifier keys of the source (<c>fc.*</c>) that were skipped because the model's head has a
        /// different layout or shape: the normal transfer-learning case. The model's head keeps its fresh
        /// initialisation.
        /// </summary>
        public IReadOnlyList<string> SkippedHeadKeys { get; }

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
