using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MedicalTransfer.Data
{
    /// <summary>A file left out under <see cref="BadImagePolicy.Skip"/>, and why.</summary>
    /// <param name="Path">The file.</param>
    /// <param name="Reason">What was wrong with it.</param>
    public sealed record SkippedImage(string Path, string Reason);

    /// <summary>
    /// The files a <see cref="DataLoader"/> could not use, so that results can say what they were
    /// computed on. Each file is listed once, however many epochs met it.
    /// </summary>
    public sealed class DataQualityReport
    {
        private readonly ConcurrentDictionary<int, SkippedImage> skipped = new();

        /// <summary>Number of files skipped.</summary>
        public int SkippedCount => skipped.Count;

        /// <summary>The skipped files and reasons, in dataset order.</summary>
        public IReadOnlyList<SkippedImage> Skipped => skipped.OrderBy(p => p.Key).Select(p => p.Value).ToArray();

        internal bool IsSkipped(int index) => skipped.ContainsKey(index);

        internal bool Add(int index, SkippedImage image) => skipped.TryAdd(index, image);

        /// <inheritdoc />
        public override string ToString() => SkippedCount == 0
            ? "no images skipped"
            : string.Format(CultureInfo.InvariantCulture, "{0} images skipped: {1}", SkippedCount, string.Join("; ", Skipped.Select(s => s.Path + " (" + s.Reason + ")")));
    }
}
