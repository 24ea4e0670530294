using System;
using System.IO;
using System.Linq;
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
    /// <summary>Weights from files, and a downloaded checkpoint applied to a real ResNet.</summary>
    public sealed class PretrainedWeightsTests
    {
        [Fact]
        public void FromFile_SafetensorsOfAResNet18_ReproducesTheSourceModel()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.ForDepth(18);
            using var scope = NewDisposeScope();
            torch.manual_seed(3);
            using var source = new ResNet(architecture, 10);
            source.eval();
            StateDictFile.WriteSafetensors(folder.File("r18.safetensors"), source.state_dict().ToList(), null);
            var weights = ResNetWeights.FromFile(folder.File("r18.safetensors"));

            using var resolved = weights.Resolve(architecture, new PretrainedWeightsOptions(), NullLogger.Instance, CancellationToken.None);
            using var target = new ResNet(architecture, 10);
            WeightLoader.Apply(target, resolved.StateDict, resolved.Source);
            target.eval();

            var input = TestSupport.FormulaInput(2, 64);
            using (no_grad())
            {
                Assert.Equal(0.0, (source.forward(input) - target.forward(input)).abs().max().item<float>(), 6);
            }

            Assert.Equal(folder.File("r18.safetensors"), resolved.Source);
            Assert.Same(Preprocessing.ImageNet, resolved.Preprocessing);
            Assert.Equal(folder.File("r18.safetensors"), weights.Name);
        }

        [Fact]
        public void FromFile_GivenPreprocessing_IsCarried()
        {
            var prep = new Preprocessing { ResizeSize = 512, CropSize = 448 };

            var weights = ResNetWeights.FromFile("/data/chest.pth", prep);

            Assert.Same(prep, weights.Preprocessing);
            Assert.Same(prep, weights.PreprocessingFor(ResNetArchitecture.ForDepth(50)));
        }

        [Fact]
        public void FromFile_Missing_ThrowsFileNotFoundNamingThePath()
        {
            var weights = ResNetWeights.FromFile("/nonexistent/weights.pth");

            var ex = Assert.Throws<FileNotFoundException>(() => weights.Resolve(ResNetArchitecture.ForDepth(18), new PretrainedWeightsOptions(), NullLogger.Instance, CancellationToken.None));

            Assert.Equal("The weights file '/nonexistent/weights.pth' given to ResNetWeights.FromFile does not exist. Check the path.", ex.Message);
        }

        [Theory]
        [InlineData("")]
        [InlineData("  ")]
        public void FromFileAndFromOnnx_EmptyPath_ThrowArgumentException(string path)
        {
            Assert.Throws<ArgumentException>(() => ResNetWeights.FromFile(path));
            Assert.Throws<ArgumentException>(() => ResNetWeights.FromOnnx(path));
        }

        [Fact]
        public void FromFile_PreprocessingInvalid_ThrowsArgumentException()
        {
            Assert.Throws<ArgumentException>(() => ResNetWeights.FromFile("/data/a.pth", new Preprocessing { ResizeSize = 100, CropSize = 224 }));
        }

        [Fact]
        public void Resolve_InvalidOptions_ThrowsBeforeAnyWork()
        {
            var weights = ResNetWeights.FromFile("/nonexistent/weights.pth");

            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => weights.Resolve(ResNetArchitecture.ForDepth(18), new PretrainedWeightsOptions { MaxRetries = 99 }, NullLogger.Instance, CancellationToken.None));

            Assert.Equal("MaxRetries", ex.ParamName);
        }

        [Fact]
        public void Resolve_DownloadedResNet18Checkpoint_LoadsIntoTheModel()
        {
            // A whole ResNet-18 state dict served over loopback as a catalogue checkpoint would be.
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.ForDepth(18);
            using var scope = NewDisposeScope();
            torch.manual_seed(5);
            using var source = new ResNet(architecture);
            source.eval();
            StateDictFile.WriteSafetensors(folder.File("r18.safetensors"), source.state_dict().ToList(), null);
            byte[] bytes = File.ReadAllBytes(folder.File("r18.safetensors"));
            string sha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant();
            var entry = new CatalogEntry(18, "TEST", "resnet18-" + sha.Substring(0, 8) + ".pth", sha.Substring(0, 8), 11_689_512, Preprocessing.ImageNet);
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(bytes));
            var options = new PretrainedWeightsOptions { CacheDirectory = folder.File("cache"), BaseAddress = server.BaseAddress, EnvironmentReader = _ => null };

            using var resolved = ResNetWeights.FromCatalogEntry(entry).Resolve(architecture, options, NullLogger.Instance, CancellationToken.None);
            using var target = new ResNet(architecture);
            var report = WeightLoader.Apply(target, resolved.StateDict, resolved.Source);
            target.eval();

            Assert.Equal(source.state_dict().Count, report.LoadedCount);
            Assert.Equal(entry.ParameterCount, resolved.StateDict.Where(kv => kv.Value.is_floating_point() && !kv.Key.Contains("running_", StringComparison.Ordinal)).Sum(kv => kv.Value.numel()));
            var input = TestSupport.FormulaInput(1, 64);
            using (no_grad())
            {
                Assert.Equal(0.0, (source.forward(input) - target.forward(input)).abs().max().item<float>(), 6);
            }
        }
    }
}
