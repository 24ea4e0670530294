using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using MedicalTransfer.Weights;
using Xunit;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>The restricted unpickler on hand-assembled pickles (opcodes as in CPython's pickletools).</summary>
    public sealed class PickleReaderTests
    {
        private const string File = "/data/hostile.pth";

        [Fact]
        public void Load_DictOfPrimitives_BuildsValuesInOrder()
        {
            // {'a': 1, 'b': -2, 'c': 'x', 'd': 1.5, 'e': None, 'f': True}, protocol 2 with memo puts.
            byte[] pickle = Bytes(
                0x80, 2, '}', 'q', 0, '(',
                Str("a"), 'K', 1,
                Str("b"), 0x8a, 1, 0xfe,
                Str("c"), Str("x"),
                Str("d"), 'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
                Str("e"), 'N',
                Str("f"), 0x88,
                'u', '.');

            var dict = Assert.IsType<PickledDict>(PickleReader.Load(pickle, File));

            Assert.False(dict.IsOrderedDict);
            Assert.Equal(new object?[] { "a", "b", "c", "d", "e", "f" }, dict.Items.Select(p => p.Key));
            Assert.Equal(new object?[] { 1L, -2L, "x", 1.5, null, true }, dict.Items.Select(p => p.Value));
        }

        [Fact]
        public void Load_StackGlobalBuiltinsEval_RefusesNamingGlobal()
        {
            // Protocol 4: 'builtins' 'eval' STACK_GLOBAL, then a call: the classic code-execution pickle.
            byte[] pickle = Bytes(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, 0x8c, 6, "1+1+1 ", 0x85, 'R', '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains(File, e.Message, StringComparison.Ordinal);
            Assert.Contains("state_dict only", e.Message, StringComparison.Ordinal);
            Assert.Contains("'builtins.eval'", e.Message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("__main__", "MyModel")]
        [InlineData("torchvision.models.resnet", "ResNet")]
        [InlineData("posix", "system")]
        [InlineData("torch", "load")]
        [InlineData("torch._utils", "_rebuild_qtensor")]
        [InlineData("collections", "defaultdict")]
        public void Load_GlobalOutsideAllowList_RefusesNamingGlobal(string module, string name)
        {
            byte[] pickle = Bytes(0x80, 2, 'c', $"{module}\n{name}\n", ')', 'R', '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("state_dict only", e.Message, StringComparison.Ordinal);
            Assert.Contains($"'{module}.{name}'", e.Message, StringComparison.Ordinal);
            Assert.Contains("torch.save(model.state_dict(), path)", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_InstOpcode_RefusesNamingClass()
        {
            byte[] pickle = Bytes('(', 'i', "os\nsystem\n", '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("'os.system'", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_NewObjOpcode_RefusesAsNotInStateDict()
        {
            byte[] pickle = Bytes(0x80, 2, 'c', "collections\nOrderedDict\n", ')', 0x81, '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("opcode 0x81", e.Message, StringComparison.Ordinal);
            Assert.Contains("never contains", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_NoStopOpcode_RefusesAsTruncated()
        {
            byte[] pickle = Bytes(0x80, 2, '}', Str("a"));

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("ends before the STOP opcode", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_StringLongerThanPickle_RefusesWithoutAllocating()
        {
            byte[] pickle = Bytes(0x80, 2, 'X', 0xf0, 0xff, 0xff, 0x7f, "abc", '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("declares 2147483632 bytes but only 4 remain", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_UnknownMemoEntry_Refuses()
        {
            byte[] pickle = Bytes(0x80, 2, 'h', 9, '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("memo entry 9", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_BuildOnPlainValue_Refuses()
        {
            byte[] pickle = Bytes(0x80, 2, ']', '}', 'b', '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("BUILD at offset 4 sets the state of a list", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_TensorRebuildWithStorage_GivesDescriptorWithoutAllocating()
        {
            // OrderedDict({'w': _rebuild_tensor_v2(storage('0', Float, 6), 1, (2, 2), (3, 1), False, OrderedDict())}),
            // the way torch.save writes it, then BUILD with a _metadata state as nn.Module.state_dict() carries.
            byte[] pickle = Bytes(
                0x80, 2, 'c', "collections\nOrderedDict\n", 'q', 0, ')', 'R', '(',
                Str("w"), 'c', "torch._utils\n_rebuild_tensor_v2\n", '(',
                '(', Str("storage"), 'c', "torch\nFloatStorage\n", Str("0"), Str("cpu"), 'K', 6, 't', 'Q',
                'K', 1, 'K', 2, 'K', 2, 0x86, 'K', 3, 'K', 1, 0x86, 0x89, 'h', 0, ')', 'R', 't', 'R',
                'u', '}', Str("_metadata"), 'h', 0, ')', 'R', 's', 'b', '.');

            var dict = Assert.IsType<PickledDict>(PickleReader.Load(pickle, File));

            Assert.True(dict.IsOrderedDict);
            var (key, value) = (dict.Items.Single().Key, dict.Items.Single().Value);
            Assert.Equal("w", key);
            var t = Assert.IsType<PickledTensor>(value);
            Assert.Equal(new PickledStorage("0", TorchSharp.torch.ScalarType.Float32, 6), t.Storage);
            Assert.Equal(1L, t.Offset);
            Assert.Equal(new long[] { 2, 2 }, t.Size);
            Assert.Equal(new long[] { 3, 1 }, t.Stride);
        }

        [Fact]
        public void Load_PersistentIdOfUnknownKind_Refuses()
        {
            byte[] pickle = Bytes(0x80, 2, Str("module"), 0x85, 'Q', '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("expected ('storage', type, key, location, numel)", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_ManyMemoEntriesForOneValue_RefusesAsCrafted()
        {
            // One value stored under many memo indices: a way to make the reader grow its memo without limit.
            byte[] pickle = Bytes(0x80, 2, 'N', 'q', 0, 'q', 1, 'q', 2, '.');

            var e = Assert.Throws<WeightsFormatException>(() => PickleReader.Load(pickle, File));

            Assert.Contains("memoizes more objects than it makes", e.Message, StringComparison.Ordinal);
        }

        private static object Str(string s) => new Str8(s);

        private static byte[] Bytes(params object[] parts)
        {
            var bytes = new List<byte>();
            foreach (object part in parts)
            {
                switch (part)
                {
                    case char c:
                        bytes.Add((byte)c);
                        break;
                    case int i:
                        bytes.Add((byte)i);
                        break;
                    case string s:
                        bytes.AddRange(Encoding.ASCII.GetBytes(s));
                        break;
                    case Str8 s:
                        byte[] utf8 = Encoding.UTF8.GetBytes(s.Value);
                        bytes.Add(0x8c); // SHORT_BINUNICODE
                        bytes.Add((byte)utf8.Length);
                        bytes.AddRange(utf8);
                        break;
                    default:
                        throw new ArgumentException(part.GetType().Name);
                }
            }

            return bytes.ToArray();
        }

        private sealed record Str8(string Value);
    }
}
