using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests
{
    public class TransferBuilderTests
    {
        [Fact]
        public void Build_NoClasses_ThrowsSayingToCallForClasses()
        {
            var ex = Assert.Throws<InvalidOperationException>(() => TransferBuilder.FromResNet(18).OnDevice(torch.CPU).Build());
            Assert.Contains("No classes were given: call ForClasses", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Build_SeveralProblems_ReportsAllInOneMessage()
        {
            var builder = TransferBuilder.FromResNet(18)
                .WithHead(Head.Linear())
                .WithHead(Head.Mlp(512))
                .Freeze(Layers.Only("layer1.7"))
                .WithWeights("/nonexistent/resnet18.pth");
            var ex = Assert.Throws<InvalidOperationException>(() => builder.Build());
            Assert.Contains("Two heads were given (linear and mlp:512:0.5:0.3:bn)", ex.Message, StringComparison.Ordinal);
            Assert.Contains("No classes were given", ex.Message, StringComparison.Ordinal);
            Assert.Contains("'layer1.7' does not exist in ResNet-18: layer1 has 2 blocks (layer1.0 to layer1.1)", ex.Message, StringComparison.Ordinal);
            Assert.Contains("/nonexistent/resnet18.pth' does not exist", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void FromResNet_UnsupportedDepth_ThrowsImmediately()
        {
            var ex = Assert.Throws<ArgumentException>(() => TransferBuilder.FromResNet(42));
            Assert.Contains("Supported depths: 18, 34, 50, 101, 152", ex.Message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData(new[] { "ONLY" }, "at least two classes")]
        [InlineData(new[] { "A", "A" }, "'A' appears 2 times")]
        [InlineData(new[] { "A", " " }, "index 1 is empty")]
        public void ForClasses_BadNames_ThrowsImmediately(string[] names, string expected)
        {
            var ex = Assert.Throws<ArgumentException>(() => TransferBuilder.FromResNet(18).ForClasses(names));
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Build_ArticleModel_HasArticleHeadKeysAndDeclaredState()
        {
            using var model = TransferBuilder.FromResNet(50)
                .Freeze(Layers.UpTo(2))
                .WithHead(Head.Mlp(512))
                .ForClasses("NORMAL", "PNEUMONIA")
                .OnDevice(torch.CPU)
                .Build();
            var keys = model.state_dict().Keys.Where(k => k.StartsWith("fc.", StringComparison.Ordinal)).ToArray();
            Assert.Equal(new[] { "fc.1.weight", "fc.1.bias", "fc.3.weight", "fc.3.bias", "fc.5.weight", "fc.5.bias", "fc.3.running_mean", "fc.3.running_var", "fc.3.num_batches_tracked" }.OrderBy(k => k, StringComparer.Ordinal), keys.OrderBy(k => k, StringComparer.Ordinal));
            Assert.Equal(new long[] { 512, 2048 }, model.state_dict()["fc.1.weight"].shape);
            Assert.Equal(new long[] { 2, 512 }, model.state_dict()["fc.5.weight"].shape);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, model.ClassNames);
            Assert.Equal(ResNetArchitecture.ForDepth(50), model.Architecture);
            Assert.Equal(Layers.UpTo(2).For(model.Architecture), model.FreezeSpec);
            Assert.Equal("Layers.UpTo(2) [stem, layer1, layer2]", model.FreezeSpec.ToString());
            Assert.Equal(MedicalTransfer.Data.Preprocessing.ImageNet, model.Preprocessing);
            Assert.Equal(DeviceType.CPU, model.Device.type);
            Assert.Null(model.WeightsReport);
        }

        [Fact]
        public void Build_SameSeed_SameInitialWeights()
        {
            using var a = TransferBuilder.FromResNet(18).ForClasses("A", "B").OnDevice(torch.CPU).WithSeed(3).Build();
            using var b = TransferBuilder.FromResNet(18).ForClasses("A", "B").OnDevice(torch.CPU).WithSeed(3).Build();
            Assert.True(TestSupport.StatesEqual(TestSupport.CloneState(a), b));
        }

        [Fact]
        public void Build_CustomHead_UsesTheUsersModule()
        {
            using var model = TransferBuilder.FromResNet(18)
                .WithHead(Head.Custom("two-layer", (features, classes) => nn.Sequential(nn.Linear(features, 64), nn.Tanh(), nn.Linear(64, classes))))
                .ForClasses("A", "B", "C")
                .OnDevice(torch.CPU)
                .Build();
            Assert.Equal(new long[] { 64, 512 }, model.state_dict()["fc.0.weight"].shape);
            model.eval();
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 2, 3 }, model.call(torch.randn(2, 3, 32, 32)).shape);
        }

        [Fact]
        public void Build_CustomArchitecture_BuildsMlNetLayout()
        {
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3)).ForClasses("A", "B").OnDevice(torch.CPU).Build();
            Assert.Contains("layer4.2.conv1.weight", model.state_dict().Keys);
        }
    }
}
