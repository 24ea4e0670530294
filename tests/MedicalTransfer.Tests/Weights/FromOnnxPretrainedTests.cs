using System;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>FromPretrained with an ONNX file infers the layout from the graph; download failures name the offline alternatives.</summary>
    public sealed class FromOnnxPretrainedTests
    {
        private readonly ITestOutputHelper _output;

        public FromOnnxPretrainedTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void FromPretrained_FromOnnxSyntheticGraph_BuildsTheGraphsLayoutWithItsWeights()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 2, 1, 1);
            var (bytes, expected, _, _) = SyntheticResNet.Build(architecture, new SyntheticOptions());
            string path = folder.File("basic.onnx");
            File.WriteAllBytes(path, bytes);

            using var model = TransferBuilder.FromPretrained(ResNetWeights.FromOnnx(path)).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();

            Assert.Equal(architecture, model.Architecture);
            Assert.Equal(path, model.WeightsReport!.Source);
            var state = model.state_dict();
            foreach (var (key, values) in expected)
            {
                Assert.Equal(values, state[key].data<float>().ToArray());
            }

            Assert.Contains("ResNet (basic, 1-2-1-1) [basic blocks, stages [1, 2, 1, 1]", model.Summary().ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public void FromPretrained_FromOnnxMlNetResNet18_InfersBasicBlocks2223()
        {
            string path = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

            var builder = TransferBuilder.FromPretrained(ResNetWeights.FromOnnx(path, ResNetWeights.MLNetResNet18.Preprocessing));
            using var model = builder.ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();

            Assert.Equal(ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3), model.Architecture);
            Assert.Contains("weights: " + path, model.Summary().ToString(), StringComparison.Ordinal);
            _output.WriteLine(model.Summary().ToString());
            Assert.Contains("(15.9M parameters", model.Summary().ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public void FromPretrained_FromOnnxMissingFile_ThrowsNamingTheFile()
        {
            using var folder = new TestSupport.TempFolder();
            var ex = Assert.Throws<FileNotFoundException>(() => TransferBuilder.FromPretrained(ResNetWeights.FromOnnx(folder.File("none.onnx"))));
            Assert.Equal("The ONNX model '" + folder.File("none.onnx") + "' does not exist. Check the path.", ex.Message);
        }

        [Fact]
        public void FromPretrained_FromOnnxNotAResNet_ThrowsFormatErrorAndCreatesNoModel()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("cut.onnx");
            File.WriteAllBytes(path, new byte[] { 1, 2, 3, 4, 5 });
            Assert.Throws<WeightsFormatException>(() => TransferBuilder.FromPretrained(ResNetWeights.FromOnnx(path)));
        }

        [Theory]
        [InlineData(404, "Not Found")]
        [InlineData(503, "Service Unavailable")]
        public void Resolve_DownloadFails_MessagePointsAtTheOfflineResNet18AndFromFile(int status, string reason)
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Status(status, reason));

            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNetArchitecture.ForDepth(18), fixture.Options(server, maxRetries: 0), fixture.Logger, CancellationToken.None));

            Assert.Contains("HTTP " + status, ex.Message, StringComparison.Ordinal);
            Assert.EndsWith(WeightsUnavailableException.OfflineAlternatives, ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Resolve_OfflineAndNotCached_MessagePointsAtTheOfflineResNet18AndFromFile()
        {
            var options = new PretrainedWeightsOptions { Offline = true, CacheDirectory = "/nonexistent/cache", EnvironmentReader = _ => null };

            var ex = Assert.Throws<WeightsUnavailableException>(() => ResNetWeights.ImageNetV1.Resolve(ResNetArchitecture.ForDepth(34), options, NullLogger.Instance, CancellationToken.None));

            Assert.EndsWith(
                "Without a network: TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18) builds an ImageNet ResNet-18 (basic blocks, stages [2, 2, 2, 3]) from NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (dotnet add package Microsoft.ML.DnnImageFeaturizer.ResNet18 --version 0.23.1), and ResNetWeights.FromFile(path) loads a checkpoint you already have.",
                ex.Message,
                StringComparison.Ordinal);
        }
    }
}
