using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests
{
    /// <summary>TransferModel on the DenseNet and EfficientNet backbones: building, freezing, summary and model files.</summary>
    public class BackboneModelTests
    {
        private static readonly DenseNetArchitecture TinyDenseNet = DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2);

        private static string[] Frozen(TransferModel model) => model.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).ToArray();

        [Fact]
        public void Build_DenseNet121_HasTorchvisionKeysAClassifierHeadAndItsStages()
        {
            using var model = TransferBuilder.FromDenseNet(121).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();
            var keys = model.state_dict().Keys.ToArray();
            Assert.All(keys, k => Assert.True(k.StartsWith("features.", StringComparison.Ordinal) || k.StartsWith("classifier.", StringComparison.Ordinal), k));
            Assert.Equal(new long[] { 2, 1024 }, model.state_dict()["classifier.weight"].shape);
            Assert.Equal(DenseNetArchitecture.ForDepth(121), model.Architecture);
            Assert.Equal(MedicalTransfer.Data.Preprocessing.ImageNet, model.Preprocessing);
            var summary = model.Summary();
            Assert.Equal(new[] { "stem", "denseblock1", "denseblock2", "denseblock3", "denseblock4", "pooling", "head" }, summary.Stages.Select(s => s.Stage));
            Assert.Equal(7_978_856 - (1024 * 1000) - 1000 + (1024 * 2) + 2, summary.TotalParameters);
            Assert.Contains("denseblock4", model.ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public void Build_EfficientNetB0_HeadSitsBehindTorchvisionsDropout()
        {
            using var linear = TransferBuilder.FromEfficientNet(0).ForClasses("A", "B").OnDevice(CPU).Build();
            Assert.Equal(new[] { "classifier.1.bias", "classifier.1.weight" }, linear.state_dict().Keys.Where(k => k.StartsWith("classifier", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal));
            var dropout = (Dropout)linear.named_modules().Single(m => m.name == "classifier.0").module;
            Assert.Equal(0.2, EfficientNetArchitecture.ForWidth(0).Dropout);
            Assert.NotNull(dropout);
            using var mlp = TransferBuilder.FromEfficientNet(0).WithHead(Head.Mlp(64)).ForClasses("A", "B").OnDevice(CPU).Build();
            Assert.Equal(new long[] { 64, 1280 }, mlp.state_dict()["classifier.1.1.weight"].shape);
            Assert.Equal(new long[] { 2, 64 }, mlp.state_dict()["classifier.1.5.weight"].shape);
        }

        [Fact]
        public void Freeze_UpTo2OnDenseNet_FreezesStemAndTheFirstTwoBlocksWithTheirTransitions()
        {
            using var model = TransferBuilder.FromDenseNet(TinyDenseNet).Freeze(Layers.UpTo(2)).ForClasses("A", "B").OnDevice(CPU).Build();
            string[] frozenPrefixes = { "features.conv0.", "features.norm0.", "features.denseblock1.", "features.transition1.", "features.denseblock2.", "features.transition2." };
            foreach (var (name, p) in model.named_parameters())
            {
                Assert.True(frozenPrefixes.Any(f => name.StartsWith(f, StringComparison.Ordinal)) != p.requires_grad, name);
            }

            Assert.Equal("Layers.UpTo(2) [stem, denseblock1, denseblock2]", model.FreezeSpec.ToString());
            model.train();
            var frozenBn = (BatchNorm2d)model.named_modules().Single(m => m.name == "features.denseblock2.denselayer1.norm1").module;
            var trainableBn = (BatchNorm2d)model.named_modules().Single(m => m.name == "features.denseblock3.denselayer1.norm1").module;
            Assert.False(frozenBn.training);
            Assert.True(trainableBn.training);
            using var scope = NewDisposeScope();
            Assert.False(model.ForwardTo(torch.randn(2, 3, 64, 64), "denseblock2").requires_grad, "the frozen prefix runs without autograd");
            Assert.True(model.call(torch.randn(2, 3, 64, 64)).requires_grad);
        }

        [Fact]
        public void Freeze_UpTo2OnEfficientNet_FreezesStemStage1AndStage2()
        {
            using var model = TransferBuilder.FromEfficientNet(0).Freeze(Layers.UpTo(2)).ForClasses("A", "B").OnDevice(CPU).Build();
            Assert.All(Frozen(model), n => Assert.True(n.StartsWith("features.0.", StringComparison.Ordinal) || n.StartsWith("features.1.", StringComparison.Ordinal) || n.StartsWith("features.2.", StringComparison.Ordinal), n));
            Assert.Contains("features.2.1.block.2.fc2.weight", Frozen(model));
            Assert.Equal(new[] { StageState.Frozen, StageState.Frozen, StageState.Frozen }, model.Summary().Stages.Take(3).Select(s => s.State));
            Assert.All(model.Summary().Stages.Skip(3).Where(s => s.State != StageState.NoParameters), s => Assert.Equal(StageState.Trainable, s.State));
            model.Freeze(Layers.UpTo(8));
            Assert.Equal(new[] { "classifier.1.weight", "classifier.1.bias" }, model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name));
            Assert.Equal(Layers.All.For(model.Architecture), model.FreezeSpec);
            Assert.Throws<ArgumentOutOfRangeException>(() => model.Freeze(Layers.UpTo(9)));
        }

        [Fact]
        public void Freeze_DenseNetBlocks_FreezesExactlyThoseModules()
        {
            using var model = TransferBuilder.FromDenseNet(TinyDenseNet).Freeze(Layers.Only("denseblock4.denselayer2", "denseblock3.transition", "denseblock4.norm")).ForClasses("A", "B").OnDevice(CPU).Build();
            Assert.All(Frozen(model), n => Assert.True(
                n.StartsWith("features.denseblock4.denselayer2.", StringComparison.Ordinal) || n.StartsWith("features.transition3.", StringComparison.Ordinal) || n.StartsWith("features.norm5.", StringComparison.Ordinal), n));
            Assert.Contains("features.norm5.weight", Frozen(model));
            Assert.Contains("features.transition3.conv.weight", Frozen(model));
            Assert.Equal(StageState.Partial, model.Summary().Stages.Single(s => s.Stage == "denseblock4").State);
        }

        [Fact]
        public void Freeze_ResNetStageOnADenseNet_IsReportedAtBuildListingTheDenseNetsStages()
        {
            var ex = Assert.Throws<InvalidOperationException>(() => TransferBuilder.FromDenseNet(121).Freeze(Layers.Only("layer4")).ForClasses("A", "B").OnDevice(CPU).Build());
            Assert.Contains("Freeze target 'layer4' does not exist in DenseNet-121: its stages are stem, denseblock1, denseblock2, denseblock3, denseblock4 and head", ex.Message, StringComparison.Ordinal);
            var blocks = Assert.Throws<InvalidOperationException>(() => TransferBuilder.FromDenseNet(TinyDenseNet).Freeze(Layers.Only("denseblock1.denselayer3")).ForClasses("A", "B").OnDevice(CPU).Build());
            Assert.Contains("denseblock1 has 3 blocks (denseblock1.denselayer1 to denseblock1.transition)", blocks.Message, StringComparison.Ordinal);
        }

        public static IEnumerable<object[]> SmallBackbones() => new[]
        {
            new object[] { "densenet:8:16:2,2,2,2" },
            new object[] { "efficientnet:b0" },
            new object[] { "basic:1,1,1,1" },
        };

        [Theory]
        [MemberData(nameof(SmallBackbones))]
        public void SaveLoad_EachBackbone_WritesFormatVersion2AndRestoresBitIdenticalOutputs(string layout)
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("model.safetensors");
            var architecture = BackboneCatalog.Parse(layout);
            using var model = TransferBuilder.From(architecture).WithHead(Head.Mlp(16)).Freeze(Layers.UpTo(1)).ForClasses("A", "B", "C").OnDevice(CPU).WithSeed(4).Build();
            model.train();
            using (NewDisposeScope())
            {
                model.call(torch.randn(4, 3, 64, 64)); // moves the BatchNorm statistics of the trainable stages
            }

            model.eval();
            model.Save(path);
            var metadata = StateDictFile.ReadSafetensorsMetadata(path);
            Assert.Equal("2", metadata["format_version"]);
            Assert.Equal(layout, metadata["architecture"]);
            Assert.Equal("3", metadata["input_channels"]);

            using var loaded = TransferModel.Load(path, CPU);
            Assert.Equal(architecture, loaded.Architecture);
            Assert.Equal(model.FreezeSpec, loaded.FreezeSpec);
            Assert.True(TestSupport.StatesEqual(TestSupport.CloneState(model), loaded));
            using var scope = NewDisposeScope();
            var x = torch.randn(2, 3, 64, 64);
            Assert.True(model.call(x).Equals(loaded.call(x)));
        }

        [Fact]
        public void Load_NewerFormatVersion_IsRefusedNamingTheVersion()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("model.safetensors");
            using (var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("A", "B").OnDevice(CPU).Build())
            {
                model.Save(path);
            }

            var metadata = StateDictFile.ReadSafetensorsMetadata(path).ToDictionary(kv => kv.Key, kv => kv.Value);
            metadata["format_version"] = "4";
            var tensors = StateDictFile.Read(path);
            StateDictFile.WriteSafetensors(path, tensors.ToList(), metadata);
            foreach (var t in tensors.Values)
            {
                t.Dispose();
            }

            var ex = Assert.Throws<WeightsFormatException>(() => TransferModel.Load(path, CPU));
            Assert.Contains("format version 4", ex.Message, StringComparison.Ordinal);
            Assert.Contains("reads versions 1, 2 and 3", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void WithWeights_DenseNetFileIntoAResNetBuilder_NamesBothArchitectures()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("densenet.safetensors");
            using (var source = new DenseNet(DenseNetArchitecture.ForDepth(121), 2))
            {
                StateDictFile.WriteSafetensors(path, source.state_dict().ToList(), null);
            }

            var ex = Assert.Throws<WeightsMismatchException>(() => TransferBuilder.FromResNet(18).WithWeights(path).ForClasses("A", "B").OnDevice(CPU).Build());
            Assert.Contains("The file holds a DenseNet-121 (densenet:32:64:6,12,24,16); the model is a ResNet-18 (basic:2,2,2,2)", ex.Message, StringComparison.Ordinal);
        }
    }
}
