using System;
using System.Globalization;
using System.IO;

namespace EnsembleComparison
{
    /// <summary>The checked arguments of one run.</summary>
    internal sealed record ComparisonSettings
    {
        public string Output { get; init; } = string.Empty;

        public int SyntheticImages { get; init; }

        public int ImageSize { get; init; }

        public int Epochs { get; init; }

        public string Device { get; init; } = "auto";

        public int Seed { get; init; }

        public static ComparisonSettings From(string? output, int syntheticImages, int imageSize, int epochs, string device, int seed)
        {
            if (syntheticImages < 100)
            {
                throw new ArgumentException($"--synthetic-images must be at least 100 (the test split needs both classes); found {syntheticImages}.");
            }

            if (imageSize < 64)
            {
                throw new ArgumentException($"--image-size must be at least 64 (ResNet's layer4 is 1/32 of it); found {imageSize}.");
            }

            if (epochs < 1)
            {
                throw new ArgumentException($"--epochs must be at least 1; found {epochs}.");
            }

            if (device is not ("auto" or "cpu" or "cuda"))
            {
                throw new ArgumentException($"--device must be cpu or cuda; found '{device}'.");
            }

            if (output is not null && File.Exists(output))
            {
                throw new ArgumentException($"--out: '{Path.GetFullPath(output)}' is a file; expected a folder (it is created if missing).");
            }

            string folder = output ?? Path.Combine("runs", "ensemble-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            return new ComparisonSettings
            {
                Output = Path.GetFullPath(folder),
                SyntheticImages = syntheticImages,
                ImageSize = imageSize,
                Epochs = epochs,
                Device = device,
                Seed = seed,
            };
        }
    }
}
