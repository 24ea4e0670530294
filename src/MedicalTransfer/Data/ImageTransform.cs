using System.Collections.Generic;
using System.Linq;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// One step of an image pipeline, created from the <see cref="Transforms"/> catalog and combined
    /// with <see cref="Transforms.Compose"/>. Transforms work on float images in [0, 1] (gray images
    /// keep one plane until <see cref="Transforms.Normalize"/> or the loader replicates it to three);
    /// random transforms draw from a stream seeded per sample by (seed, epoch, position), so the same
    /// seed gives the same tensors whatever the number of worker threads.
    /// </summary>
    public abstract class ImageTransform
    {
        private protected ImageTransform() { }

        /// <summary>
        /// Applies the transform. Takes ownership of <paramref name="image"/> (returns it, or
        /// disposes it and returns a new one).
        /// </summary>
        internal abstract FloatImage Apply(FloatImage image, ref SampleRandom random);

        /// <summary>The transforms this one is made of, in order (itself for a single step).</summary>
        internal virtual IEnumerable<ImageTransform> Steps => new[] { this };

        /// <summary>Channels every output has (the normalisation's: 3, or 1 for a gray-input model), or null when the step keeps its input's.</summary>
        internal virtual int? OutputChannels => null;
    }

    /// <summary>Transforms applied one after the other.</summary>
    internal sealed class ComposeTransform : ImageTransform
    {
        private readonly ImageTransform[] steps;

        public ComposeTransform(IEnumerable<ImageTransform> steps)
        {
            this.steps = steps.SelectMany(s => s.Steps).ToArray();
        }

        internal override IEnumerable<ImageTransform> Steps => steps;

        internal override int? OutputChannels => steps.Select(s => s.OutputChannels).LastOrDefault(c => c is not null);

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            for (int i = 0; i < steps.Length; i++)
            {
                if (steps[i] is ResizeTransform resize && i + 1 < steps.Length && steps[i + 1] is CenterCropTransform crop)
                {
                    // Resize then CenterCrop (every evaluation pipeline): one pass over only the pixels the crop keeps.
                    image = resize.ApplyThenCrop(image, crop, ref random);
                    i++;
                }
                else
                {
                    image = steps[i].Apply(image, ref random);
                }
            }

            return image;
        }

        public override string ToString() => "Compose(" + string.Join(", ", steps.Select(s => s.ToString())) + ")";
    }
}
