using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MedicalTransfer.Data
{
    /// <summary>Seeded, stratified, group-aware assignment of images to splits.</summary>
    internal static class Splitter
    {
        public static DatasetSplits Split(ImageDataset data, SplitOptions options)
        {
            int[] assignment = Assign(data, options, options.ValidationFraction, options.TestFraction);
            ImageDataset train = Subset(data, assignment, 0);
            ImageDataset validation = Subset(data, assignment, 1);
            var test = new TestSet(Subset(data, assignment, 2));
            var notes = new List<string>
            {
                string.Format(CultureInfo.InvariantCulture, "Split {0} images with seed {1}: validation {2:P0}, test {3:P0}, stratified by class{4}.", data.Count, options.Seed, options.ValidationFraction, options.TestFraction, options.GroupPattern is null ? string.Empty : ", grouped by /" + options.GroupPattern + "/"),
            };
            return new DatasetSplits(train, validation, test, new SplitReport(data.Classes, train.Statistics, validation.Statistics, test.Statistics, false, notes));
        }

        /// <summary>
        /// Returns, per sample, 0 (train), 1 (validation) or 2 (test). Groups are shuffled per class
        /// (a group's class is its most frequent label) and dealt to test, then validation, until
        /// each reaches its share of the class's images; the rest train.
        /// </summary>
        public static int[] Assign(ImageDataset data, SplitOptions options, double validationFraction, double testFraction)
        {
            var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            for (int i = 0; i < data.Count; i++)
            {
                string key = options.GroupOf(data.Samples[i]);
                if (!groups.TryGetValue(key, out List<int>? members))
                {
                    groups[key] = members = new List<int>();
                }

                members.Add(i);
            }

            (int[] strata, string[] strataNames) = Strata(data);
            var byClass = new List<(string Key, List<int> Members)>[strataNames.Length];
            for (int c = 0; c < byClass.Length; c++)
            {
                byClass[c] = new List<(string, List<int>)>();
            }

            foreach (KeyValuePair<string, List<int>> group in groups.OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                int label = group.Value.GroupBy(i => strata[i]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
                byClass[label].Add((group.Key, group.Value));
            }

            var assignment = new int[data.Count];
            for (int c = 0; c < byClass.Length; c++)
            {
                List<(string Key, List<int> Members)> classGroups = byClass[c];
                int images = classGroups.Sum(g => g.Members.Count);
                int[] order = Enumerable.Range(0, classGroups.Count).ToArray();
                SampleRandom random = SampleRandom.For(options.Seed, c, 0x5917);
                random.Shuffle(order);

                int wantTest = Share(images, testFraction);
                int wantValidation = Share(images, validationFraction);
                int inTest = 0, inValidation = 0, inTrain = 0;
                foreach (int g in order)
                {
                    List<int> members = classGroups[g].Members;
                    int split;
                    if (inTest < wantTest)
                    {
                        split = 2;
                        inTest += members.Count;
                    }
                    else if (inValidation < wantValidation)
                    {
                        split = 1;
                        inValidation += members.Count;
                    }
                    else
                    {
                        split = 0;
                        inTrain += members.Count;
                    }

                    foreach (int i in members)
                    {
                        assignment[i] = split;
                    }
                }

                if (!data.IsMultiLabel && (inTrain == 0 || inValidation == 0 || (testFraction > 0 && inTest == 0)))
                {
                    throw new ImageDataException(data.Root, string.Format(
                        CultureInfo.InvariantCulture,
                        "Class '{0}' in '{1}' has {2} images in {3} groups, too few to give train, validation{4} at least one group each (got train {5}, validation {6}, test {7}). Add images of this class, or lower the split fractions.",
                        strataNames[c], data.Root, images, classGroups.Count, testFraction > 0 ? " and test" : string.Empty, inTrain, inValidation, inTest));
                }
            }

            if (data.IsMultiLabel && (!assignment.Contains(0) || !assignment.Contains(1) || (testFraction > 0 && !assignment.Contains(2))))
            {
                // Strata of a multi-label dataset may be tiny (a rare finding); only the splits as a whole must be non-empty.
                throw new ImageDataException(data.Root, string.Format(CultureInfo.InvariantCulture, "'{0}' has {1} images in {2} groups, too few to give train, validation{3} at least one group each. Add images, or lower the split fractions.", data.Root, data.Count, groups.Count, testFraction > 0 ? " and test" : string.Empty));
            }

            return assignment;
        }

        public static ImageDataset Subset(ImageDataset data, int[] assignment, int split)
        {
            var samples = new List<ImageSample>();
            for (int i = 0; i < assignment.Length; i++)
            {
                if (assignment[i] == split)
                {
                    samples.Add(data.Samples[i]);
                }
            }

            return data.WithSamples(samples);
        }

        /// <summary>
        /// The stratum of each sample: its class; in a multi-label dataset, its rarest positive
        /// finding (images with none positive form one more stratum, "no positive finding").
        /// </summary>
        private static (int[] Strata, string[] Names) Strata(ImageDataset data)
        {
            if (!data.IsMultiLabel)
            {
                return (data.Samples.Select(s => s.Label).ToArray(), data.Classes.ToArray());
            }

            int findings = data.Findings.Count;
            IReadOnlyList<int> positives = data.Statistics.Counts;
            var strata = new int[data.Count];
            for (int i = 0; i < strata.Length; i++)
            {
                int best = findings;
                IReadOnlyList<FindingState> states = data.Samples[i].Findings!;
                for (int f = 0; f < findings; f++)
                {
                    if (states[f] == FindingState.Positive && (best == findings || positives[f] < positives[best]))
                    {
                        best = f;
                    }
                }

                strata[i] = best;
            }

            return (strata, data.Findings.Concat(new[] { "(no positive finding)" }).ToArray());
        }

        private static int Share(int images, double fraction) =>
            fraction <= 0 ? 0 : Math.Max(1, (int)Math.Round(images * fraction, MidpointRounding.AwayFromZero));
    }
}
