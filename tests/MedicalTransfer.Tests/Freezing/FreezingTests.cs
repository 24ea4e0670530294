using System;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Freezing
{
    public class FreezingTests
    {
        private static string[] Trainable(TransferModel model) => model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToArray();

        [Fact]
        public void UpTo2_FreezesStemLayer1Layer2Only()
        {
            using var model = TestSupport.SmallModel(freeze: Layers.UpTo(2));
            foreach (var (name, p) in model.named_parameters())
            {
                bool frozen = name.StartsWith("conv1.", StringComparison.Ordinal) || name.StartsWith("bn1.", StringComparison.Ordinal) ||
                              name.StartsWith("layer1.", StringComparison.Ordinal) || name.StartsWith("layer2.", StringComparison.Ordinal);
                Assert.True(frozen != p.requires_grad, name);
            }

            var summary = model.Summary();
            Assert.Equal(new[] { StageState.Frozen, StageState.Frozen, StageState.Frozen, StageState.Trainable, StageState.Trainable, StageState.NoParameters, StageState.Trainable }, summary.Stages.Select(s => s.State));
        }

        [Fact]
        public void OnlyStem_DoesNotFreezeBlocksBn1_UnlikeSubstringMatching()
        {
            // The article froze every parameter whose name contained 'bn1', including layerN.M.bn1.
            using var model = TestSupport.SmallModel(freeze: Layers.Only("stem"));
            var trainable = Trainable(model);
            Assert.Contains("layer1.0.bn1.weight", trainable);
            Assert.Contains("layer4.1.bn1.bias", trainable);
            Assert.DoesNotContain("bn1.weight", trainable);
            Assert.DoesNotContain("conv1.weight", trainable);
        }

        [Fact]
        public void OnlyBlock_FreezesThatBlockAlone()
        {
            using var model = TestSupport.SmallModel(freeze: Layers.Only("layer4.0"));
            var frozen = model.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).ToArray();
            Assert.NotEmpty(frozen);
            Assert.All(frozen, n => Assert.StartsWith("layer4.0.", n, StringComparison.Ordinal));
            Assert.Equal(StageState.Partial, model.Summary().Stages.Single(s => s.Stage == "layer4").State);
        }

        [Fact]
        public void All_FreezesBackboneButNotHead()
        {
            using var model = TestSupport.SmallModel(freeze: Layers.All);
            Assert.Equal(new[] { "fc.weight", "fc.bias" }, Trainable(model));
            Assert.Equal(512 * 2 + 2, model.Summary().TrainableParameters);
        }

        [Fact]
        public void From3_FreezesLayer3AndLayer4()
        {
            var resnet = ResNetArchitecture.ForDepth(18);
            Assert.Equal(new[] { "layer3", "layer4" }, Layers.From(3).For(resnet).Targets);
            Assert.Equal(new[] { "stem", "layer1", "layer2", "layer3" }, Layers.AllExcept("layer4").For(resnet).Targets);
            Assert.Equal(new[] { "stem" }, Layers.UpTo(0).For(resnet).Targets);
        }

        [Fact]
        public void UpTo_Negative_ThrowsAtOnce()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Layers.UpTo(-1));
            Assert.Throws<ArgumentOutOfRangeException>(() => Layers.From(0));
        }

        [Fact]
        public void UpTo_BeyondTheResNetsStages_ThrowsWhenAppliedNamingTheStages()
        {
            var spec = Layers.UpTo(5);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => spec.For(ResNetArchitecture.ForDepth(18)));
            Assert.Contains("ResNet-18 has the stem and 4 stages after it (stem, layer1, layer2, layer3, layer4)", ex.Message, StringComparison.Ordinal);
            using var model = TestSupport.SmallModel();
            Assert.Throws<ArgumentOutOfRangeException>(() => model.Freeze(spec));
            Assert.Throws<ArgumentOutOfRangeException>(() => Layers.From(5).For(ResNetArchitecture.ForDepth(18)));
        }

        [Fact]
        public void Targets_PositionalSpecNotResolved_ThrowsSayingHowToResolve()
        {
            var ex = Assert.Throws<InvalidOperationException>(() => Layers.UpTo(2).Targets);
            Assert.Contains("Layers.UpTo(2).For(architecture)", ex.Message, StringComparison.Ordinal);
            Assert.False(Layers.UpTo(2).IsConcrete);
            Assert.True(Layers.Only("stem").IsConcrete);
            Assert.Equal("Layers.UpTo(2) [the stem and the 2 stage(s) after it]", Layers.UpTo(2).ToString());
        }

        [Theory]
        [InlineData("bn1")]
        [InlineData("layer5")]
        [InlineData("")]
        [InlineData("pooling")]
        public void Only_NotAStageOrBlock_ThrowsNamingIt(string target)
        {
            var ex = Assert.Throws<ArgumentException>(() => Layers.Only(target));
            Assert.Contains("stage", ex.Message, StringComparison.Ordinal);
            if (target.Length > 0)
            {
                Assert.Contains("'" + target + "'", ex.Message, StringComparison.Ordinal);
            }
        }

        [Fact]
        public void TrainingStep_FrozenStages_KeepBatchNormStatistics()
        {
            using var model = TestSupport.SmallModel(freeze: Layers.UpTo(2));
            var bnFrozen = (BatchNorm2d)model.named_modules().Single(m => m.name == "layer1.0.bn1").module;
            var bnTrainable = (BatchNorm2d)model.named_modules().Single(m => m.name == "layer3.0.bn1").module;
            var frozenBefore = bnFrozen.running_mean!.clone();
            var trainableBefore = bnTrainable.running_mean!.clone();
            var frozenWeightBefore = bnFrozen.weight!.detach().clone();

            model.train();
            Assert.False(bnFrozen.training);
            Assert.True(bnTrainable.training);
            using var optimizer = torch.optim.SGD(model.parameters().Where(p => p.requires_grad), 0.1);
            using (var scope = NewDisposeScope())
            {
                var loss = nn.functional.cross_entropy(model.call(torch.randn(4, 3, 64, 64)), torch.tensor(new long[] { 0, 1, 0, 1 }));
                loss.backward();
                optimizer.step();
            }

            Assert.True(bnFrozen.running_mean!.Equals(frozenBefore), "frozen BN running mean changed");
            Assert.True(bnFrozen.weight!.Equals(frozenWeightBefore), "frozen BN weight changed");
            Assert.False(bnTrainable.running_mean!.Equals(trainableBefore), "trainable BN running mean did not change");
        }

        [Fact]
        public void TrainingStep_TrainBatchNormOptIn_UpdatesFrozenStatistics()
        {
            using var model = TransferBuilder.FromResNet(18).ForClasses("A", "B").OnDevice(torch.CPU).Freeze(Layers.UpTo(2), trainBatchNorm: true).Build();
            var bn = (BatchNorm2d)model.named_modules().Single(m => m.name == "layer1.0.bn1").module;
            var before = bn.running_mean!.clone();
            model.train();
            using (var scope = NewDisposeScope())
            {
                model.call(torch.randn(2, 3, 64, 64));
            }

            Assert.True(model.TrainBatchNorm);
            Assert.False(bn.running_mean!.Equals(before));
            Assert.False(bn.weight!.requires_grad);
        }

        [Fact]
        public void Freeze_ChangedLater_UnfreezesWhatTheNewSpecDoesNotName()
        {
            using var model = TestSupport.SmallModel(freeze: Layers.All);
            model.Freeze(Layers.UpTo(2));
            var trainable = Trainable(model);
            Assert.Contains("layer3.0.conv1.weight", trainable);
            Assert.DoesNotContain("layer2.0.conv1.weight", trainable);
            model.train();
            var bn = (BatchNorm2d)model.named_modules().Single(m => m.name == "layer3.0.bn1").module;
            Assert.True(bn.training);
        }

        [Fact]
        public void Forward_FrozenPrefix_BuildsNoGraphForFrozenStages()
        {
            // The input requires its gradient, so any operation recorded on it would make layer3's output require
            // one too: only the no-grad block over the frozen prefix keeps the graph from starting at the input.
            using var model = TestSupport.SmallModel(freeze: Layers.UpTo(3));
            model.train();
            using var scope = NewDisposeScope();
            var input = torch.randn(2, 3, 64, 64).requires_grad_(true);
            var layer3 = model.ForwardTo(input, "layer3");
            Assert.False(layer3.requires_grad);
            var logits = model.call(input);
            Assert.True(logits.requires_grad);
            logits.sum().backward();
            Assert.True(input.grad is null, "the backward pass must stop at the frozen stages, not reach the input");
            Assert.True(model.named_parameters().Where(p => p.name.StartsWith("layer4.", StringComparison.Ordinal)).All(p => p.parameter.grad is not null));
        }

        [Fact]
        public void Summary_ResNet50With1000Classes_MatchesArticleTable()
        {
            using var model = TransferBuilder.FromResNet(50).ForClasses(Enumerable.Range(0, 1000).Select(i => "c" + i).ToArray()).OnDevice(torch.CPU).Freeze(Layers.UpTo(2)).Build();
            var summary = model.Summary();
            Assert.Equal(25_557_032, summary.TotalParameters);
            long frozen = summary.Stages.Where(s => s.State == StageState.Frozen).Sum(s => s.Parameters);
            Assert.Equal(summary.TotalParameters - frozen, summary.TrainableParameters);
            var text = model.ToString();
            Assert.Contains("25.6M parameters", text, StringComparison.Ordinal);
            Assert.Contains("layer2", text, StringComparison.Ordinal);
            Assert.Contains("frozen", text, StringComparison.Ordinal);
        }
    }
}
