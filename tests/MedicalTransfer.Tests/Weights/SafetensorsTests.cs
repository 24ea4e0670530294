using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using MedicalTransfer.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>Our safetensors reader and writer: round trips, atomic writes, interop with TorchSharp.PyBridge, and every malformed case.</summary>
    public sealed class SafetensorsTests : IDisposable
    {
        private readonly StateDictTestFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void WriteSafetensors_EveryDtype_ReadsBackBitIdentical()
        {
            using var scope = NewDisposeScope();
            var nanWithPayload = BitConverter.Int32BitsToSingle(0x7fc12345);
            var tensors = new[]
            {
                StateDictFileTests.Pair("f32", tensor(new[] { 1.5f, -0f, float.Epsilon, nanWithPayload, float.NegativeInfinity, 3.4e38f }).reshape(2, 3)),
                StateDictFileTests.Pair("f64", tensor(new[] { Math.PI, -1e-310, double.MaxValue })),
                StateDictFileTests.Pair("f16", tensor(new[] { 0.5f, 65504f, -6.1e-5f }).to_type(ScalarType.Float16)),
                StateDictFileTests.Pair("bf16", tensor(new[] { 1f, -3f, 1e30f }).to_type(ScalarType.BFloat16)),
                StateDictFileTests.Pair("i64", tensor(new[] { long.MinValue, 7L, long.MaxValue })),
                StateDictFileTests.Pair("i32", tensor(new[] { int.MinValue, int.MaxValue })),
                StateDictFileTests.Pair("i16", tensor(new short[] { -300, 300 })),
                StateDictFileTests.Pair("i8", tensor(new sbyte[] { -128, 127 })),
                StateDictFileTests.Pair("u8", tensor(new byte[] { 0, 200, 255 })),
                StateDictFileTests.Pair("bool", tensor(new[] { true, false, true })),
                StateDictFileTests.Pair("scalar", tensor(42L)),
                StateDictFileTests.Pair("empty", zeros(0, 3)),
            };
            string path = folder.File("all.safetensors");

            StateDictFile.WriteSafetensors(path, tensors, metadata: null);
            Dictionary<string, Tensor> read = StateDictFile.Read(path);

            Assert.Equal(tensors.Select(t => t.Key), read.Keys);
            foreach (var pair in tensors)
            {
                Tensor got = read[pair.Key];
                Assert.Equal(pair.Value.dtype, got.dtype);
                Assert.Equal(pair.Value.shape, got.shape);
                Assert.Equal(pair.Value.bytes.ToArray(), got.bytes.ToArray());
            }

            // The data starts 8-byte aligned (the header is padded with spaces), as the reference writer does.
            byte[] file = File.ReadAllBytes(path);
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(file);
            Assert.Equal(0, headerLength % 8);
            Assert.StartsWith("{\"f32\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", Encoding.UTF8.GetString(file, 8, (int)headerLength), StringComparison.Ordinal);
        }

        [Fact]
        public void WriteSafetensors_NonContiguousTensor_StoresRowMajorValues()
        {
            using var scope = NewDisposeScope();
            Tensor transposed = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t();
            string path = folder.File("t.safetensors");

            StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("t", transposed) }, null);
            Dictionary<string, Tensor> read = StateDictFile.Read(path);

            Assert.Equal(new long[] { 3, 2 }, read["t"].shape);
            Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, read["t"].data<float>().ToArray());
            StateDictTestFolder.DisposeAll(read);
        }

        [Fact]
        public void ReadSafetensorsMetadata_WrittenMetadata_RoundTripsInOrder()
        {
            using var scope = NewDisposeScope();
            var metadata = new Dictionary<string, string>
            {
                ["format"] = "medicaltransfer/1",
                ["classes"] = "[\"NORMAL\",\"PNEUMONIA\"]",
                ["note"] = "ünïcode \"quoted\"\n",
                ["empty"] = string.Empty,
            };
            string path = folder.File("meta.safetensors");

            StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("w", ones(2)) }, metadata);
            IReadOnlyDictionary<string, string> read = StateDictFile.ReadSafetensorsMetadata(path);

            Assert.Equal(metadata.ToList(), read.ToList());
        }

        [Fact]
        public void ReadSafetensorsMetadata_FileWithoutMetadata_ReturnsEmpty()
        {
            using var scope = NewDisposeScope();
            string path = folder.File("plain.safetensors");
            StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("w", ones(2)) }, metadata: null);

            Assert.Empty(StateDictFile.ReadSafetensorsMetadata(path));
        }

        [Fact]
        public void WriteSafetensors_FailureMidWrite_KeepsOldFileAndLeavesNoTempFile()
        {
            using var scope = NewDisposeScope();
            string path = folder.File("model.safetensors");
            StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("w", ones(4)) }, new Dictionary<string, string> { ["v"] = "1" });
            byte[] before = File.ReadAllBytes(path);
            var large = new[] { StateDictFileTests.Pair("w", arange(100_000, dtype: ScalarType.Float32)) };

            var e = Assert.Throws<IOException>(() => StateDictFile.WriteSafetensors(path, large, null, s => new FailingStream(s, failAfter: 50_000)));

            Assert.Equal("disk full (simulated)", e.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal(new[] { "model.safetensors" }, folder.Files());
            Assert.Equal("1", StateDictFile.ReadSafetensorsMetadata(path)["v"]);
        }

        [Fact]
        public void WriteSafetensors_OverExistingFile_ReplacesItAndLeavesNoTempFile()
        {
            using var scope = NewDisposeScope();
            string path = folder.File("model.safetensors");
            StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("w", ones(4)) }, null);

            StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("w", full(2, 7f)) }, null);

            Dictionary<string, Tensor> read = StateDictFile.Read(path);
            Assert.Equal(new[] { 7f, 7f }, read["w"].data<float>().ToArray());
            Assert.Equal(new[] { "model.safetensors" }, folder.Files());
            StateDictTestFolder.DisposeAll(read);
        }

        [Fact]
        public void WriteSafetensors_InvalidArguments_ThrowBeforeTouchingDisk()
        {
            using var scope = NewDisposeScope();
            string path = folder.File("bad.safetensors");

            var duplicate = Assert.Throws<ArgumentException>(() => StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("w", ones(1)), StateDictFileTests.Pair("w", ones(1)) }, null));
            var reserved = Assert.Throws<ArgumentException>(() => StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("__metadata__", ones(1)) }, null));
            var complex = Assert.Throws<ArgumentException>(() => StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("c", ones(1, dtype: ScalarType.ComplexFloat32)) }, null));

            Assert.Contains("'w' occurs twice", duplicate.Message, StringComparison.Ordinal);
            Assert.Contains("not '__metadata__'", reserved.Message, StringComparison.Ordinal);
            Assert.Contains("dtype ComplexFloat32", complex.Message, StringComparison.Ordinal);
            Assert.Empty(folder.Files());
        }

        [Fact]
        public void WriteSafetensors_MissingFolder_ThrowsDirectoryNotFound()
        {
            using var scope = NewDisposeScope();
            string path = Path.Combine(folder.Path, "no-such-folder", "w.safetensors");

            var e = Assert.Throws<DirectoryNotFoundException>(() => StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("w", ones(1)) }, null));

            Assert.Contains("no-such-folder", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void WriteSafetensors_ThenPyBridgeLoad_GivesEqualTensors()
        {
            using var scope = NewDisposeScope();
            var tensors = new[]
            {
                StateDictFileTests.Pair("a.weight", arange(12, dtype: ScalarType.Float32).reshape(3, 4) / 3),
                StateDictFileTests.Pair("a.num_batches_tracked", tensor(5L)),
                StateDictFileTests.Pair("half", tensor(new[] { 0.25f, 2f }).to_type(ScalarType.Float16)),
            };
            string path = folder.File("ours.safetensors");

            StateDictFile.WriteSafetensors(path, tensors, new Dictionary<string, string> { ["k"] = "v" });
            Dictionary<string, Tensor> read = TorchSharp.PyBridge.Safetensors.LoadStateDict(path);

            foreach (var pair in tensors)
            {
                Assert.Equal(pair.Value.dtype, read[pair.Key].dtype);
                Assert.Equal(pair.Value.bytes.ToArray(), read[pair.Key].bytes.ToArray());
            }
        }

        [Fact]
        public void Read_FileWrittenByPyBridge_GivesEqualTensors()
        {
            using var scope = NewDisposeScope();
            var source = new Dictionary<string, Tensor>
            {
                ["w"] = arange(6, dtype: ScalarType.Float64).reshape(2, 3) - 2.5,
                ["i"] = tensor(new[] { -1, 2, 3 }),
                ["b"] = tensor(new[] { true, false }),
            };
            string path = folder.File("theirs.safetensors");
            TorchSharp.PyBridge.Safetensors.SaveStateDict(path, source);

            Dictionary<string, Tensor> read = StateDictFile.Read(path);

            Assert.Equal(source.Keys.OrderBy(k => k, StringComparer.Ordinal), read.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var pair in source)
            {
                Assert.Equal(pair.Value.bytes.ToArray(), read[pair.Key].bytes.ToArray());
            }
        }

        // ---- malformed files -------------------------------------------------------------------

        [Fact]
        public void Read_HeaderLongerThan100MB_Refuses()
        {
            string path = Raw("huge-header.safetensors", headerLength: 100_000_001, "{}");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("header length is 100000001 bytes, more than the 100000000-byte (100 MB) limit", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_HeaderBeyondFileEnd_RefusesAsTruncated()
        {
            string path = Raw("short.safetensors", headerLength: 5000, "{\"w\":{}}");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("header length is 5000 bytes but only 8 bytes follow", e.Message, StringComparison.Ordinal);
            Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_InvalidJson_Refuses()
        {
            string path = Safetensors("bad-json.safetensors", "{\"w\": {\"dtype\": ", Array.Empty<byte>());

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("its header is not valid JSON", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_DuplicateTensorName_Refuses()
        {
            string path = Safetensors(
                "dup.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                new byte[8]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("its header names 'w' twice", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_UnknownDtype_RefusesListingSupported()
        {
            string path = Safetensors("dtype.safetensors", "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensor 'w' has an unknown dtype 'F33'", e.Message, StringComparison.Ordinal);
            Assert.Contains("Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_ValidButUnsupportedDtype_SaysTorchSharpCannotHoldIt()
        {
            string path = Safetensors("u16.safetensors", "{\"w\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensor 'w' has dtype U16, which TorchSharp cannot hold", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_OffsetsBeyondData_Refuses()
        {
            string path = Safetensors("range.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", new byte[16]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensor 'w' spans data bytes 0..400, beyond the 16 data bytes the file holds", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_OverlappingByteRanges_Refuses()
        {
            string path = Safetensors(
                "overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                new byte[12]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensors 'a' (bytes 0..8) and 'b' (bytes 4..12) overlap", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_ShapeDisagreesWithByteRange_Refuses()
        {
            string path = Safetensors("size.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensor 'w' has shape [3] of F32 (12 bytes) but a byte range of 8 bytes", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_ShapeOverflowing64Bits_Refuses()
        {
            string path = Safetensors("overflow.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", new byte[4]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("shape [4294967296, 4294967296, 4] whose size overflows 64-bit arithmetic", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_NegativeDimension_Refuses()
        {
            string path = Safetensors("negative.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensor 'w' has 'shape' value -1; expected a non-negative 64-bit integer", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_GapBetweenTensors_Refuses()
        {
            string path = Safetensors(
                "gap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                new byte[12]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("data bytes 4..8 before tensor 'b' belong to no tensor", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_TrailingBytes_Refuses()
        {
            string path = Safetensors("trailing.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[10]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("its tensors cover 4 data bytes but the file holds 10", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_TruncatedFile_RefusesAsTruncated()
        {
            using var scope = NewDisposeScope();
            string path = folder.File("cut.safetensors");
            StateDictFile.WriteSafetensors(path, new[] { StateDictFileTests.Pair("a", ones(4)), StateDictFileTests.Pair("b", ones(8)) }, null);
            byte[] bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^5]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("tensor 'b' spans data bytes 16..48, beyond the 43 data bytes the file holds", e.Message, StringComparison.Ordinal);
            Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_NonStringMetadata_Refuses()
        {
            string path = Safetensors("meta.safetensors", "{\"__metadata__\":{\"epoch\":3}}", Array.Empty<byte>());

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.ReadSafetensorsMetadata(path));

            Assert.Contains("its __metadata__ entry 'epoch' is a JSON Number; metadata values must be strings", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_BoolByteOtherThanZeroOrOne_Refuses()
        {
            string path = Safetensors("bool.safetensors", "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[] { 1, 2 });

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("bool tensor 'b' holds bytes other than 0 and 1", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ReadSafetensorsMetadata_MalformedTensorEntry_AppliesSameValidation()
        {
            string path = Safetensors(
                "meta-bad.safetensors",
                "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                new byte[12]);

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.ReadSafetensorsMetadata(path));

            Assert.Contains("overlap", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_HandWrittenSpecExample_ReadsValues()
        {
            // Layout from the safetensors specification, written byte by byte: two F32 tensors, the
            // header padded with spaces, tensors stored in a different order from the header's.
            byte[] data = new byte[12];
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 7f);
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), 1.5f);
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), -2f);
            string path = Safetensors(
                "spec.safetensors",
                "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[4,12]},\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}     ",
                data);

            Dictionary<string, Tensor> read = StateDictFile.Read(path);

            Assert.Equal(new[] { "w", "b" }, read.Keys);
            Assert.Equal(new long[] { 1, 2 }, read["w"].shape);
            Assert.Equal(new[] { 1.5f, -2f }, read["w"].data<float>().ToArray());
            Assert.Equal(7f, read["b"].item<float>());
            Assert.Equal("pt", StateDictFile.ReadSafetensorsMetadata(path)["format"]);
            StateDictTestFolder.DisposeAll(read);
        }

        private string Safetensors(string name, string header, byte[] data)
        {
            byte[] json = Encoding.UTF8.GetBytes(header);
            return Raw(name, json.Length, header, data);
        }

        private string Raw(string name, long headerLength, string header, byte[]? data = null)
        {
            string path = folder.File(name);
            using var stream = File.Create(path);
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(prefix, headerLength);
            stream.Write(prefix);
            stream.Write(Encoding.UTF8.GetBytes(header));
            stream.Write(data ?? Array.Empty<byte>());
            return path;
        }
    }
}
