using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests
{
    /// <summary>Class names from any sequence, the plain ImageNet classifier, and the summary's header.</summary>
    public sealed class TransferBuilderClassesTests
    {
        [Fact]
        public void ForClasses_DatasetClassesAsReadOnlyList_NamesTheClassesInLabelOrder()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 32 });
            IReadOnlyList<string> classes = ImageFolder.Load(folder.Path).Classes;

            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses(classes).OnDevice(CPU).Build();

            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, model.ClassNames);
        }

        [Fact]
        public void ForClasses_LazySequenceWithADuplicate_ThrowsNamingTheDuplicate()
        {
            var ex = Assert.Throws<ArgumentException>(() => TransferBuilder.FromResNet(18).ForClasses(new List<string> { "a", "b", "a" }.Select(s => s)));
            Assert.Equal("classNames", ex.ParamName);
            Assert.StartsWith("Class name 'a' appears 2 times; names must be distinct.", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ImageNetClasses_Names_AreTorchvisionsThousandInLogitOrder()
        {
            // Indices checked against torchvision 0.14's models/_meta.py (_IMAGENET_CATEGORIES).
            var names = ImageNetClasses.Names;
            Assert.Equal(1000, names.Count);
            Assert.Equal(1000, names.Distinct(StringComparer.Ordinal).Count());
            Assert.Equal("tench", names[0]);
            Assert.Equal("golden retriever", names[207]);
            Assert.Equal("tabby", names[281]);
            Assert.Equal("analog clock", names[409]);
            Assert.Equal("toilet tissue", names[999]);
        }

        [Fact]
        public void ForImageNetClasses_CheckpointWithAThousandClassHead_LoadsTheHeadToo()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);
            string path = folder.File("imagenet.safetensors");
            using (var source = TransferBuilder.FromResNet(architecture).ForImageNetClasses().OnDevice(CPU).WithSeed(3).Build())
            {
                source.Save(path);
            }

            using var model = TransferBuilder.FromResNet(architecture).ForImageNetClasses().WithWeights(path).OnDevice(CPU).WithSeed(4).Build();
            using var reference = TransferBuilder.FromResNet(architecture).ForImageNetClasses().OnDevice(CPU).WithSeed(3).Build();

            Assert.Equal(ImageNetClasses.Names, model.ClassNames);
            Assert.Empty(model.WeightsReport!.SkippedHeadKeys);
            var expected = reference.state_dict();
            Assert.All(model.state_dict().Where(kv => kv.Key.StartsWith("fc.", StringComparison.Ordinal)), kv => Assert.True(kv.Value.Equals(expected[kv.Key]), kv.Key));
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Assert.Equal(new long[] { 1, 1000 }, model.call(TestSupport.FormulaInput(1, 32)).shape);
            string summary = model.Summary().ToString();
            Assert.Contains("1000 classes (tench, goldfish, great white shark, tiger shark, hammerhead, ... 995 more)", summary, StringComparison.Ordinal);
            Assert.Contains(Environment.NewLine + "weights: " + path + Environment.NewLine, summary, StringComparison.Ordinal);
        }

        [Fact]
        public void Summary_CustomResNetLayout_HeaderStatesBlocksAndStagesAgainstTorchvisions()
        {
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3)).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();

            string header = model.Summary().ToString().Split(Environment.NewLine)[0];

            Assert.Equal("ResNet (basic, 2-2-2-3) [basic blocks, stages [2, 2, 2, 3]: not a torchvision depth (ResNet-18 is [2, 2, 2, 2])], 2 classes (NORMAL, PNEUMONIA)", header);
            Assert.Null(model.Summary().WeightsSource);
        }

        [Fact]
        public void Summary_StandardDepth_HeaderHasNoLayoutNote()
        {
            using var model = TransferBuilder.FromResNet(18).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();
            Assert.Null(model.Summary().Layout);
            Assert.Equal("ResNet-18, 2 classes (NORMAL, PNEUMONIA)", model.Summary().ToString().Split(Environment.NewLine)[0]);
        }
    }
}
