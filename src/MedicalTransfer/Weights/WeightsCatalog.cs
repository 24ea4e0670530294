using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Models;

namespace MedicalTransfer.Weights
{
    /// <summary>One published checkpoint: a torchvision state dict for one architecture and training recipe.</summary>
    internal sealed class CatalogEntry
    {
        /// <summary>A ResNet checkpoint of a standard depth.</summary>
        public CatalogEntry(int depth, string version, string fileName, string sha256, long parameterCount, Preprocessing preprocessing)
            : this(ResNetArchitecture.ForDepth(depth), version, fileName, sha256, parameterCount, preprocessing)
        {
        }

        public CatalogEntry(BackboneArchitecture architecture, string version, string fileName, string sha256, long parameterCount, Preprocessing preprocessing)
        {
            if (sha256.Length < 8 || sha256.Length > 64 || !sha256.All(Uri.IsHexDigit))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A catalogue hash must be 8 to 64 hex digits; found '{0}' for {1}.", sha256, fileName), nameof(sha256));
            }

            Architecture = architecture;
            Version = version;
            FileName = fileName;
            Sha256 = sha256.ToLowerInvariant();
            ParameterCount = parameterCount;
            Preprocessing = preprocessing;
        }

        /// <summary>The architecture the checkpoint is made for (ResNet-18, DenseNet-121, EfficientNet-B0...).</summary>
        public BackboneArchitecture Architecture { get; }

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

        public string DisplayName => Architecture.Name + " " + Version;

        public Uri GetUri(Uri baseAddress)
        {
            string text = baseAddress.AbsoluteUri;
            return new Uri(new Uri(text.EndsWith('/') ? text : text + "/"), FileName);
        }

        public override string ToString() => DisplayName + " (" + FileName + ")";
    }

    /// <summary>
    /// torchvision's ImageNet checkpoints. File names, hash prefixes, parameter counts and preprocessing are
    /// torchvision 0.14's (<c>torchvision/models/resnet.py</c>, <c>densenet.py</c>, <c>efficientnet.py</c>).
    /// torchvision publishes only the first 8 hex digits of each file's SHA-256 (in the file name, checked by
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
            DenseNet(121, "densenet121-a639ec97.pth", 7_978_856),
            DenseNet(161, "densenet161-8d451a50.pth", 28_681_000),
            DenseNet(169, "densenet169-b2777c0a.pth", 14_149_480),
            DenseNet(201, "densenet201-c1103571.pth", 20_013_928),
            EfficientNet(0, V1, "efficientnet_b0_rwightman-3dd342df.pth", 5_288_548),
            EfficientNet(1, V1, "efficientnet_b1_rwightman-533bc792.pth", 7_794_184),
            EfficientNet(1, V2, "efficientnet_b1-c27df63c.pth", 7_794_184, new Preprocessing { ResizeSize = 255, CropSize = 240 }),
            EfficientNet(2, V1, "efficientnet_b2_rwightman-bcdf34b7.pth", 9_109_994),
            EfficientNet(3, V1, "efficientnet_b3_rwightman-cf984f9c.pth", 12_233_232),
            EfficientNet(4, V1, "efficientnet_b4_rwightman-7eb33cd5.pth", 19_341_616),
            EfficientNet(5, V1, "efficientnet_b5_lukemelas-b6417697.pth", 30_389_784),
            EfficientNet(6, V1, "efficientnet_b6_lukemelas-c76e70fd.pth", 43_040_704),
            EfficientNet(7, V1, "efficientnet_b7_lukemelas-dcc49843.pth", 66_347_960),
        });

        // torchvision publishes the first 8 hex digits of the SHA-256 as the last part of the file name.
        private static CatalogEntry DenseNet(int depth, string fileName, long parameters) =>
            new(DenseNetArchitecture.ForDepth(depth), V1, fileName, HashOf(fileName), parameters, Preprocessing.ImageNet);

        private static CatalogEntry EfficientNet(int width, string version, string fileName, long parameters, Preprocessing? preprocessing = null)
        {
            var architecture = EfficientNetArchitecture.ForWidth(width);
            return new(architecture, version, fileName, HashOf(fileName), parameters, preprocessing ?? architecture.Preprocessing);
        }

        private static string HashOf(string fileName) => fileName[(fileName.LastIndexOf('-') + 1)..fileName.LastIndexOf('.')];

        /// <summary>The ResNet checkpoint of a standard depth and recipe.</summary>
        public static CatalogEntry? Find(int depth, string version) => Find(ResNetArchitecture.ForDepth(depth), version);

        public static CatalogEntry? Find(BackboneArchitecture architecture, string version) =>
            Entries.FirstOrDefault(e => e.Architecture.Equals(architecture) && e.Version == version);

        /// <summary>torchvision's DEFAULT for a ResNet depth: V2 where it exists (50, 101, 152), else V1 (18, 34).</summary>
        public static CatalogEntry? FindDefault(int depth) => FindDefault(ResNetArchitecture.ForDepth(depth));

        /// <summary>torchvision's DEFAULT: V2 where it exists, else V1.</summary>
        public static CatalogEntry? FindDefault(BackboneArchitecture architecture) => Find(architecture, V2) ?? Find(architecture, V1);
    }
}
