using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Explainability
{
    /// <summary>
    /// A sanity score for explanations: if a map points at what the model uses, blurring the pixels
    /// it marks most important should lower the probability of the explained class more than
    /// blurring unimportant ones. Use it to compare layers or methods on the same images.
    /// </summary>
    public static class Faithfulness
    {
        /// <summary>
        /// For each image, the target class's probability minus its probability after the top
        /// <paramref name="fraction"/> of the pixels of <see cref="Explanation.Upsampled"/> are replaced
        /// by a strongly blurred copy of the image (31-pixel box blur). Higher = more faithful.
        /// </summary>
        /// <param name="model">The model that was explained.</param>
        /// <param name="images">The preprocessed images [N, C, H, W] that were explained.</param>
        /// <param name="explanations">Their explanations, in order.</param>
        /// <param name="fraction">Share of pixels to blur, in (0, 1); the default is 0.2.</param>
        /// <returns>One probability drop per image (negative when blurring raised the probability).</returns>
        public static IReadOnlyList<double> ProbabilityDrop(TransferModel model, Tensor images, IReadOnlyList<Explanation> explanations, double fraction = 0.2)
        {
            Guard.NotNull(model);
            Guard.NotNull(images);
            Guard.NotNull(explanations);
            Guard.InRange(fraction, 1e-6, 1 - 1e-6);
            if (images.dim() != 4 || images.shape[0] != explanations.Count)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected images [N, C, H, W] with one explanation each; found [{0}] and {1} explanations.", string.Join(", ", images.shape), explanations.Count), nameof(explanations));
            }

            int n = explanations.Count, h = (int)images.shape[2], w = (int)images.shape[3];
            var mask = new float[n * h * w];
            for (int i = 0; i < n; i++)
            {
                var map = explanations[i].Upsampled;
                if (map.Width != w || map.Height != h)
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Explanation {0} is {1}x{2} but the images are {3}x{4}: pass the same images that were explained.", i, map.Width, map.Height, w, h), nameof(explanations));
                }

                var sorted = map.Raw.ToArray();
                Array.Sort(sorted);
                float cut = sorted[Math.Min(sorted.Length - 1, (int)Math.Floor((1 - fraction) * sorted.Length))];
                for (int p = 0; p < h * w; p++)
                {
                    mask[(i * h * w) + p] = map.Raw[p] >= cut && map.Raw[p] > 0 ? 1f : 0f;
                }
            }

            using var use = model.Use.Acquire("Faithfulness.ProbabilityDrop");
            bool wasTraining = model.training;
            model.eval();
            try
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var x = images.to(model.Device);
                var m = tensor(mask, new long[] { n, 1, h, w }).to(model.Device);
                var blurred = nn.functional.avg_pool2d(x, new long[] { 31, 31 }, new long[] { 1, 1 }, new long[] { 15, 15 }, count_include_pad: false);
                var perturbed = (x * (1 - m)) + (blurred * m);
                var before = nn.functional.softmax(model.call(x).to(ScalarType.Float64), 1).cpu().data<double>().ToArray();
                var after = nn.functional.softmax(model.call(perturbed).to(ScalarType.Float64), 1).cpu().data<double>().ToArray();
                int k = model.ClassNames.Count;
                return Enumerable.Range(0, n).Select(i => before[(i * k) + explanations[i].TargetClass] - after[(i * k) + explanations[i].TargetClass]).ToArray();
            }
            finally
            {
                model.train(wasTraining);
            }
        }
    }
}
