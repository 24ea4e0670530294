using System;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>The torchvision ImageNet catalogue and how catalogue weights pick an entry per depth.</summary>
    public sealed class CatalogTests
    {
        private static readonly PretrainedWeightsOptions NoNetwork = new() { Offline = true, CacheDirectory = "/nonexistent/cache", EnvironmentReader = _ => null };

        [Fact]
        public void Entries_AreTorchvisionsEightResNetCheckpoints()
        {
            var resnets = WeightsCatalog.Entries.Where(e => e.Architecture is ResNetArchitecture).ToArray();
            var names = resnets.Select(e => e.Version + " " + e.FileName).ToArray();

            Assert.Equal(
                new[]
                {
                    "IMAGENET1K_V1 resnet18-f37072fd.pth", "IMAGENET1K_V1 resnet34-b627a593.pth", "IMAGENET1K_V1 resnet50-0676ba61.pth",
                    "IMAGENET1K_V1 resnet101-63fe2227.pth", "IMAGENET1K_V1 resnet152-394f9c45.pth", "IMAGENET1K_V2 resnet50-11ad3fa6.pth",
                    "IMAGENET1K_V2 resnet101-cd907fc2.pth", "IMAGENET1K_V2 resnet152-f82ba261.pth",
                },
                names);
            Assert.All(resnets, e => Assert.Equal("resnet" + ((ResNetArchitecture)e.Architecture).Depth + "-" + e.Sha256 + ".pth", e.FileName));
            Assert.All(WeightsCatalog.Entries, e => Assert.False(e.HasFullHash)); // torchvision publishes only the prefix
        }

        [Fact]
        public void Entries_PreprocessingIsTorchvisionsPerVersion()
        {
            var resnets = WeightsCatalog.Entries.Where(e => e.Architecture is ResNetArchitecture).ToArray();
            Assert.Equal(8, resnets.Length);
            Assert.All(resnets.Where(e => e.Version == WeightsCatalog.V1), e => Assert.Same(Preprocessing.ImageNet, e.Preprocessing));
            Assert.All(resnets.Where(e => e.Version == WeightsCatalog.V2), e => Assert.Same(Preprocessing.ImageNetV2, e.Preprocessing));
            Assert.Equal((256, 224), (Preprocessing.ImageNet.ResizeSize, Preprocessing.ImageNet.CropSize));
            Assert.Equal((232, 224), (Preprocessing.ImageNetV2.ResizeSize, Preprocessing.ImageNetV2.CropSize));
        }

        [Theory]
        [InlineData(18)]
        [InlineData(34)]
        [InlineData(50)]
        [InlineData(101)]
        [InlineData(152)]
        public void ParameterCount_EqualsTheModelsWithA1000ClassHead(int depth)
        {
            using var model = new ResNet(ResNetArchitecture.ForDepth(depth), 1000);

            long count = model.parameters().Sum(p => p.numel());

            Assert.Equal(depth >= 50 ? 2 : 1, WeightsCatalog.Entries.Count(e => e.Architecture.Equals(model.Architecture)));
            Assert.All(WeightsCatalog.Entries.Where(e => e.Architecture.Equals(model.Architecture)), e => Assert.Equal(e.ParameterCount, count));
        }

        [Theory]
        [InlineData("https://download.pytorch.org/models/")]
        [InlineData("https://download.pytorch.org/models")]
        public void GetUri_JoinsBaseAddressAndFileName(string baseAddress)
        {
            var entry = WeightsCatalog.Find(50, WeightsCatalog.V2)!;

            Assert.Equal("https://download.pytorch.org/models/resnet50-11ad3fa6.pth", entry.GetUri(new Uri(baseAddress)).AbsoluteUri);
        }

        [Theory]
        [InlineData(18, "IMAGENET1K_V1", 256)]
        [InlineData(34, "IMAGENET1K_V1", 256)]
        [InlineData(50, "IMAGENET1K_V2", 232)]
        [InlineData(101, "IMAGENET1K_V2", 232)]
        [InlineData(152, "IMAGENET1K_V2", 232)]
        public void ImageNet_ResolvesToTorchvisionsDefaultPerDepth(int depth, string version, int resize)
        {
            Assert.Equal(version, WeightsCatalog.FindDefault(depth)!.Version);
            Assert.Equal(resize, ResNetWeights.ImageNet.PreprocessingFor(ResNetArchitecture.ForDepth(depth)).ResizeSize);
        }

        [Fact]
        public void ImageNetV2_WithResNet18_ThrowsMismatchNamingTheDepthsAndTheAlternative()
        {
            var ex = Assert.Throws<WeightsMismatchException>(() => ResNetWeights.ImageNetV2.Resolve(ResNetArchitecture.ForDepth(18), NoNetwork, NullLogger.Instance, CancellationToken.None));

            Assert.Equal(
                "The weights 'ImageNet V2 (torchvision IMAGENET1K_V2)' exist for ResNet-50, ResNet-101, ResNet-152; the model is a ResNet-18 (basic:2,2,2,2). Build a model of one of those depths, or use ResNetWeights.ImageNetV1 or ResNetWeights.ImageNet.",
                ex.Message);
        }

        [Fact]
        public void ImageNet_WithCustomLayout_ThrowsMismatch()
        {
            var custom = ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3);

            var ex = Assert.Throws<WeightsMismatchException>(() => ResNetWeights.ImageNet.Resolve(custom, NoNetwork, NullLogger.Instance, CancellationToken.None));

            Assert.Contains("exist for ResNet-18, ResNet-34, ResNet-50, ResNet-101, ResNet-152; the model is a ResNet (basic, 2-2-2-3)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void CatalogEntry_UsedWithAnotherDepth_ThrowsMismatch()
        {
            var weights = ResNetWeights.FromCatalogEntry(WeightsCatalog.Find(50, WeightsCatalog.V1)!);

            var ex = Assert.Throws<WeightsMismatchException>(() => weights.Resolve(ResNetArchitecture.ForDepth(101), NoNetwork, NullLogger.Instance, CancellationToken.None));

            Assert.StartsWith("The weights 'ResNet-50 IMAGENET1K_V1' exist for ResNet-50; the model is a ResNet-101", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ImageNetV1_ForResNet34Offline_NamesTheTorchvisionFileExpected()
        {
            var ex = Assert.Throws<WeightsUnavailableException>(() => ResNetWeights.ImageNetV1.Resolve(ResNetArchitecture.ForDepth(34), NoNetwork, NullLogger.Instance, CancellationToken.None));

            Assert.Contains("expected the file 'resnet34-b627a593.pth' in '/nonexistent/cache'", ex.Message, StringComparison.Ordinal);
            Assert.Contains("https://download.pytorch.org/models/resnet34-b627a593.pth", ex.Message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("f37072f")]
        [InlineData("f37072fz")]
        [InlineData("")]
        public void CatalogEntry_HashNotHex_Throws(string hash)
        {
            Assert.Throws<ArgumentException>(() => new CatalogEntry(18, "X", "x.pth", hash, 1, Preprocessing.ImageNet));
        }

        [Fact]
        public void PublicValues_HaveNamesAndPreprocessing()
        {
            Assert.Same(Preprocessing.ImageNet, ResNetWeights.ImageNet.Preprocessing);
            Assert.Same(Preprocessing.ImageNet, ResNetWeights.ImageNetV1.Preprocessing);
            Assert.Same(Preprocessing.ImageNetV2, ResNetWeights.ImageNetV2.Preprocessing);
            Assert.Equal("ImageNet V1 (torchvision IMAGENET1K_V1)", ResNetWeights.ImageNetV1.ToString());
            Assert.Null(ResNetWeights.ImageNet.Architecture);
        }
    }
}
