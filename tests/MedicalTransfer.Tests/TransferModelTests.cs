using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests
{
    public class TransferModelTests
    {
        [Fact]
        public void SaveLoad_MlpHeadPartlyFrozen_GivesBitIdenticalOutputsAndState()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("model.safetensors");
            using var model = TransferBuilder.FromResNet(18).WithHead(Head.Mlp(64)).Freeze(Layers.UpTo(1)).ForClasses("NORMAL", "PNEUMONIA", "COVID").OnDevice(torch.CPU).WithSeed(5).Build();
            model.train();
            using (var scope = NewDisposeScope())
            {
                model.call(torch.randn(4, 3, 32, 32)); // moves BN running statistics away from their initial values
            }

            model.eval();
            model.Save(path);
            using var loaded = TransferModel.Load(path, torch.CPU);

            Assert.Equal(model.ClassNames, loaded.ClassNames);
            Assert.Equal(model.Architecture, loaded.Architecture);
            Assert.Equal(model.Head.Layout, loaded.Head.Layout);
            Assert.Equal(model.FreezeSpec, loaded.FreezeSpec);
            Assert.Equal(model.Preprocessing, loaded.Preprocessing);
            Assert.Equal(model.Summary().TrainableParameters, loaded.Summary().TrainableParameters);
            Assert.True(TestSupport.StatesEqual(TestSupport.CloneState(model), loaded));
            using var scope2 = NewDisposeScope();
            var x = torch.randn(2, 3, 48, 48);
            Assert.True(model.call(x).Equals(loaded.call(x)));
        }

        [Fact]
        public void SaveLoad_GrayModelWithMlpHead_PassesTheFileSizeCheck()
        {
            // The size check once counted a three-channel stem for every model and refused gray files as too small.
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("gray.safetensors");
            using (var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).WithInputChannels(1).WithHead(Head.Mlp(16)).ForClasses("a", "b").OnDevice(CPU).WithSeed(2).Build())
            {
                model.Save(path);
            }

            using var loaded = TransferModel.Load(path, CPU);
            Assert.Equal(1, loaded.InputChannels);
        }

        [Fact]
        public void Load_WeightsDoNotFit_ThrowsAndLeavesNoTensorAlive()
        {
            using var folder = new TestSupport.TempFolder();
            string good = folder.File("good.safetensors");
            string damaged = folder.File("damaged.safetensors");
            using (var model = TestSupport.SmallModel())
            {
                model.Save(good);
                var metadata = MedicalTransfer.Weights.StateDictFile.ReadSafetensorsMetadata(good);
                // Renamed, not removed: the file keeps its size, so the size check passes and the weights check must refuse it.
                var tensors = model.state_dict().Select(kv => kv.Key == "layer1.0.conv1.weight" ? new KeyValuePair<string, torch.Tensor>("layer1.0.conv1.weight_renamed", kv.Value) : kv).ToList();
                MedicalTransfer.Weights.StateDictFile.WriteSafetensors(damaged, tensors, metadata);
            }

            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            var ex = Assert.Throws<WeightsMismatchException>(() => TransferModel.Load(damaged, torch.CPU));
            Assert.Contains("layer1.0.conv1.weight", ex.Message, StringComparison.Ordinal);
            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }

        [Fact]
        public void Load_FreezeMetadataNamesAMissingBlock_ThrowsFormatErrorAndLeavesNoTensorAlive()
        {
            using var folder = new TestSupport.TempFolder();
            string good = folder.File("good.safetensors");
            string damaged = folder.File("damaged.safetensors");
            using (var model = TestSupport.SmallModel())
            {
                model.Save(good);
                var metadata = MedicalTransfer.Weights.StateDictFile.ReadSafetensorsMetadata(good).ToDictionary(kv => kv.Key, kv => kv.Value);
                metadata["freeze"] = "[\"layer9.0\"]";
                MedicalTransfer.Weights.StateDictFile.WriteSafetensors(damaged, model.state_dict().ToList(), metadata);
            }

            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            var ex = Assert.Throws<WeightsFormatException>(() => TransferModel.Load(damaged, torch.CPU));
            Assert.Contains("damaged MedicalTransfer metadata", ex.Message, StringComparison.Ordinal);
            Assert.Contains("layer9", ex.Message, StringComparison.Ordinal);
            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }

        [Fact]
        public void Load_CustomHeadWithoutFactory_ThrowsSayingWhatToPass()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("custom.safetensors");
            static nn.Module<Tensor, Tensor> Factory(int f, int c) => nn.Sequential(nn.Linear(f, 8), nn.Linear(8, c));
            using (var model = TransferBuilder.FromResNet(18).WithHead(Head.Custom("tiny", Factory)).ForClasses("A", "B").OnDevice(torch.CPU).Build())
            {
                model.Save(path);
            }

            var ex = Assert.Throws<InvalidOperationException>(() => TransferModel.Load(path, torch.CPU));
            Assert.Contains("custom head ('custom:tiny')", ex.Message, StringComparison.Ordinal);
            using var loaded = TransferModel.Load(path, torch.CPU, Factory);
            Assert.Equal("custom:tiny", loaded.Head.Layout);
        }

        [Fact]
        public void Load_PlainSafetensorsStateDict_ThrowsSayingUseWithWeights()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("plain.safetensors");
            using var source = new ResNet(ResNetArchitecture.ForDepth(18), 2);
            MedicalTransfer.Weights.StateDictFile.WriteSafetensors(path, source.state_dict().ToList(), null);
            var ex = Assert.Throws<WeightsFormatException>(() => TransferModel.Load(path, torch.CPU));
            Assert.Contains("not a MedicalTransfer model file", ex.Message, StringComparison.Ordinal);
            Assert.Contains("WithWeights", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Save_OverExistingFile_ReplacesItAndLeavesNoTempFiles()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("model.safetensors");
            using var a = TestSupport.SmallModel();
            a.Save(path);
            using var b = TransferBuilder.FromResNet(18).ForClasses("X", "Y").OnDevice(torch.CPU).Build();
            b.Save(path);
            Assert.Equal(new[] { "model.safetensors" }, Directory.GetFiles(folder.Path).Select(Path.GetFileName));
            using var loaded = TransferModel.Load(path, torch.CPU);
            Assert.Equal(new[] { "X", "Y" }, loaded.ClassNames);
        }

        [Fact]
        public void WithWeights_PyTorchFileWrittenByPyBridge_LoadsAndKeepsFreezeTrainability()
        {
            // TorchSharp.PyBridge's reader leaves every parameter with requires_grad = false; the builder
            // must set trainability from the freeze spec after loading.
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("resnet18.pth");
            Dictionary<string, Tensor> written;
            using (var source = new ResNet(ResNetArchitecture.ForDepth(18), 1000))
            {
                TestSupport.FillWithFormula(source, source.state_dict().Keys.ToList());
                source.save_py(path);
                written = TestSupport.CloneState(source);
            }

            using var model = TransferBuilder.FromResNet(18).WithWeights(path).Freeze(Layers.UpTo(2)).ForClasses("A", "B").OnDevice(torch.CPU).Build();
            Assert.NotNull(model.WeightsReport);
            // Every backbone tensor is the one PyBridge wrote, bit for bit (the built model's own initialisation differs).
            var loaded = model.state_dict();
            Assert.All(written.Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)), kv => Assert.True(kv.Value.Equals(loaded[kv.Key]), kv.Key + " differs from the file"));
            Assert.Equal(new[] { "fc.weight", "fc.bias" }, model.WeightsReport!.SkippedHeadKeys);
            int trainable = model.parameters().Count(p => p.requires_grad);
            int expected = model.named_parameters().Count(p => !p.name.StartsWith("conv1", StringComparison.Ordinal) && !p.name.StartsWith("bn1", StringComparison.Ordinal) && !p.name.StartsWith("layer1", StringComparison.Ordinal) && !p.name.StartsWith("layer2", StringComparison.Ordinal));
            Assert.Equal(expected, trainable);
            Assert.True(trainable > 20);
        }

        [Fact]
        public void WithWeights_ResNet50FileIntoResNet18Builder_ThrowsAndNamesFile()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("resnet50.safetensors");
            using (var source = new ResNet(ResNetArchitecture.ForDepth(50), 2))
            {
                MedicalTransfer.Weights.StateDictFile.WriteSafetensors(path, source.state_dict().ToList(), null);
            }

            var ex = Assert.Throws<WeightsMismatchException>(() => TransferBuilder.FromResNet(18).WithWeights(path).ForClasses("A", "B").OnDevice(torch.CPU).Build());
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            Assert.Contains("ResNet-50", ex.Message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData(new byte[0], "empty")]
        [InlineData(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, "it starts with bytes 010203040506070809")]
        public void WithWeights_NotACheckpoint_ThrowsFormatErrorNamingFile(byte[] content, string word)
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("weights.pth");
            File.WriteAllBytes(path, content);
            var ex = Assert.Throws<WeightsFormatException>(() => TransferBuilder.FromResNet(18).WithWeights(path).ForClasses("A", "B").OnDevice(torch.CPU).Build());
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            Assert.Contains(word, ex.Message, StringComparison.OrdinalIgnoreCase);
        }

        [Fact]
        public void WithWeights_OwnSavedModel_TakesItsPreprocessing()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("model.safetensors");
            var custom = new MedicalTransfer.Data.Preprocessing { ResizeSize = 300, CropSize = 256 };
            using (var model = TransferBuilder.FromResNet(18).WithPreprocessing(custom).ForClasses("A", "B").OnDevice(torch.CPU).Build())
            {
                model.Save(path);
            }

            using var rebuilt = TransferBuilder.FromResNet(18).WithWeights(path).ForClasses("A", "B", "C").OnDevice(torch.CPU).Build();
            Assert.Equal(custom, rebuilt.Preprocessing);
            Assert.Equal(new[] { "fc.weight", "fc.bias" }, rebuilt.WeightsReport!.SkippedHeadKeys);
        }
    }
}
