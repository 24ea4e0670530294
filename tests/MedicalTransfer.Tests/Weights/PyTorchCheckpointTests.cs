using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Weights;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>
    /// PyTorch zip checkpoints: real files written by PyTorch 1.13 (Fixtures/StateDicts/make_fixtures.py),
    /// files written by TorchSharp.PyBridge, and crafted hostile files.
    /// </summary>
    public sealed class PyTorchCheckpointTests : IDisposable
    {
        private readonly StateDictTestFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Theory]
        [InlineData("tiny_state_dict.pth")]
        [InlineData("legacy_format.pth")] // the same state_dict in torch.save's pre-1.6 format
        public void Read_TorchSavedStateDict_MatchesTorchValuesKeysOrderAndDtypes(string file)
        {
            using JsonDocument expected = JsonDocument.Parse(File.ReadAllText(StateDictTestFolder.Fixture("tiny_state_dict.expected.json")));

            Dictionary<string, Tensor> read = StateDictFile.Read(StateDictTestFolder.Fixture(file));
            try
            {
                // Same keys, in the order nn.Module.state_dict() gave them.
                Assert.Equal(expected.RootElement.EnumerateObject().Select(p => p.Name), read.Keys);
                foreach (JsonProperty entry in expected.RootElement.EnumerateObject())
                {
                    Tensor t = read[entry.Name];
                    Assert.Equal(entry.Value.GetProperty("dtype").GetString(), TorchName(t.dtype));
                    Assert.Equal(entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), t.shape);
                    Assert.Equal(DeviceType.CPU, t.device_type);
                    Assert.True(t.is_contiguous());
                    double[] want = entry.Value.GetProperty("values").EnumerateArray()
                        .Select(v => v.ValueKind switch { JsonValueKind.True => 1.0, JsonValueKind.False => 0.0, _ => v.GetDouble() })
                        .ToArray();
                    using Tensor asDouble = t.to_type(ScalarType.Float64);
                    Assert.Equal(want, asDouble.data<double>().ToArray()); // exact: every value is representable
                }

                // Spot checks that do not depend on the JSON: the transposed (non-contiguous) buffer and
                // the view at storage offset 4 of a storage shared with another entry.
                Assert.Equal(new float[] { -1f, 0f, 1f, -0.75f, 0.25f, 1.25f, -0.5f, 0.5f, 1.5f, -0.25f, 0.75f, 1.75f }, read["transposed"].data<float>().ToArray());
                Assert.Equal(new float[] { 2f, 2.5f, 3f, 3.5f }, read["offset_view"].data<float>().ToArray());
                Assert.Equal(7L, read["bn.num_batches_tracked"].item<long>());
                Assert.Equal(ScalarType.Int64, read["bn.num_batches_tracked"].dtype);
                Assert.Equal(new[] { true, false, true }, read["flags"].data<bool>().ToArray());
                Assert.Empty(read["scalar"].shape);
            }
            finally
            {
                StateDictTestFolder.DisposeAll(read);
            }
        }

        [Fact]
        public void Read_FileSavedByPyBridgeSavePy_EqualsModuleStateDict()
        {
            using var scope = NewDisposeScope();
            var module = nn.Sequential(("fc", nn.Linear(3, 2)), ("bn", nn.BatchNorm1d(2)));
            using (no_grad())
            {
                module.state_dict()["fc.weight"].copy_(arange(6, dtype: ScalarType.Float32).reshape(2, 3) / 7);
                module.state_dict()["bn.running_var"].fill_(2.5);
                module.state_dict()["bn.num_batches_tracked"].fill_(11);
            }

            string path = folder.File("pybridge.pth");
            module.save_py(path);

            Dictionary<string, Tensor> read = StateDictFile.Read(path);

            Dictionary<string, Tensor> want = module.state_dict();
            Assert.Equal(want.Keys, read.Keys);
            foreach (var pair in want)
            {
                Assert.Equal(pair.Value.dtype, read[pair.Key].dtype);
                Assert.Equal(pair.Value.bytes.ToArray(), read[pair.Key].bytes.ToArray());
            }

            Assert.Equal(11L, read["bn.num_batches_tracked"].item<long>());
        }

        [Fact]
        public void Read_PyBridgePickledStateDictOfSeveralDtypes_RoundTripsBitExactly()
        {
            using var scope = NewDisposeScope();
            var source = new System.Collections.Specialized.OrderedDictionary
            {
                ["f16"] = tensor(new[] { 0.5f, -2f, 1e-3f }).to_type(ScalarType.Float16),
                ["bf16"] = tensor(new[] { 1f, -3f }).to_type(ScalarType.BFloat16),
                ["f64"] = tensor(new[] { Math.PI, -0.0 }),
                ["i32"] = tensor(new[] { int.MinValue, int.MaxValue }),
                ["u8"] = tensor(new byte[] { 0, 200, 255 }),
                ["b"] = tensor(new[] { false, true }),
            };
            string path = folder.File("pickled.pth");
            PyTorchPickler.PickleStateDict(path, source);

            Dictionary<string, Tensor> read = StateDictFile.Read(path);

            foreach (System.Collections.DictionaryEntry entry in source)
            {
                var want = (Tensor)entry.Value!;
                Tensor got = read[(string)entry.Key];
                Assert.Equal(want.dtype, got.dtype);
                Assert.Equal(want.bytes.ToArray(), got.bytes.ToArray());
            }
        }

        [Fact]
        public void Read_PickledWholeModule_RefusesStateDictOnlyNamingClass()
        {
            string path = StateDictTestFolder.Fixture("whole_model.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("state_dict only", e.Message, StringComparison.Ordinal);
            Assert.Contains("'torch.nn.modules.container.Sequential'", e.Message, StringComparison.Ordinal);
            Assert.Contains("torch.save(model.state_dict(), path)", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_PickleCallingOsSystem_RefusesWithoutRunningIt()
        {
            const string Marker = "/tmp/medicaltransfer-pickle-payload-ran";
            if (File.Exists(Marker))
            {
                File.Delete(Marker);
            }

            string path = StateDictTestFolder.Fixture("os_system.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("state_dict only", e.Message, StringComparison.Ordinal);
            Assert.Contains("'posix.system'", e.Message, StringComparison.Ordinal);
            Assert.Contains("never runs code", e.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Marker));
        }

        [Fact]
        public void Read_NestedTrainingCheckpoint_RefusesAndSaysHowToExtractStateDict()
        {
            string path = StateDictTestFolder.Fixture("nested_checkpoint.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("training checkpoint (keys: state_dict, epoch)", e.Message, StringComparison.Ordinal);
            Assert.Contains("state_dict only", e.Message, StringComparison.Ordinal);
            Assert.Contains("torch.save(checkpoint['state_dict'], 'weights.pth')", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_StorageRecordSmallerThanDeclared_RefusesBeforeAllocating()
        {
            string path = StateDictTestFolder.Fixture("storage_too_small.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("tensor 'w' needs 64 bytes of storage '0' (16 x Float32), but the file holds only 16", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_ViewReachingPastItsStorage_RefusesBeforeAllocating()
        {
            string path = StateDictTestFolder.Fixture("view_beyond_storage.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensor 'w' (shape [2, 2], offset 2) reaches element 5 of storage '0', which holds only 4 elements", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_ShapeWhoseElementCountOverflows_Refuses()
        {
            string path = StateDictTestFolder.Fixture("overflowing_shape.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("the shape [2147483648, 2147483648, 2147483648] of tensor 'w' overflows 64-bit arithmetic", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_DimensionBeyond64Bits_Refuses()
        {
            string path = StateDictTestFolder.Fixture("huge_dimension.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("does not fit in 64 bits (the shape overflows)", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_TruncatedZip_ThrowsFormatExceptionSayingTruncated()
        {
            string path = StateDictTestFolder.Fixture("truncated.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("truncated or corrupt", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_LegacyFormatTruncatedInAStorage_ThrowsNamingTheFile()
        {
            byte[] bytes = File.ReadAllBytes(StateDictTestFolder.Fixture("legacy_format.pth"));
            string path = folder.File("legacy_cut.pth");
            File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 7).ToArray());

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_BarePickleOfADict_IsRefusedAsNotACheckpoint()
        {
            // pickle.dumps({"a": 1}, protocol=2): a pickle that is no torch.save file.
            string path = folder.File("bare.pkl");
            File.WriteAllBytes(path, new byte[] { 0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x4b, 0x01, 0x73, 0x2e });

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("not a PyTorch checkpoint", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_TorchScriptArchive_SaysItIsNotAStateDict()
        {
            string path = StateDictTestFolder.Fixture("torchscript.pt");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("TorchScript archive", e.Message, StringComparison.Ordinal);
            Assert.Contains("torch.save(model.state_dict(), path)", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_StorageRecordMissing_NamesTheRecord()
        {
            string path = folder.File("missing-record.pth");
            CopyZipWithout(StateDictTestFolder.Fixture("tiny_state_dict.pth"), path, "tiny_state_dict/data/3");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("refers to storage '3', but the archive has no entry 'tiny_state_dict/data/3'", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_BoolStorageHoldingTwo_RefusesCorruptBool()
        {
            string path = folder.File("bad-bool.pth");
            using (var scope = NewDisposeScope())
            {
                var source = new System.Collections.Specialized.OrderedDictionary { ["b"] = tensor(new[] { false, true }) };
                PyTorchPickler.PickleStateDict(path, source);
            }

            // Rewrite the bool record's second byte from 1 to 2.
            using (var zip = new System.IO.Compression.ZipArchive(File.Open(path, FileMode.Open), System.IO.Compression.ZipArchiveMode.Update))
            {
                var entry = zip.Entries.Single(x => x.FullName.EndsWith("data/0", StringComparison.Ordinal));
                entry.Delete();
                using Stream s = zip.CreateEntry("model/data/0").Open();
                s.Write(new byte[] { 0, 2 });
            }

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("bool storage 'model/data/0' holds bytes other than 0 and 1", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_StateDictWithKeepVarsParameters_ReadsParameterValues()
        {
            // torch.save(linear.state_dict(keep_vars=True)) pickles nn.Parameter via _rebuild_parameter.
            Dictionary<string, Tensor> read = StateDictFile.Read(StateDictTestFolder.Fixture("keep_vars.pth"));

            Assert.Equal(new[] { "weight", "bias" }, read.Keys);
            Assert.Equal(new[] { 0.5f, -1.5f }, read["weight"].data<float>().ToArray());
            Assert.Equal(new long[] { 1, 2 }, read["weight"].shape);
            Assert.Equal(0.25f, read["bias"].data<float>().Single());
            StateDictTestFolder.DisposeAll(read);
        }

        [Fact]
        public void Read_LittleEndianByteOrderRecord_ReadsAsPyTorch2Writes()
        {
            string path = folder.File("torch2.pth");
            CopyZipWithout(StateDictTestFolder.Fixture("tiny_state_dict.pth"), path, skip: null, extra: ("tiny_state_dict/byteorder", "little"));

            Dictionary<string, Tensor> read = StateDictFile.Read(path);

            Assert.Equal(7L, read["bn.num_batches_tracked"].item<long>());
            StateDictTestFolder.DisposeAll(read);
        }

        [Fact]
        public void Read_BigEndianByteOrderRecord_Refuses()
        {
            string path = folder.File("big-endian.pth");
            CopyZipWithout(StateDictTestFolder.Fixture("tiny_state_dict.pth"), path, skip: null, extra: ("tiny_state_dict/byteorder", "big"));

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("saved on a 'big'-endian machine; only little-endian checkpoints are supported", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_RecordWithForgedUncompressedSize_RefusesBeforeAllocating()
        {
            // Patch the central directory so that record data/0 claims 2 GB uncompressed from 48 stored bytes.
            string path = folder.File("forged.pth");
            byte[] bytes = File.ReadAllBytes(StateDictTestFolder.Fixture("tiny_state_dict.pth"));
            byte[] name = System.Text.Encoding.ASCII.GetBytes("tiny_state_dict/data/0");
            int patched = 0;
            for (int i = 0; i + 46 + name.Length <= bytes.Length; i++)
            {
                bool central = bytes[i] == 0x50 && bytes[i + 1] == 0x4b && bytes[i + 2] == 1 && bytes[i + 3] == 2;
                if (central && bytes.AsSpan(i + 46, name.Length).SequenceEqual(name) && BitConverter.ToUInt16(bytes, i + 28) == name.Length)
                {
                    BitConverter.TryWriteBytes(bytes.AsSpan(i + 24, 4), 0x7fff_fff0u);
                    patched++;
                }
            }

            Assert.Equal(1, patched);
            File.WriteAllBytes(path, bytes);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("record 'tiny_state_dict/data/0' claims 2147483632 bytes from 48 stored bytes", e.Message, StringComparison.Ordinal);
        }

        private static void CopyZipWithout(string source, string target, string? skip, (string Name, string Text)? extra = null)
        {
            using var input = System.IO.Compression.ZipFile.OpenRead(source);
            using var output = new System.IO.Compression.ZipArchive(File.Create(target), System.IO.Compression.ZipArchiveMode.Create);
            foreach (var entry in input.Entries.Where(x => x.FullName != skip))
            {
                using Stream from = entry.Open();
                using Stream to = output.CreateEntry(entry.FullName, System.IO.Compression.CompressionLevel.NoCompression).Open();
                from.CopyTo(to);
            }

            if (extra is { } record)
            {
                using var writer = new StreamWriter(output.CreateEntry(record.Name).Open());
                writer.Write(record.Text);
            }
        }

        private static string TorchName(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => "float32",
            ScalarType.Float64 => "float64",
            ScalarType.Float16 => "float16",
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Int64 => "int64",
            ScalarType.Int32 => "int32",
            ScalarType.Int16 => "int16",
            ScalarType.Int8 => "int8",
            ScalarType.Byte => "uint8",
            ScalarType.Bool => "bool",
            _ => dtype.ToString(),
        };
    }
}
