using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Explainability;
using MedicalTransfer.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Explainability
{
    /// <summary>
    /// Grad-CAM on DenseNet and EfficientNet against a PyTorch reference written from the definition
    /// (Fixtures/Explainability/make_backbone_gradcam_parity.py): the same formula weights and input, tolerance 1e-4 on
    /// maps normalised to [0, 1], at each architecture's default stage, an earlier stage and (EfficientNet) a block.
    /// </summary>
    public sealed class BackboneGradCamTests
    {
        private static JsonElement Fixture(string model)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Explainability", "backbone_gradcam_parity.json")));
            return doc.RootElement.GetProperty(model).Clone();
        }

        private static TransferModel Build(string model)
        {
            var fixture = Fixture(model);
            var builder = model == "densenet" ? TransferBuilder.FromDenseNet(DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2)) : TransferBuilder.FromEfficientNet(0);
            var built = builder.ForClasses("A", "B", "C").OnDevice(CPU).WithSeed(1).Build();
            TestSupport.FillWithBackboneFormula(built, fixture.GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray(), fixture.GetProperty("gain").GetDouble());
            return built;
        }

        [Theory]
        [InlineData("densenet", null, "denseblock4")]
        [InlineData("densenet", "denseblock2", "denseblock2")]
        [InlineData("densenet", "stem", "stem")]
        [InlineData("efficientnet_b0", null, "conv_head")]
        [InlineData("efficientnet_b0", "stage6.1", "stage6.1")]
        [InlineData("efficientnet_b0", "stage3", "stage3")]
        public void Explain_FormulaWeights_MatchesPyTorchReference(string model, string? layer, string expectedLayer)
        {
            using var built = Build(model);
            var reference = Fixture(model).GetProperty("cams").GetProperty(expectedLayer);
            var shape = reference.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var expected = reference.GetProperty("map").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            using var scope = NewDisposeScope();
            var j = torch.arange(2 * 3 * 128 * 128, dtype: ScalarType.Float64);
            var input = (torch.sin(0.013 * j) + 0.5 * torch.cos(0.007 * j)).to(ScalarType.Float32).reshape(2, 3, 128, 128);

            var explanations = new GradCam(layer).Explain(built, input);

            Assert.Equal(reference.GetProperty("target").EnumerateArray().Select(e => e.GetInt32()), explanations.Select(e => e.TargetClass));
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(expectedLayer, explanations[i].Layer);
                Assert.Equal((shape[2], shape[1]), (explanations[i].LowResolution.Width, explanations[i].LowResolution.Height));
                var actual = explanations[i].LowResolution.Values;
                int n = shape[1] * shape[2];
                double error = actual.Select((v, p) => Math.Abs(v - expected[(i * n) + p])).Max();
                Assert.True(error <= 1e-4, $"{model} {expectedLayer} image {i}: max difference {error:E2} from PyTorch's map");
                Assert.True(actual.Max() > 0.99f, "the map is normalised to a maximum of 1");
            }
        }

        [Fact]
        public void Explain_DenseLayerOfADenseBlock_ThrowsSayingTheBlocksAreNoChain()
        {
            using var built = TransferBuilder.FromDenseNet(DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2)).ForClasses("A", "B").OnDevice(CPU).Build();
            using var scope = NewDisposeScope();
            var ex = Assert.Throws<ArgumentException>(() => new GradCam("denseblock3.denselayer1").Explain(built, torch.randn(1, 3, 64, 64)));
            Assert.Contains("do not form a chain", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Explain the stage 'denseblock3' instead", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Explain_ResNetStageOnADenseNet_ThrowsListingItsStages()
        {
            using var built = TransferBuilder.FromDenseNet(DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2)).ForClasses("A", "B").OnDevice(CPU).Build();
            using var scope = NewDisposeScope();
            var ex = Assert.Throws<ArgumentException>(() => new GradCam("layer4").Explain(built, torch.randn(1, 3, 64, 64)));
            Assert.Contains("stem, denseblock1, denseblock2, denseblock3, denseblock4", ex.Message, StringComparison.Ordinal);
        }
    }
}
