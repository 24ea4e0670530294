using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Weights
{
    public class WeightLoaderTests
    {
        [Fact]
        public void Apply_ResNet50WeightsIntoResNet18_ThrowsNamingBothAndLeavesModelUnchanged()
        {
            using var source = new ResNet(ResNetArchitecture.ForDepth(50), numClasses: 2);
            using var model = TestSupport.SmallModel(18);
            var before = TestSupport.CloneState(model);
            var ex = Assert.Throws<WeightsMismatchException>(() => WeightLoader.Apply(model, source.state_dict(), "resnet50.pth"));
            Assert.Contains("'resnet50.pth'", ex.Message, StringComparison.Ordinal);
            Assert.Contains("The file holds a ResNet-50", ex.Message, StringComparison.Ordinal);
            Assert.Contains("the model is a ResNet-18", ex.Message, StringComparison.Ordinal);
            Assert.Contains("layer1.0.conv1.weight: model expects [64, 64, 3, 3], file has [64, 64, 1, 1]", ex.Message, StringComparison.Ordinal);
            Assert.Contains("nothing was loaded", ex.Message, StringComparison.Ordinal);
            Assert.True(TestSupport.StatesEqual(before, model));
        }

        [Fact]
        public void Apply_ImageNetHeadIntoTwoClassModel_SkipsHeadAndReportsIt()
        {
            using var source = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 1000);
            using var model = TestSupport.SmallModel(18);
            var headBefore = model.state_dict()["fc.weight"].clone();
            var report = WeightLoader.Apply(model, source.state_dict(), "imagenet");
            Assert.Equal(new[] { "fc.weight", "fc.bias" }, report.SkippedHeadKeys);
            Assert.Equal(source.state_dict().Count - 2, report.LoadedCount);
            Assert.True(model.state_dict()["layer3.1.conv2.weight"].Equals(source.state_dict()["layer3.1.conv2.weight"]));
            Assert.True(model.state_dict()["fc.weight"].Equals(headBefore));
            Assert.Contains("skipped the source's head (fc.weight, fc.bias)", report.ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public void Apply_MatchingHead_LoadsHeadToo()
        {
            using var source = TestSupport.SmallModel(18);
            using var model = TransferBuilder.FromResNet(18).ForClasses("A", "B").OnDevice(torch.CPU).WithSeed(99).Build();
            var report = WeightLoader.Apply(model, source.state_dict(), "same");
            Assert.Empty(report.SkippedHeadKeys);
            Assert.True(TestSupport.StatesEqual(TestSupport.CloneState(source), model));
        }

        [Fact]
        public void Apply_MissingAndUnexpectedKeys_StrictThrowsListingThem()
        {
            using var source = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 2);
            var sd = new Dictionary<string, Tensor>(source.state_dict());
            sd.Remove("layer2.1.bn2.running_var");
            sd["extra.weight"] = torch.zeros(3);
            using var model = TestSupport.SmallModel(18);
            var ex = Assert.Throws<WeightsMismatchException>(() => WeightLoader.Apply(model, sd, "edited.pth"));
            Assert.Contains("Missing keys (in the model, not in the file) (1):", ex.Message, StringComparison.Ordinal);
            Assert.Contains("layer2.1.bn2.running_var", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Unexpected keys (in the file, not in the model) (1):", ex.Message, StringComparison.Ordinal);
            Assert.Contains("extra.weight", ex.Message, StringComparison.Ordinal);
            Assert.Contains("strict: false", ex.Message, StringComparison.Ordinal);

            var report = WeightLoader.Apply(model, sd, "edited.pth", strict: false);
            Assert.Equal(new[] { "layer2.1.bn2.running_var" }, report.MissingKeys);
            Assert.Equal(new[] { "extra.weight" }, report.UnexpectedKeys);
        }

        [Fact]
        public void Apply_Float64Source_ConvertsToModelDtype()
        {
            using var source = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 2);
            var sd = source.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(ScalarType.Float64) : kv.Value);
            using var model = TestSupport.SmallModel(18);
            WeightLoader.Apply(model, sd, "double.pth");
            Assert.Equal(ScalarType.Float32, model.state_dict()["conv1.weight"].dtype);
            Assert.True(model.state_dict()["conv1.weight"].Equals(source.state_dict()["conv1.weight"]));
        }

        [Fact]
        public void InferArchitecture_FromKeys_FindsBlockAndDepths()
        {
            using var r101 = new ResNet(ResNetArchitecture.ForDepth(101), numClasses: 2);
            Assert.Equal(ResNetArchitecture.ForDepth(101), BackboneCatalog.Infer(r101.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape)));
            Assert.Null(BackboneCatalog.Infer(new Dictionary<string, long[]> { ["encoder.weight"] = new long[] { 2, 2 } }));
        }
    }
}
