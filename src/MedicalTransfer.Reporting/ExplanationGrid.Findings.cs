using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;

namespace MedicalTransfer.Reporting
{
    /// <summary>The top-k findings grid of a multi-label model (issue 13).</summary>
    public static partial class ExplanationGrid
    {
        /// <summary>
        /// Writes one image's per-finding Grad-CAM panels as a grid (from
        /// <see cref="ClassActivationMap.ExplainTopFindings"/>): each panel is the map of one finding's logit on the ORIGINAL
        /// image, captioned with the finding, its probability and, when <paramref name="thresholds"/> are given, the threshold
        /// and whether the finding is called present; a title names the image and a colour bar says that each panel is
        /// scaled to its own maximum.
        /// </summary>
        /// <param name="imagePath">The original image.</param>
        /// <param name="explanations">Its explanations, one per finding (most probable first, as ExplainTopFindings returns them); one explanation makes a single captioned panel.</param>
        /// <param name="preprocessing">The preprocessing of the model that was explained.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="thresholds">The model's <see cref="TransferModel.FindingThresholds"/>, or <see langword="null"/> to leave decisions out.</param>
        /// <param name="columns">Cells per row (1 to 16).</param>
        /// <param name="tileSize">Width of each picture in pixels (64 to 1024).</param>
        /// <param name="overlay">Colormap and opacity.</param>
        /// <exception cref="ArgumentException">No explanations, a finding explained twice, or explanations of different images (their probabilities differ).</exception>
        public static void SaveTopFindings(string imagePath, IReadOnlyList<Explanation> explanations, Preprocessing preprocessing, string path, FindingThresholds? thresholds = null, int columns = 4, int tileSize = 256, OverlayOptions? overlay = null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(imagePath);
            ArgumentNullException.ThrowIfNull(explanations);
            ArgumentNullException.ThrowIfNull(preprocessing);
            if (explanations.Count == 0)
            {
                throw new ArgumentException("Expected at least one explanation; found none.", nameof(explanations));
            }

            var first = explanations[0] ?? throw new ArgumentNullException(nameof(explanations), "Explanation 0 is null.");
            for (int i = 0; i < explanations.Count; i++)
            {
                var e = explanations[i] ?? throw new ArgumentNullException(nameof(explanations), string.Format(CultureInfo.InvariantCulture, "Explanation {0} is null.", i));
                if (!e.Probabilities.SequenceEqual(first.Probabilities))
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Explanation {0} ({1}) has other probabilities than explanation 0 ({2}): the grid shows the findings of ONE image; pass ExplainTopFindings(model, imagePath) of that image.", i, e.TargetClassName, first.TargetClassName), nameof(explanations));
                }

                if (explanations.Take(i).Any(o => o.TargetClass == e.TargetClass))
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Finding '{0}' is explained twice (explanation {1}); pass one explanation per finding.", e.TargetClassName, i), nameof(explanations));
                }
            }

            var tiles = explanations.Select(e =>
            {
                string probability = string.Format(CultureInfo.InvariantCulture, "p = {0:0.000}", e.TargetProbability);
                if (thresholds is not null)
                {
                    double t = thresholds.For(e.TargetClassName);
                    probability += string.Format(CultureInfo.InvariantCulture, e.TargetProbability >= t ? " \u2265 {0:0.000}: present" : " < {0:0.000}: absent", t);
                }

                var lines = new List<string> { e.TargetClassName, probability };
                if (e.LowResolution.Values.All(v => v == 0))
                {
                    // ReLU removed every channel sum: an all-dark panel would read as "looked nowhere" without this line.
                    lines.Add("map is 0 everywhere at " + e.Layer);
                }

                return new GridTile(HeatmapOverlay.ToPng(imagePath, e.LowResolution, preprocessing, overlay), lines);
            }).ToArray();
            bool ranked = explanations.Count > 1 && explanations.Zip(explanations.Skip(1)).All(p => p.First.TargetProbability >= p.Second.TargetProbability);
            string title = explanations.Count == 1
                ? string.Format(CultureInfo.InvariantCulture, "{0}: Grad-CAM of {1} at {2}", ShortName(imagePath), first.TargetClassName, first.Layer)
                : string.Format(CultureInfo.InvariantCulture, "{0}: {1}{2} of {3} findings, Grad-CAM at {4}", ShortName(imagePath), ranked ? "top " : string.Empty, explanations.Count, first.Probabilities.Count, first.Layer);
            Save(tiles, path, columns, tileSize, title, ((overlay ?? new OverlayOptions()).Colormap, "each map scaled to its own maximum: compare findings by p"));
        }

        /// <summary>The file with up to two parent folders: table datasets name every image alike (CheXpert's <c>view1_frontal.jpg</c>).</summary>
        private static string ShortName(string imagePath)
        {
            var parts = Path.GetFullPath(imagePath).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
            return string.Join("/", parts.Skip(Math.Max(0, parts.Length - 3)));
        }
    }
}
