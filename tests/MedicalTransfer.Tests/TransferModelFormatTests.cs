using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests
{
    /// <summary>
    /// Model files written by earlier versions still load, with bit-identical outputs. The fixtures in
    /// Fixtures/SavedModels were written by tests/MakeSavedModelFixtures with the version-1 code (TransferModel a
    /// subclass of ResNet) and are never regenerated.
    /// </summary>
    public class TransferModelFormatTests
    {
        private static JsonElement Expected()
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("SavedModels", "expected.json")));
            return doc.RootElement.GetProperty("models").Clone();
        }

        private static string Unzip(TestSupport.TempFolder folder, JsonElement fixture)
        {
            string gz = TestSupport.FixturePath("SavedModels", fixture.GetProperty("file").GetString()!);
            string path = folder.File(Path.GetFileNameWithoutExtension(gz));
            using (var source = File.OpenRead(gz))
            using (var gzip = new GZipStream(source, CompressionMode.Decompress))
            using (var target = File.Create(path))
            {
                gzip.CopyTo(target);
            }

            Assert.Equal(fixture.GetProperty("sha256").GetString(), Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant());
            return path;
        }

        [Theory]
        [InlineData("v1-resnet-basic1111-linear")]
        [InlineData("v1-resnet-basic1111-mlp")]
        public void Load_FormatVersion1File_RestoresTheSavedModelWithBitIdenticalLogits(string name)
        {
            var fixture = Expected().GetProperty(name);
            Assert.Equal("1", fixture.GetProperty("metadata").GetProperty("format_version").GetString());
            using var folder = new TestSupport.TempFolder();
            string path = Unzip(folder, fixture);

            using var model = TransferModel.Load(path, torch.CPU);

            Assert.Equal(fixture.GetProperty("classes").EnumerateArray().Select(e => e.GetString()), model.ClassNames);
            Assert.Equal(fixture.GetProperty("head").GetString(), model.Head.Layout);
            Assert.Equal(fixture.GetProperty("freeze").EnumerateArray().Select(e => e.GetString()), model.FreezeSpec.Targets);
            Assert.Equal(fixture.GetProperty("trainBatchNorm").GetBoolean(), model.TrainBatchNorm);
            Assert.Equal(fixture.GetProperty("preprocessing").GetString(), model.Preprocessing.ToString());
            Assert.Equal(fixture.GetProperty("totalParameters").GetInt64(), model.Summary().TotalParameters);
            Assert.Equal(fixture.GetProperty("trainableParameters").GetInt64(), model.Summary().TrainableParameters);
            Assert.Equal(fixture.GetProperty("tensors").EnumerateArray().Select(e => e.GetString()).OrderBy(k => k, StringComparer.Ordinal), model.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal));

            using var scope = NewDisposeScope();
            var logits = model.call(TestSupport.FormulaInput(2, 32)).contiguous();
            Assert.Equal(fixture.GetProperty("logitsShape").EnumerateArray().Select(e => e.GetInt64()), logits.shape);
            var bits = logits.data<float>().ToArray().Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8", CultureInfo.InvariantCulture));
            Assert.Equal(fixture.GetProperty("logitsBits").EnumerateArray().Select(e => e.GetString()), bits);
        }
    }
}
