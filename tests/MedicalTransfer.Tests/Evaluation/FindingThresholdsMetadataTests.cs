using System;
using System.IO;
using System.Linq;
using Google.Protobuf;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Weights.OnnxIr;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Evaluation
{
    /// <summary>
    /// Hand-crafted bad <c>finding_thresholds</c> entries in a saved model and in an ONNX export: each is a
    /// <see cref="WeightsFormatException"/> naming the file, the key and what is wrong, never a raw JSON exception.
    /// </summary>
    public sealed class FindingThresholdsMetadataTests : IDisposable
    {
        private static readonly string[] Findings = { "Atelectasis", "Cardiomegaly", "Edema" };
        private const string Names = "\"findings\":[\"Atelectasis\",\"Cardiomegaly\",\"Edema\"]";
        private readonly TestSupport.TempFolder folder = new();
        private readonly TransferModel model;

        public FindingThresholdsMetadataTests()
        {
            model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForFindings(Findings).OnDevice(CPU).WithSeed(3).Build();
            model.UseFindingThresholds(FindingThresholds.Fixed(Findings, 0.4));
        }

        public void Dispose()
        {
            model.Dispose();
            folder.Dispose();
        }

        public static TheoryData<string, string> BadEntries() => new()
        {
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[0.2,0.3", "finding_thresholds is not valid JSON (" },
            { "[0.2,0.3,0.4]", "finding_thresholds is a JSON Array; expected an object with 'rule', 'findings' and 'thresholds'" },
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":\"0.5\"}", "finding_thresholds.thresholds is a JSON String; expected an array" },
            { "{\"rule\":\"youden\"," + Names + "}", "finding_thresholds has no 'thresholds' entry" },
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[0.2,\"high\",0.3]}", "finding_thresholds: the threshold of 'Cardiomegaly' is \"high\"; expected a number in [0, 1]" },
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[0.2,\"NaN\",0.3]}", "finding_thresholds: the threshold of 'Cardiomegaly' is \"NaN\"; expected a number in [0, 1]" },
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[0.2,NaN,0.3]}", "finding_thresholds is not valid JSON (" },
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[0.2,0.3,1.5]}", "finding_thresholds: the threshold of 'Edema' is 1.5; expected a number in [0, 1]" },
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[-0.1,0.3,0.5]}", "finding_thresholds: the threshold of 'Atelectasis' is -0.1; expected a number in [0, 1]" },
            { "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[0.2,0.3]}", "finding_thresholds has 2 thresholds for 3 findings (Atelectasis, Cardiomegaly, Edema); expected one per finding" },
            { "{\"rule\":\"youden\",\"findings\":[\"Atelectasis\",\"Edema\",\"Cardiomegaly\"],\"thresholds\":[0.2,0.3,0.4]}", "finding_thresholds is for findings [Atelectasis, Edema, Cardiomegaly] but the model's findings are [Atelectasis, Cardiomegaly, Edema]" },
            { "{\"rule\":7," + Names + ",\"thresholds\":[0.2,0.3,0.4]}", "finding_thresholds.rule is a JSON Number; expected a string" },
        };

        [Theory]
        [MemberData(nameof(BadEntries))]
        public void Load_SavedModelWithBadFindingThresholds_ThrowsWeightsFormatNamingFileKeyAndProblem(string entry, string problem)
        {
            string path = MultiLabelModelTests.SaveWithMetadata(folder, model, m => m["finding_thresholds"] = entry);

            var ex = Assert.Throws<WeightsFormatException>(() => TransferModel.Load(path, CPU));

            Assert.StartsWith("'" + path + "' has damaged MedicalTransfer metadata: " + problem, ex.Message, StringComparison.Ordinal);
            Assert.Contains("choose them again on validation", ex.Message, StringComparison.Ordinal);
        }

        [Theory]
        [MemberData(nameof(BadEntries))]
        public void OnnxImageClassifierLoad_BadFindingThresholds_ThrowsWeightsFormatNamingFileKeyAndProblem(string entry, string problem)
        {
            string path = folder.File("findings.onnx");
            model.ExportOnnx(path);
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            proto.MetadataProps.Single(p => p.Key == "finding_thresholds").Value = entry;
            File.WriteAllBytes(path, proto.ToByteArray());

            var ex = Assert.Throws<WeightsFormatException>(() => OnnxImageClassifier.Load(path));

            Assert.StartsWith("'" + path + "' has damaged MedicalTransfer metadata: " + problem, ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void OnnxImageClassifierLoad_GoodFindingThresholds_ReadsThem()
        {
            // The same crafting path with a good entry loads, so the failures above are the entries' own.
            string path = folder.File("good.onnx");
            model.ExportOnnx(path);
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            proto.MetadataProps.Single(p => p.Key == "finding_thresholds").Value = "{\"rule\":\"youden\"," + Names + ",\"thresholds\":[0,0.25,1]}";
            File.WriteAllBytes(path, proto.ToByteArray());

            using var classifier = OnnxImageClassifier.Load(path);

            Assert.Equal(new[] { 0, 0.25, 1 }, classifier.FindingThresholds);
        }
    }
}
