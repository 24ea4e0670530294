using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Fuzzing;
using MedicalTransfer.Weights;
using TorchSharp;
using Xunit;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// Findings of the fuzzing work (docs/security.md) that are not "a malformed file must be refused", so
    /// that the regression corpus cannot hold them: valid files that were refused, and the limits around a fix.
    /// </summary>
    public sealed class FuzzFindingTests
    {
        [Fact]
        public void OnnxImport_OneInitializerReadByEightyOneConvolutions_IsRefusedBeforeItsCopiesAreMade()
        {
            // Finding 8: a 27 KB graph made the importer allocate 3.1 GB, one copy of a 9.4 MB weight per reading node.
            FuzzTarget onnx = FuzzTargets.Find("onnx");
            using var work = new TestSupport.TempFolder();
            byte[] input = File.ReadAllBytes(Path.Combine(TestSupport.RepositoryRoot(), onnx.RegressionFolder, "one-initializer-read-by-81-convolutions.onnx"));

            // Execute also checks the allocation against the target's limit (the weights of a ResNet-152).
            FuzzOutcome outcome = FuzzContract.Execute(onnx, input, work.Path, out Exception? refusal);

            Assert.Equal(FuzzOutcome.Refused, outcome);
            Assert.Contains("reads its stored weights over and over", refusal!.Message, StringComparison.Ordinal);
            Assert.Contains("Export each parameter as its own initializer", refusal.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void OnnxImport_BatchNormVectorsSharedAcrossNodes_StillImports()
        {
            // What exporters do with the equal BatchNorm vectors of an untrained model stays within the cap.
            FuzzTarget onnx = FuzzTargets.Find("onnx");
            using var work = new TestSupport.TempFolder();
            byte[] input = File.ReadAllBytes(Path.Combine(TestSupport.RepositoryRoot(), onnx.CorpusFolder, "seed-resnet18-shared-batchnorm-external.onnx"));

            Assert.Equal(FuzzOutcome.Accepted, FuzzContract.Execute(onnx, input, work.Path, out _));
        }

        [Theory]
        [InlineData(640)]
        [InlineData(896)]
        [InlineData(1152)]
        [InlineData(1408)]
        public void Read_SafetensorsWhoseHeaderLengthLooksLikeAPickleProtocol_ReadsTheTensors(int headerLength)
        {
            // A header of 0x280..0x580 bytes starts the file with 0x80 0x02..0x05, a pickle's PROTO opcode:
            // the format detection refused such files as "legacy PyTorch format".
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("weights.safetensors");
            using var weight = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(2, 3);
            var tensors = new List<KeyValuePair<string, torch.Tensor>> { new("w", weight) };
            Dictionary<string, string> metadata = Enumerable.Range(0, 2000)
                .Select(k => new Dictionary<string, string> { ["pad"] = new string('x', k) })
                .First(m => SafetensorsFormat.BuildHeader(tensors, m).Length - 8 == headerLength);
            StateDictFile.WriteSafetensors(path, tensors, metadata);
            Assert.Equal(0x80, File.ReadAllBytes(path)[0]);

            Dictionary<string, torch.Tensor> read = StateDictFile.Read(path);

            Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, read["w"].data<float>().ToArray());
            read["w"].Dispose();
        }
    }
}
