using System;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models
{
    public class EfficientNetTests
    {
        [Theory]
        [InlineData(0, 5_288_548)]
        [InlineData(1, 7_794_184)]
        [InlineData(2, 9_109_994)]
        [InlineData(3, 12_233_232)]
        [InlineData(4, 19_341_616)]
        [InlineData(5, 30_389_784)]
        [InlineData(6, 43_040_704)]
        [InlineData(7, 66_347_960)]
        public void Constructor_ImageNetHead_HasTorchvisionParameterCount(int width, long expected)
        {
            using var model = new EfficientNet(EfficientNetArchitecture.ForWidth(width), numClasses: 1000);
            Assert.Equal(expected, model.parameters().Sum(p => p.numel()));
        }

        [Fact]
        public void StateDict_Keys_AreTorchvisionKeys()
        {
            var fixture = DenseNetTests.Parity("efficientnet_b0");
            var expected = fixture.GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
            using var model = new EfficientNet(EfficientNetArchitecture.ForWidth(0), numClasses: 10);
            var keys = model.state_dict().Keys.ToArray();
            Assert.Equal(expected.Length, keys.Length);
            Assert.Equal(expected.OrderBy(k => k, StringComparer.Ordinal), keys.OrderBy(k => k, StringComparer.Ordinal));
            Assert.Contains("features.2.1.block.2.fc1.bias", keys);
            Assert.Contains("features.8.1.running_mean", keys);
            Assert.Contains("classifier.1.weight", keys);
            Assert.Equal(5_288_548, fixture.GetProperty("parameters_1000_classes").GetInt64());
        }

        [Fact]
        public void Forward_FormulaWeights_MatchesTorchvisionLogits()
        {
            var fixture = DenseNetTests.Parity("efficientnet_b0");
            var keys = fixture.GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
            using var model = new EfficientNet(EfficientNetArchitecture.ForWidth(0), numClasses: 10);
            TestSupport.FillWithBackboneFormula(model, keys, fixture.GetProperty("gain").GetDouble());
            model.eval();
            using var scope = NewDisposeScope();
            var logits = model.call(TestSupport.FormulaInput(2, 64));
            var expected = DenseNetTests.Logits(fixture);
            double error = TestSupport.RelativeError(logits, expected);
            Assert.True(error <= 1e-4, $"relative error {error:E2} exceeds 1e-4");
            Assert.True(expected.abs().max().item<float>() > 1f, "fixture logits must not be trivially small");
            Assert.True((expected[0] - expected[1]).abs().max().item<float>() > 0.1f * expected.abs().max().item<float>(), "the fixture's logits must depend on the input");
        }

        [Fact]
        public void ForwardTo_EachStage_ReturnsThatStagesShape()
        {
            using var model = new EfficientNet(EfficientNetArchitecture.ForWidth(0), numClasses: 3);
            model.eval();
            using var scope = NewDisposeScope();
            var x = torch.randn(2, 3, 64, 64);
            Assert.Equal(new[] { "stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "conv_head", "pooling", "head" }, model.Architecture.StageNames);
            long[][] shapes =
            {
                new long[] { 2, 32, 32, 32 }, new long[] { 2, 16, 32, 32 }, new long[] { 2, 24, 16, 16 }, new long[] { 2, 40, 8, 8 },
                new long[] { 2, 80, 4, 4 }, new long[] { 2, 112, 4, 4 }, new long[] { 2, 192, 2, 2 }, new long[] { 2, 320, 2, 2 }, new long[] { 2, 1280, 2, 2 },
            };
            for (int s = 0; s < shapes.Length; s++)
            {
                Assert.Equal(shapes[s], model.ForwardTo(x, model.Architecture.StageNames[s]).shape);
            }

            Assert.True(model.call(x).Equals(model.ForwardFrom(model.ForwardTo(x, "stage4"), "stage4")));
        }

        [Fact]
        public void Architecture_Widths_ScaleAsTorchvision()
        {
            var b0 = EfficientNetArchitecture.ForWidth(0);
            Assert.Equal(1280, b0.FeatureCount);
            Assert.Equal(new[] { 1, 2, 2, 3, 3, 4, 1 }, b0.StageSettings.Select(s => s.Layers));
            var b7 = EfficientNetArchitecture.ForWidth(7);
            Assert.Equal(2560, b7.FeatureCount);
            Assert.Equal(64, b7.StemChannels);
            Assert.Equal(0.5, b7.Dropout);
            Assert.Equal((600, 600), (b7.Preprocessing.ResizeSize, b7.Preprocessing.CropSize));
            Assert.Equal((256, 224), (b0.Preprocessing.ResizeSize, b0.Preprocessing.CropSize));
            Assert.Equal("efficientnet:b3", EfficientNetArchitecture.ForWidth(3).ToString());
            Assert.Equal(EfficientNetArchitecture.ForWidth(3), BackboneCatalog.Parse("efficientnet:b3"));
            Assert.Equal(80, EfficientNetArchitecture.MakeDivisible(80 * 1.0, 8));
            Assert.Equal(352, EfficientNetArchitecture.MakeDivisible(320 * 1.1, 8));
            var ex = Assert.Throws<ArgumentException>(() => EfficientNetArchitecture.ForWidth(8));
            Assert.Contains("Supported widths: 0, 1, 2, 3, 4, 5, 6, 7", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Infer_StateDict_RecognisesTheWidth()
        {
            using var model = new EfficientNet(EfficientNetArchitecture.ForWidth(1), numClasses: 2);
            Assert.Equal(EfficientNetArchitecture.ForWidth(1), BackboneCatalog.Infer(model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape)));
        }

        [Fact]
        public void StochasticDepth_TrainingDropsWholeSamplesAndRescalesTheRest_EvaluationIsIdentity()
        {
            using var drop = new StochasticDepth(0.5);
            using var scope = NewDisposeScope();
            var x = torch.ones(400, 3, 2, 2);
            drop.eval();
            Assert.Same(x, drop.call(x));
            drop.train();
            torch.manual_seed(3);
            var y = drop.call(x);
            var perSample = y.reshape(400, -1);
            var kept = perSample.select(1, 0);
            Assert.True((perSample == kept.unsqueeze(1)).all().item<bool>(), "each sample is dropped or kept whole");
            Assert.True(((kept == 0) | (kept == 2)).all().item<bool>(), "kept samples are scaled by 1 / (1 - p)");
            long dropped = (kept == 0).sum().item<long>();
            Assert.InRange(dropped, 150, 250);
        }

        [Fact]
        public void MBConv_Residual_OnlyWhenStrideOneAndSameChannels()
        {
            using var residual = new MBConv(16, 16, 6, 3, 1, 0.1);
            using var strided = new MBConv(16, 24, 6, 3, 2, 0.1);
            using var plain = new MBConv(32, 16, 1, 3, 1, 0);
            Assert.True(residual.HasResidual);
            Assert.False(strided.HasResidual);
            Assert.Equal(new[] { "block.0.0.weight", "block.1.0.weight", "block.2.fc1.weight", "block.3.0.weight" }, residual.named_parameters().Select(p => p.name).Where(n => n.EndsWith("0.weight", StringComparison.Ordinal) || n.EndsWith("fc1.weight", StringComparison.Ordinal)).ToArray());
            Assert.DoesNotContain(plain.named_parameters(), p => p.name.StartsWith("block.3", StringComparison.Ordinal));
            using var scope = NewDisposeScope();
            strided.eval();
            Assert.Equal(new long[] { 1, 24, 4, 4 }, strided.call(torch.randn(1, 16, 8, 8)).shape);
        }
    }
}
