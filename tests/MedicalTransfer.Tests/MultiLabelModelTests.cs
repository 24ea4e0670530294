using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests
{
    public class MultiLabelModelTests
    {
        private static readonly string[] Findings = { "Atelectasis", "Cardiomegaly", "Edema" };

        private static TransferModel Build(HeadSpec? head = null) =>
            TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).WithHead(head ?? Head.Linear()).ForFindings(Findings).OnDevice(CPU).WithSeed(3).Build();

        [Fact]
        public void ForFindings_Build_OneLogitPerFindingAndMultiLabelTask()
        {
            using var model = Build(Head.Mlp(16));
            using var scope = NewDisposeScope();
            model.eval();
            var logits = model.forward(randn(2, 3, 32, 32));

            Assert.Equal(new long[] { 2, 3 }, logits.shape);
            Assert.Equal(TaskKind.MultiLabel, model.TaskKind);
            Assert.True(model.IsMultiLabel);
            Assert.Equal(Findings, model.Findings);
            Assert.Equal(Findings, model.ClassNames);
        }

        [Fact]
        public void ForClasses_Build_SingleLabelWithoutFindings()
        {
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("A", "B").OnDevice(CPU).Build();
            Assert.Equal(TaskKind.SingleLabel, model.TaskKind);
            Assert.Empty(model.Findings);
        }

        [Fact]
        public void ForFindings_OneFinding_BuildsOneLogit()
        {
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForFindings(new[] { "Edema" }.AsEnumerable()).OnDevice(CPU).Build();
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 1, 1 }, model.forward(randn(1, 3, 32, 32)).shape);
        }

        [Fact]
        public void Build_ForClassesAndForFindings_RefusedNamingBoth()
        {
            var builder = TransferBuilder.FromResNet(18).ForClasses("A", "B").ForFindings("Edema");
            var ex = Assert.Throws<InvalidOperationException>(() => builder.Build());
            Assert.Contains("Both ForClasses and ForFindings were called", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ForFindings_Duplicate_ThrowsNamingIt()
        {
            var ex = Assert.Throws<ArgumentException>(() => TransferBuilder.FromResNet(18).ForFindings("Edema", "Edema"));
            Assert.Contains("'Edema' appears 2 times", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void SaveLoad_MultiLabel_CarriesTaskPolicyAndThresholdsAndOutputs()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Build(Head.Mlp(16));
            model.UncertaintyPolicy = UncertaintyPolicy.Zeros.With("Edema", UncertainLabel.Ones);
            var probabilities = new[] { 0.2, 0.9, 0.4, 0.7, 0.1, 0.8 };
            var truth = new[] { false, true, false, true, false, true };
            model.FindingThresholds = FindingThresholds.Fixed(Findings, 0.3);
            string path = folder.File("m.safetensors");
            model.Save(path);

            using var loaded = TransferModel.Load(path, CPU);

            Assert.Equal(TaskKind.MultiLabel, loaded.TaskKind);
            Assert.Equal(Findings, loaded.Findings);
            Assert.Equal(model.UncertaintyPolicy, loaded.UncertaintyPolicy);
            Assert.Equal("U-Zeros (Edema: U-Ones); missing masked", loaded.UncertaintyPolicy!.ToString());
            Assert.Equal(new[] { 0.3, 0.3, 0.3 }, loaded.FindingThresholds!.Values);
            using var scope = NewDisposeScope();
            model.eval();
            var x = randn(2, 3, 32, 32);
            Assert.True(model.forward(x).Equals(loaded.forward(x)));
        }

        [Fact]
        public void Load_VersionOneFileWithoutTaskKey_IsSingleLabel()
        {
            using var folder = new TestSupport.TempFolder();
            string gz = TestSupport.FixturePath("SavedModels", "v1-resnet-basic1111-linear.safetensors.gz");
            string path = folder.File("v1.safetensors");
            using (var source = File.OpenRead(gz))
            using (var gzip = new GZipStream(source, CompressionMode.Decompress))
            using (var target = File.Create(path))
            {
                gzip.CopyTo(target);
            }

            Assert.False(StateDictFile.ReadSafetensorsMetadata(path).ContainsKey("task"));
            using var model = TransferModel.Load(path, CPU);
            Assert.Equal(TaskKind.SingleLabel, model.TaskKind);
            Assert.Null(model.UncertaintyPolicy);
        }

        [Fact]
        public void Load_UnknownTask_ThrowsWeightsFormatNamingTheFile()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Build();
            string path = folder.File("m.safetensors");
            model.Save(path);
            var metadata = StateDictFile.ReadSafetensorsMetadata(path).ToDictionary(kv => kv.Key, kv => kv.Value);
            metadata["task"] = "regression";
            using (var scope = NewDisposeScope())
            {
                StateDictFile.WriteSafetensors(path, model.state_dict().Select(kv => new System.Collections.Generic.KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach().contiguous())).ToList(), metadata);
            }

            var ex = Assert.Throws<WeightsFormatException>(() => TransferModel.Load(path, CPU));
            Assert.Contains("m.safetensors", ex.Message, StringComparison.Ordinal);
            Assert.Contains("task is 'regression'", ex.Message, StringComparison.Ordinal);
        }

        /// <summary>Saves <paramref name="model"/> and rewrites the file's metadata as a hand-crafted (or older, or newer) writer would.</summary>
        internal static string SaveWithMetadata(TestSupport.TempFolder folder, TransferModel model, Action<System.Collections.Generic.Dictionary<string, string>> edit, string name = "m.safetensors")
        {
            string path = folder.File(name);
            model.Save(path);
            var metadata = StateDictFile.ReadSafetensorsMetadata(path).ToDictionary(kv => kv.Key, kv => kv.Value);
            edit(metadata);
            using var scope = NewDisposeScope();
            StateDictFile.WriteSafetensors(path, model.state_dict().Select(kv => new System.Collections.Generic.KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach().contiguous())).ToList(), metadata);
            return path;
        }

        [Fact]
        public void Save_MultiLabelWritesFormatVersion3_SingleLabelStaysAt2()
        {
            using var folder = new TestSupport.TempFolder();
            using var multi = Build();
            using var single = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("A", "B").OnDevice(CPU).Build();
            multi.Save(folder.File("multi.safetensors"));
            single.Save(folder.File("single.safetensors"));

            Assert.Equal("3", StateDictFile.ReadSafetensorsMetadata(folder.File("multi.safetensors"))["format_version"]);
            Assert.Equal("2", StateDictFile.ReadSafetensorsMetadata(folder.File("single.safetensors"))["format_version"]);
            using var loaded = TransferModel.Load(folder.File("multi.safetensors"), CPU);
            Assert.Equal(TaskKind.MultiLabel, loaded.TaskKind);
        }

        [Fact]
        public void Load_MultiLabelFileStampedVersion2_StillLoadsAsMultiLabel()
        {
            // Multi-label files written between issue 13 and the version-3 stamp say 2 and carry the task entry.
            using var folder = new TestSupport.TempFolder();
            using var model = Build();
            model.FindingThresholds = FindingThresholds.Fixed(Findings, 0.3);
            string path = SaveWithMetadata(folder, model, m => m["format_version"] = "2");

            using var loaded = TransferModel.Load(path, CPU);

            Assert.Equal(TaskKind.MultiLabel, loaded.TaskKind);
            Assert.Equal(Findings, loaded.Findings);
            Assert.Equal(new[] { 0.3, 0.3, 0.3 }, loaded.FindingThresholds!.Values);
        }

        [Fact]
        public void Load_Version3WithoutTask_ThrowsWeightsFormatNamingTheKey()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Build();
            string path = SaveWithMetadata(folder, model, m => m.Remove("task"));

            var ex = Assert.Throws<WeightsFormatException>(() => TransferModel.Load(path, CPU));

            Assert.Contains("metadata key 'task' is missing in '" + path + "'", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_FutureFormatVersion_ThrowsNamingTheFileTheVersionsAndWhatToDo()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Build();
            string path = SaveWithMetadata(folder, model, m => m["format_version"] = "4");

            var ex = Assert.Throws<WeightsFormatException>(() => TransferModel.Load(path, CPU));

            Assert.Equal(
                "'" + path + "' is a MedicalTransfer model file of format version 4; this version of MedicalTransfer reads versions 1, 2 and 3. It was written by a newer MedicalTransfer: update the package to load it.",
                ex.Message);
        }
    }
}
