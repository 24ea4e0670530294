using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models
{
    public class ResNetTests
    {
        private static JsonElement Parity(string model)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Parity", "resnet_parity.json")));
            return doc.RootElement.GetProperty(model).Clone();
        }

        [Theory]
        [InlineData(18, 11_689_512)]
        [InlineData(34, 21_797_672)]
        [InlineData(50, 25_557_032)]
        [InlineData(101, 44_549_160)]
        [InlineData(152, 60_192_808)]
        public void Constructor_ImageNetHead_HasTorchvisionParameterCount(int depth, long expected)
        {
            using var model = new ResNet(ResNetArchitecture.ForDepth(depth), numClasses: 1000);
            Assert.Equal(expected, model.parameters().Sum(p => p.numel()));
        }

        [Theory]
        [InlineData(18)]
        [InlineData(34)]
        [InlineData(50)]
        [InlineData(101)]
        [InlineData(152)]
        public void StateDict_Keys_AreTorchvisionKeys(int depth)
        {
            var expected = Parity("resnet" + depth).GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
            using var model = new ResNet(ResNetArchitecture.ForDepth(depth), numClasses: 10);
            var keys = model.state_dict().Keys.ToArray();
            Assert.Equal(expected.Length, keys.Length);
            Assert.Equal(expected.OrderBy(k => k, StringComparer.Ordinal), keys.OrderBy(k => k, StringComparer.Ordinal));
            Assert.Contains("layer2.0.downsample.1.bias", keys);
            Assert.Contains("bn1.running_mean", keys);
        }

        [Theory]
        [InlineData(18)]
        [InlineData(34)]
        [InlineData(50)]
        [InlineData(101)]
        [InlineData(152)]
        public void Forward_SameWeightsAndInput_MatchesTorchvisionLogits(int depth)
        {
            var fixture = Parity("resnet" + depth);
            var keys = fixture.GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
            var expectedRows = fixture.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
            using var model = new ResNet(ResNetArchitecture.ForDepth(depth), numClasses: 10);
            TestSupport.FillWithFormula(model, keys);
            model.eval();
            using var scope = NewDisposeScope();
            var logits = model.call(TestSupport.FormulaInput(2, 64));
            var expected = torch.tensor(expectedRows.SelectMany(r => r).ToArray()).reshape(2, 10);
            double error = TestSupport.RelativeError(logits, expected);
            Assert.True(error <= 1e-4, $"relative error {error:E2} exceeds 1e-4");
            Assert.True(expected.abs().max().item<float>() > 0.1f, "fixture logits must not be trivially small");
        }

        [Fact]
        public void ForwardTo_EachStage_ReturnsThatStagesShape()
        {
            using var model = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 3);
            model.eval();
            using var scope = NewDisposeScope();
            var x = torch.randn(2, 3, 64, 64);
            Assert.Equal(new long[] { 2, 64, 16, 16 }, model.ForwardTo(x, Stages.Stem).shape);
            Assert.Equal(new long[] { 2, 64, 16, 16 }, model.ForwardTo(x, Stages.Layer1).shape);
            Assert.Equal(new long[] { 2, 128, 8, 8 }, model.ForwardTo(x, Stages.Layer2).shape);
            Assert.Equal(new long[] { 2, 256, 4, 4 }, model.ForwardTo(x, Stages.Layer3).shape);
            Assert.Equal(new long[] { 2, 512, 2, 2 }, model.ForwardTo(x, Stages.Layer4).shape);
            Assert.Equal(new long[] { 2, 512 }, model.ForwardTo(x, Stages.Pooling).shape);
            Assert.Equal(new long[] { 2, 3 }, model.ForwardTo(x, Stages.Head).shape);
        }

        [Fact]
        public void ForwardFrom_Layer4Activation_EqualsFullForward()
        {
            using var model = new ResNet(ResNetArchitecture.ForDepth(50), numClasses: 4);
            model.eval();
            using var scope = NewDisposeScope();
            var x = torch.randn(1, 3, 64, 64);
            var full = model.call(x);
            var resumed = model.ForwardFrom(model.ForwardTo(x, Stages.Layer4), Stages.Layer4);
            Assert.True(full.Equals(resumed));
        }

        [Fact]
        public void ForwardTo_UnknownStage_ThrowsListingStages()
        {
            using var model = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 2);
            using var x = torch.zeros(1, 3, 32, 32);
            var ex = Assert.Throws<ArgumentException>(() => model.ForwardTo(x, "layer5"));
            Assert.Contains("stem, layer1, layer2, layer3, layer4, pooling, head", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Constructor_CustomStages_BuildsThreeBlocksInLayer4()
        {
            using var model = new ResNet(ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3), numClasses: 2);
            var keys = model.state_dict().Keys.ToHashSet();
            Assert.Contains("layer4.2.conv2.weight", keys);
            Assert.DoesNotContain("layer4.3.conv1.weight", keys);
            Assert.DoesNotContain("layer4.1.downsample.0.weight", keys);
        }

        [Fact]
        public void BasicBlock_StrideTwo_HasProjectionAndHalvesSize()
        {
            using var block = new BasicBlock(64, 128, stride: 2);
            using var identity = new BasicBlock(64, 64);
            Assert.True(block.HasProjection);
            Assert.False(identity.HasProjection);
            using var scope = NewDisposeScope();
            var x = torch.randn(1, 64, 8, 8);
            Assert.Equal(new long[] { 1, 128, 4, 4 }, block.call(x).shape);
            Assert.Equal(new long[] { 1, 64, 8, 8 }, identity.call(x).shape);
            Assert.Equal(new[] { "conv1.weight", "bn1.weight", "conv2.weight", "bn2.weight", "downsample.0.weight", "downsample.1.weight" }, block.named_parameters().Select(p => p.name).Where(n => n.EndsWith(".weight", StringComparison.Ordinal)).ToArray());
        }

        [Fact]
        public void Bottleneck_ExpandsChannelsFourTimes()
        {
            using var block = new Bottleneck(256, 128, stride: 2);
            Assert.Equal(512, block.OutChannels);
            Assert.True(block.HasProjection);
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 2, 512, 4, 4 }, block.call(torch.randn(2, 256, 8, 8)).shape);
            using var identity = new Bottleneck(256, 64);
            Assert.False(identity.HasProjection);
        }

        [Fact]
        public void BasicBlock_IdentityShortcut_AddsInputBeforeFinalRelu()
        {
            // With every conv weight zero the residual branch is bn(0) = bias = 0, so the block is relu(x).
            using var block = new BasicBlock(4, 4);
            using (torch.no_grad())
            {
                foreach (var p in block.parameters())
                {
                    p.zero_();
                }
            }

            block.eval();
            using var scope = NewDisposeScope();
            var x = torch.randn(1, 4, 5, 5);
            Assert.True(block.call(x).allclose(nn.functional.relu(x)));
        }
    }
}
