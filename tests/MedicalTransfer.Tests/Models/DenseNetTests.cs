using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models
{
    public class DenseNetTests
    {
        internal static JsonElement Parity(string model)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Parity", "backbone_parity.json")));
            return doc.RootElement.GetProperty(model).Clone();
        }

        internal static Tensor Logits(JsonElement fixture)
        {
            var rows = fixture.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
            return torch.tensor(rows.SelectMany(r => r).ToArray()).reshape(rows.Length, rows[0].Length);
        }

        [Theory]
        [InlineData(121, 7_978_856)]
        [InlineData(161, 28_681_000)]
        [InlineData(169, 14_149_480)]
        [InlineData(201, 20_013_928)]
        public void Constructor_ImageNetHead_HasTorchvisionParameterCount(int depth, long expected)
        {
            using var model = new DenseNet(DenseNetArchitecture.ForDepth(depth), numClasses: 1000);
            Assert.Equal(expected, model.parameters().Sum(p => p.numel()));
        }

        [Fact]
        public void ParameterCount_DenseNet121_EqualsTheFixturesTorchvisionCount()
        {
            using var model = new DenseNet(DenseNetArchitecture.ForDepth(121));
            Assert.Equal(Parity("densenet121").GetProperty("parameters_1000_classes").GetInt64(), model.parameters().Sum(p => p.numel()));
        }

        [Fact]
        public void StateDict_Keys_AreTorchvisionKeys()
        {
            var expected = Parity("densenet121").GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
            using var model = new DenseNet(DenseNetArchitecture.ForDepth(121), numClasses: 10);
            var keys = model.state_dict().Keys.ToArray();
            Assert.Equal(expected.Length, keys.Length);
            Assert.Equal(expected.OrderBy(k => k, StringComparer.Ordinal), keys.OrderBy(k => k, StringComparer.Ordinal));
            Assert.Contains("features.denseblock3.denselayer24.norm2.running_var", keys);
            Assert.Contains("features.transition3.conv.weight", keys);
            Assert.Contains("classifier.bias", keys);
        }

        [Fact]
        public void Forward_FormulaWeights_MatchesTorchvisionLogits()
        {
            var fixture = Parity("densenet121");
            var keys = fixture.GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
            using var model = new DenseNet(DenseNetArchitecture.ForDepth(121), numClasses: 10);
            TestSupport.FillWithBackboneFormula(model, keys, fixture.GetProperty("gain").GetDouble());
            model.eval();
            using var scope = NewDisposeScope();
            var logits = model.call(TestSupport.FormulaInput(2, 64));
            var expected = Logits(fixture);
            double error = TestSupport.RelativeError(logits, expected);
            Assert.True(error <= 1e-4, $"relative error {error:E2} exceeds 1e-4");
            Assert.True(expected.abs().max().item<float>() > 1f, "fixture logits must not be trivially small");
        }

        [Fact]
        public void ForwardTo_EachStage_ReturnsThatStagesShape()
        {
            using var model = new DenseNet(DenseNetArchitecture.ForDepth(121), numClasses: 3);
            model.eval();
            using var scope = NewDisposeScope();
            var x = torch.randn(2, 3, 64, 64);
            Assert.Equal(new[] { "stem", "denseblock1", "denseblock2", "denseblock3", "denseblock4", "pooling", "head" }, model.Architecture.StageNames);
            Assert.Equal(new long[] { 2, 64, 16, 16 }, model.ForwardTo(x, "stem").shape);
            Assert.Equal(new long[] { 2, 128, 8, 8 }, model.ForwardTo(x, "denseblock1").shape);
            Assert.Equal(new long[] { 2, 256, 4, 4 }, model.ForwardTo(x, "denseblock2").shape);
            Assert.Equal(new long[] { 2, 512, 2, 2 }, model.ForwardTo(x, "denseblock3").shape);
            Assert.Equal(new long[] { 2, 1024, 2, 2 }, model.ForwardTo(x, "denseblock4").shape);
            Assert.Equal(new long[] { 2, 1024 }, model.ForwardTo(x, "pooling").shape);
            Assert.True(model.call(x).Equals(model.ForwardFrom(model.ForwardTo(x, "denseblock2"), "denseblock2")));
        }

        [Fact]
        public void Architecture_StandardDepths_HaveTorchvisionLayoutsAndRoundTrip()
        {
            var a = DenseNetArchitecture.ForDepth(161);
            Assert.Equal((48, 96), (a.GrowthRate, a.InitialFeatures));
            Assert.Equal(new[] { 6, 12, 36, 24 }, a.BlockDepths);
            Assert.Equal(2208, a.FeatureCount);
            Assert.Equal(1024, DenseNetArchitecture.ForDepth(121).FeatureCount);
            Assert.Equal("densenet:32:64:6,12,24,16", DenseNetArchitecture.ForDepth(121).ToString());
            Assert.Equal(121, DenseNetArchitecture.Custom(32, 64, 6, 12, 24, 16).Depth);
            var custom = DenseNetArchitecture.Custom(4, 8, 1, 2, 1, 1);
            Assert.Equal("DenseNet (growth 4, 1-2-1-1)", custom.Name);
            Assert.Equal(custom, BackboneCatalog.Parse(custom.ToString()));
            Assert.Equal(DenseNetArchitecture.ForDepth(201), BackboneCatalog.Parse("densenet:32:64:6,12,48,32"));
            var ex = Assert.Throws<ArgumentException>(() => DenseNetArchitecture.ForDepth(100));
            Assert.Contains("Supported depths: 121, 161, 169, 201", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Infer_StateDictOfAnotherDepth_RecognisesIt()
        {
            using var model = new DenseNet(DenseNetArchitecture.ForDepth(169), numClasses: 2);
            Assert.Equal(DenseNetArchitecture.ForDepth(169), BackboneCatalog.Infer(model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape)));
        }

        [Fact]
        public void DenseBlock_Forward_ConcatenatesInputAndEveryLayersOutput()
        {
            using var block = new DenseBlock(layers: 3, inChannels: 5, growthRate: 4);
            block.eval();
            using var scope = NewDisposeScope();
            var x = torch.randn(2, 5, 6, 6);
            var y = block.call(x);
            Assert.Equal(new long[] { 2, 17, 6, 6 }, y.shape);
            Assert.True(y.narrow(1, 0, 5).Equals(x), "the block's output starts with its input");
            Assert.Equal(new[] { "denselayer1", "denselayer2", "denselayer3" }, block.named_children().Select(c => c.name));
            var first = block.named_children().First().module as DenseLayer;
            Assert.True(y.narrow(1, 5, 4).allclose(first!.call(x), 1e-6, 1e-6));
        }
    }
}
