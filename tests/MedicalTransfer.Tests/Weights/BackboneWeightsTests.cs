using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>The DenseNet and EfficientNet catalogue entries, and torchvision-style checkpoints of them served over loopback HTTP.</summary>
    public sealed class BackboneWeightsTests
    {
        private static readonly PretrainedWeightsOptions NoNetwork = new() { Offline = true, CacheDirectory = "/nonexistent/cache", EnvironmentReader = _ => null };

        [Fact]
        public void Entries_AreTorchvisionsDenseNetAndEfficientNetCheckpoints()
        {
            var names = WeightsCatalog.Entries.Where(e => e.Architecture is not ResNetArchitecture).Select(e => e.Architecture.Name + " " + e.Version + " " + e.FileName).ToArray();
            Assert.Equal(
                new[]
                {
                    "DenseNet-121 IMAGENET1K_V1 densenet121-a639ec97.pth", "DenseNet-161 IMAGENET1K_V1 densenet161-8d451a50.pth",
                    "DenseNet-169 IMAGENET1K_V1 densenet169-b2777c0a.pth", "DenseNet-201 IMAGENET1K_V1 densenet201-c1103571.pth",
                    "EfficientNet-B0 IMAGENET1K_V1 efficientnet_b0_rwightman-3dd342df.pth", "EfficientNet-B1 IMAGENET1K_V1 efficientnet_b1_rwightman-533bc792.pth",
                    "EfficientNet-B1 IMAGENET1K_V2 efficientnet_b1-c27df63c.pth", "EfficientNet-B2 IMAGENET1K_V1 efficientnet_b2_rwightman-bcdf34b7.pth",
                    "EfficientNet-B3 IMAGENET1K_V1 efficientnet_b3_rwightman-cf984f9c.pth", "EfficientNet-B4 IMAGENET1K_V1 efficientnet_b4_rwightman-7eb33cd5.pth",
                    "EfficientNet-B5 IMAGENET1K_V1 efficientnet_b5_lukemelas-b6417697.pth", "EfficientNet-B6 IMAGENET1K_V1 efficientnet_b6_lukemelas-c76e70fd.pth",
                    "EfficientNet-B7 IMAGENET1K_V1 efficientnet_b7_lukemelas-dcc49843.pth",
                },
                names);
            // torch.hub's check: the 8 hex digits after the last '-' are the start of the file's SHA-256.
            Assert.All(WeightsCatalog.Entries, e => Assert.Matches(new Regex("-" + e.Sha256 + @"\.pth$"), e.FileName));
            Assert.All(WeightsCatalog.Entries, e => Assert.Equal(8, e.Sha256.Length));
        }

        [Theory]
        [InlineData(121)]
        [InlineData(169)]
        public void DenseNetEntries_ParameterCountEqualsTheModelsWithA1000ClassHead(int depth)
        {
            using var model = new DenseNet(DenseNetArchitecture.ForDepth(depth));
            var entry = WeightsCatalog.Find(model.Architecture, WeightsCatalog.V1)!;
            Assert.Equal(entry.ParameterCount, model.parameters().Sum(p => p.numel()));
            Assert.Same(Preprocessing.ImageNet, entry.Preprocessing);
        }

        [Theory]
        [InlineData(0, 256, 224)]
        [InlineData(1, 255, 240)]
        [InlineData(2, 288, 288)]
        [InlineData(7, 600, 600)]
        public void EfficientNetImageNet_IsTorchvisionsDefaultWithItsSizes(int width, int resize, int crop)
        {
            var architecture = EfficientNetArchitecture.ForWidth(width);
            var preprocessing = EfficientNetWeights.ImageNet.PreprocessingFor(architecture);
            Assert.Equal((resize, crop), (preprocessing.ResizeSize, preprocessing.CropSize));
            Assert.Equal(Preprocessing.ImageNet.Mean, preprocessing.Mean);
            Assert.Equal(width == 1 ? WeightsCatalog.V2 : WeightsCatalog.V1, WeightsCatalog.FindDefault(architecture)!.Version);
            Assert.Equal(256, EfficientNetWeights.ImageNetV1.PreprocessingFor(EfficientNetArchitecture.ForWidth(1)).ResizeSize);
        }

        [Fact]
        public void DenseNetImageNetOffline_NamesTheTorchvisionFileExpected()
        {
            var ex = Assert.Throws<WeightsUnavailableException>(() => DenseNetWeights.ImageNet.Resolve(DenseNetArchitecture.ForDepth(121), NoNetwork, NullLogger.Instance, CancellationToken.None));
            Assert.Contains("expected the file 'densenet121-a639ec97.pth' in '/nonexistent/cache'", ex.Message, StringComparison.Ordinal);
            Assert.Contains("https://download.pytorch.org/models/densenet121-a639ec97.pth", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ImageNetWeightsOfAnotherFamily_ThrowMismatchNamingWhatTheyExistFor()
        {
            var ex = Assert.Throws<WeightsMismatchException>(() => ResNetWeights.ImageNet.Resolve(DenseNetArchitecture.ForDepth(121), NoNetwork, NullLogger.Instance, CancellationToken.None));
            Assert.Contains("exist for ResNet-18, ResNet-34, ResNet-50, ResNet-101, ResNet-152; the model is a DenseNet-121", ex.Message, StringComparison.Ordinal);
            ex = Assert.Throws<WeightsMismatchException>(() => EfficientNetWeights.ImageNet.Resolve(ResNetArchitecture.ForDepth(18), NoNetwork, NullLogger.Instance, CancellationToken.None));
            Assert.Contains("exist for EfficientNet-B0, EfficientNet-B1", ex.Message, StringComparison.Ordinal);
            Assert.Contains("one of those widths", ex.Message, StringComparison.Ordinal);
        }

        /// <summary>
        /// A DenseNet-121 checkpoint as torchvision publishes it (dense-layer keys named as before PyTorch 0.4,
        /// no BatchNorm batch counters), served over loopback as its catalogue entry: downloaded, verified, cached,
        /// renamed and loaded into a model that then computes what the source computes.
        /// </summary>
        [Fact]
        public void WithPretrained_DownloadedDenseNet121InTorchvisionsPublishedLayout_LoadsIntoTheModel()
        {
            using var folder = new TestSupport.TempFolder();
            var legacy = new Regex(@"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$");
            using var source = new DenseNet(DenseNetArchitecture.ForDepth(121));
            source.eval();
            var published = source.state_dict()
                .Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                .Select(kv => KeyValuePair.Create(legacy.Replace(kv.Key, "$1.$2.$3"), kv.Value))
                .ToList();
            Assert.Contains(published, kv => kv.Key == "features.denseblock1.denselayer1.norm.1.weight");
            StateDictFile.WriteSafetensors(folder.File("d121.safetensors"), published, null);
            byte[] bytes = File.ReadAllBytes(folder.File("d121.safetensors"));
            string sha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant();
            var entry = new CatalogEntry(DenseNetArchitecture.ForDepth(121), "TEST", "densenet121-" + sha[..8] + ".pth", sha[..8], 7_978_856, Preprocessing.ImageNet);
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(bytes));
            var options = new PretrainedWeightsOptions { CacheDirectory = folder.File("cache"), BaseAddress = server.BaseAddress, EnvironmentReader = _ => null };

            using var model = TransferBuilder.FromDenseNet(121).WithPretrained(ResNetWeights.FromCatalogEntry(entry), options)
                .ForClasses(Enumerable.Range(0, 1000).Select(i => "c" + i).ToArray()).OnDevice(CPU).Build();

            Assert.Equal(new[] { entry.FileName }, Directory.GetFiles(folder.File("cache")).Select(Path.GetFileName));
            var report = model.WeightsReport!;
            // 58 dense layers, each with norm1 and norm2 (4 tensors each) and conv1, conv2 under pre-0.4 names.
            Assert.Equal(58 * 10, report.RenamedLegacyKeys);
            // One counter per BatchNorm: norm0, two per dense layer, three transitions, norm5.
            Assert.Equal(1 + (2 * 58) + 3 + 1, report.ZeroedBatchCounters);
            Assert.Empty(report.SkippedHeadKeys);
            model.eval();
            using var scope = NewDisposeScope();
            var input = TestSupport.FormulaInput(1, 64);
            Assert.Equal(0.0, (source.call(input) - model.call(input)).abs().max().item<float>(), 5);
        }

        [Fact]
        public void WithWeights_DenseNetFileAsTorchvisionPublishedIt_LegacyFormatOldKeysNoCounters_MatchesTorchvisionsLogits()
        {
            // Fixtures/Parity/make_densenet_2017_fixture.py: torch.save's pre-1.6 format with PyTorch 0.3's _rebuild_tensor,
            // 'denselayer1.norm.1.weight' keys and no num_batches_tracked, as torchvision's 2017 DenseNet checkpoints are.
            var fixture = Models.DenseNetTests.Parity("densenet_tiny");
            using var model = TransferBuilder.FromDenseNet(DenseNetArchitecture.Custom(4, 8, 1, 1, 1, 1))
                .WithPretrained(DenseNetWeights.FromFile(TestSupport.FixturePath("Parity", "densenet_tiny_2017.pth")))
                .ForClasses("A", "B", "C").OnDevice(CPU).Build();
            Assert.Equal(4 * 10, model.WeightsReport!.RenamedLegacyKeys);
            Assert.Equal(1 + (2 * 4) + 3 + 1, model.WeightsReport.ZeroedBatchCounters);
            Assert.Empty(model.WeightsReport.SkippedHeadKeys);
            model.eval();
            using var scope = NewDisposeScope();
            double error = TestSupport.RelativeError(model.call(TestSupport.FormulaInput(2, 64)), Models.DenseNetTests.Logits(fixture));
            Assert.True(error <= 1e-5, $"relative error {error:E2} from torchvision's logits");
        }

        [Fact]
        public void WithWeights_TorchvisionDenseNetFileWithPre04KeyNames_LoadsAndMatchesTorchvisionsLogits()
        {
            var fixture = Models.DenseNetTests.Parity("densenet_tiny");
            using var model = TransferBuilder.FromDenseNet(DenseNetArchitecture.Custom(4, 8, 1, 1, 1, 1))
                .WithWeights(TestSupport.FixturePath("Parity", "densenet_tiny_legacy.pth"))
                .ForClasses("A", "B", "C").OnDevice(CPU).Build();
            Assert.Equal(4 * 10, model.WeightsReport!.RenamedLegacyKeys);
            Assert.Equal(0, model.WeightsReport.ZeroedBatchCounters);
            model.eval();
            using var scope = NewDisposeScope();
            double error = TestSupport.RelativeError(model.call(TestSupport.FormulaInput(2, 64)), Models.DenseNetTests.Logits(fixture));
            Assert.True(error <= 1e-5, $"relative error {error:E2} from torchvision's logits");
        }
    }
}
