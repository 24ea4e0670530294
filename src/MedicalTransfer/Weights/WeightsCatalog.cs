using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;

namespace MedicalTransfer.Weights
{
    /// <summary>One published checkpoint: a torchvision ResNet state dict for one depth and training recipe.</summary>
    internal sealed class CatalogEntry
    {
        public CatalogEntry(int depth, string version, string fileName, string sha256, long parameterCount, Preprocessing preprocessing)
        {
            if (sha256.Length < 8 || sha256.Length > 64 || !sha256.All(Uri.IsHexDigit))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A catalogue hash must be 8 to 64 hex digits; found '{0}' for {1}.", sha256, fileName), nameof(sha256));
            }

            Depth = depth;
            Version = version;
            FileName = fileName;
            Sha256 = sha256.ToLowerInvariant();
            ParameterCount = parameterCount;
            Preprocessing = preprocessing;
        }

        /// <summary>18, 34, 50, 101 or 152.</summary>
        public int Depth { get; }

        /// <summary>torchvision's name for the recipe: IMAGENET1K_V1 or IMAGENET1K_V2.</summary>
        public string Version { get; }

        /// <summary>File name on the server and in the cache (torchvision's, so PyTorch's cache is shared).</summary>
        public string FileName { get; }

        /// <summary>Expected SHA-256 in lower-case hex: all 64 digits, or the prefix published in the file name.</summary>
        public string Sha256 { get; }

        /// <summary>Whether <see cref="Sha256"/> is the full hash rather than a prefix.</summary>
        public bool HasFullHash => Sha256.Length == 64;

        /// <summary>Parameters of the model with its 1000-class ImageNet head.</summary>
        public long ParameterCount { get; }

        public Preprocessing Preprocessing { get; }

        public string DisplayName => string.Format(CultureInfo.InvariantCulture, "ResNet-{0} {1}", Depth, Version);

        public Uri GetUri(Uri baseAddress)
        {
            string text = baseAddress.AbsoluteUri;
            return new Uri(new Uri(text.EndsWith('/') ? text : text + "/"), FileName);
        }

        public override string ToString() => DisplayName + " (" + FileName + ")";
    }

    /// <summary>
    /// torchvision's ImageNet ResNet checkpoints. File names, hash prefixes, parameter counts and
    /// preprocessing are torchvision's (<c>torchvision/models/resnet.py</c>). torchvision publishes
    /// only the first 8 hex digits of each file's SHA-256 (in the file name, checked by
    /// <c>torch.hub</c> after download), so those prefixes are what is verified here.
    /// </summary>
    internal static class WeightsCatalog
    {
        public const string V1 = "IMAGENET1K_V1";
        public const string V2 = "IMAGENET1K_V2";

        public static IReadOnlyList<CatalogEntry> Entries { get; } = Array.AsReadOnly(new[]
        {
            new CatalogEntry(18, V1, "resnet18-f37072fd.pth", "f37072fd", 11_689_512, Preprocessing.ImageNet),
            new CatalogEntry(34, V1, "resnet34-b627a593.pth", "b627a593", 21_797_672, Preprocessing.ImageNet),
            new CatalogEntry(50, V1, "resnet50-0676ba61.pth", "0676ba61", 25_557_032, Preprocessing.ImageNet),
            new CatalogEntry(101, V1, "resnet101-63fe2227.pth", "63fe2227", 44_549_160, Preprocessing.ImageNet),
            new CatalogEntry(152, V1, "resnet152-394f9c45.pth", "394f9c45", 60_192_808, Preprocessing.ImageNet),
            new CatalogEntry(50, V2, "resnet50-11ad3fa6.pth", "11ad3fa6", 25_557_032, Preprocessing.ImageNetV2),
            new CatalogEntry(101, V2, "resnet101-cd907fc2.pth", "cd907fc2", 44_549_160, Preprocessing.ImageNetV2),
            new CatalogEntry(152, V2, "resnet152-f82ba261.pth", "f82ba261", 60_192_808, Preprocessing.ImageNetV2),
        });

        public static IReadOnlyList<int> Depths { get; } = Array.AsReadOnly(new[] { 18, 34, 50, 101, 152 });

        public static CatalogEntry? Find(int depth, string version) =>
            Entries.FirstOrDefault(e => e.Depth == depth && e.Version == version);

        /// <summary>torchvision's DEFAULT: V2 where it exists (50, 101, 152), else V1 (18, 34).</summary>
        public static CatalogEntry? FindDefault(int depth) => Find(depth, V2) ?? Find(depth, V1);
    }
}
