using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The 1000 ImageNet-1k class names in the order of the logits of torchvision's ImageNet checkpoints
    /// (<c>tench</c>, <c>goldfish</c>, ... <c>toilet tissue</c>), as torchvision 0.14 lists them
    /// (<c>models/_meta.py</c>). <see cref="TransferBuilder.ForImageNetClasses"/> builds a plain ImageNet classifier
    /// with them, whose 1000-class head takes the checkpoint's own <c>fc</c> weights.
    /// </summary>
    public static class ImageNetClasses
    {
        private static readonly Lazy<IReadOnlyList<string>> Cached = new(Read);

        /// <summary>The names, index 0 to 999.</summary>
        public static IReadOnlyList<string> Names => Cached.Value;

        private static IReadOnlyList<string> Read()
        {
            // Embedded from imagenet_classes.txt (written by make_imagenet_classes.py beside it).
            using var stream = typeof(ImageNetClasses).Assembly.GetManifestResourceStream("MedicalTransfer.Models.imagenet_classes.txt")
                ?? throw new InvalidOperationException("The ImageNet class list is missing from the MedicalTransfer assembly; the build did not embed Models/imagenet_classes.txt.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var names = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToArray();
            if (names.Length != 1000)
            {
                throw new InvalidOperationException($"The embedded ImageNet class list has {names.Length} names; expected 1000.");
            }

            return Array.AsReadOnly(names);
        }
    }
}
