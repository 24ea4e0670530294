using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using MedicalTransfer.Internal;
using TorchSharp;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Reads and writes state dictionaries (tensors by name) in the formats MedicalTransfer accepts:
    /// PyTorch's zip checkpoint (what <c>torch.save(model.state_dict(), path)</c> writes since PyTorch 1.6),
    /// PyTorch's legacy format (what it wrote before, as torchvision's DenseNet checkpoints are) and safetensors. The format is recognised from the content, never from the extension.
    /// </summary>
    /// <remarks>
    /// Reading never runs code from the file: PyTorch pickles go through a restricted unpickler that
    /// accepts a dict of tensors and nothing else, and every size in either format is checked against
    /// the bytes actually present before any tensor is allocated. Writing produces safetensors only.
    /// </remarks>
    internal static class StateDictFile
    {
        private const int CopyBufferBytes = 1 << 20;

        private static readonly byte[] ZipMagic = { (byte)'P', (byte)'K', 3, 4 };

        /// <summary>
        /// Tests only: wraps the temporary file's stream of every write made in the current asynchronous flow, so
        /// that a write reached through other code (a trainer's checkpoint, a model's Save) can be failed mid-stream.
        /// </summary>
        internal static readonly AsyncLocal<Func<Stream, Stream>?> WriteFaultForTests = new();

        /// <summary>
        /// Reads every tensor of a PyTorch zip checkpoint or a safetensors file, as CPU tensors keyed by
        /// state-dict name, in file order (pickle order; safetensors header order). The caller owns the tensors.
        /// </summary>
        /// <param name="path">The file to read.</param>
        /// <returns>The state dictionary.</returns>
        /// <exception cref="FileNotFoundException">The file does not exist.</exception>
        /// <exception cref="WeightsFormatException">
        /// The file is empty, truncated, not a checkpoint, or holds
        /// anything other than a state_dict of tensors. The message names the file, the problem and the remedy.
        /// </exception>
        public static Dictionary<string, torch.Tensor> Read(string path)
        {
            Guard.NotNullOrWhiteSpace(path);
            using FileStream stream = OpenRead(path);
            return Detect(path, stream) switch
            {
                StateDictFormat.PyTorchZip => PyTorchCheckpointReader.Read(path, stream),
                StateDictFormat.PyTorchLegacy => ReadLegacy(path, stream),
                _ => SafetensorsFormat.ReadTensors(path, stream),
            };
        }

        /// <summary>
        /// Writes tensors (in the given order) to a safetensors file atomically: the data goes to a temporary
        /// file in the same folder, is flushed to disk, and then renamed over <paramref name="path"/>, so a
        /// crash never leaves a half-written file there (the previous file, if any, stays intact until the rename).
        /// See <see cref="AtomicFile"/>: a killed writer's temporary file is removed by the next write.
        /// </summary>
        /// <param name="path">The file to write; its folder must exist.</param>
        /// <param name="tensors">The tensors by name; names must be unique and non-empty. Any device; written from a CPU copy.</param>
        /// <param name="metadata">Strings stored under <c>__metadata__</c>, or null for none.</param>
        /// <exception cref="ArgumentException">A name is empty or repeated, a tensor is disposed, or its dtype has no safetensors code.</exception>
        /// <exception cref="DiskFullException">The file system is full; the previous file is intact.</exception>
        public static void WriteSafetensors(string path, IReadOnlyList<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata) =>
            WriteSafetensors(path, tensors, metadata, decorate: WriteFaultForTests.Value);

        /// <summary>
        /// <see cref="WriteSafetensors(string, IReadOnlyList{KeyValuePair{string, torch.Tensor}}, IReadOnlyDictionary{string, string}?)"/>
        /// with a hook that wraps the temporary file's stream; tests use it to fail mid-write.
        /// </summary>
        internal static void WriteSafetensors(
            string path,
            IReadOnlyList<KeyValuePair<string, torch.Tensor>> tensors,
            IReadOnlyDictionary<string, string>? metadata,
            Func<Stream, Stream>? decorate)
        {
            Guard.NotNullOrWhiteSpace(path);
            Guard.NotNull(tensors);

            // Validate everything before touching the disk.
            byte[] header = SafetensorsFormat.BuildHeader(tensors, metadata);

            long bytes = header.Length;
            foreach (KeyValuePair<string, torch.Tensor> pair in tensors)
            {
                bytes += pair.Value.NumberOfElements * pair.Value.ElementSize;
            }

            AtomicFile.Write(path, bytes, stream => SafetensorsFormat.Write(stream, header, tensors), decorate);
        }

        /// <summary>Reads only the <c>__metadata__</c> strings of a safetensors file (empty if it has none), validating the whole header.</summary>
        /// <param name="path">The safetensors file.</param>
        /// <returns>The metadata, in file order.</returns>
        /// <exception cref="FileNotFoundException">The file does not exist.</exception>
        /// <exception cref="WeightsFormatException">The file is not a valid safetensors file.</exception>
        public static IReadOnlyDictionary<string, string> ReadSafetensorsMetadata(string path)
        {
            Guard.NotNullOrWhiteSpace(path);
            using FileStream stream = OpenRead(path);
            if (Detect(path, stream) != StateDictFormat.Safetensors)
            {
                throw new WeightsFormatException(
                    $"'{path}' is a PyTorch checkpoint, not a safetensors file, so it carries no safetensors metadata. Pass a .safetensors file (for example one written by TransferModel.Save).");
            }

            return SafetensorsFormat.ReadHeader(path, stream).Metadata;
        }

        /// <summary>The size in bytes of one element of <paramref name="dtype"/>.</summary>
        internal static long ElementSize(torch.ScalarType dtype) => dtype switch
        {
            torch.ScalarType.Float64 or torch.ScalarType.Int64 => 8,
            torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
            torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
            torch.ScalarType.Int8 or torch.ScalarType.Byte or torch.ScalarType.Bool => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a dtype that state-dict files here hold."),
        };

        /// <summary>
        /// Fills a contiguous CPU tensor with the next bytes of <paramref name="stream"/>, straight into its
        /// memory when it fits one span; throws <see cref="EndOfStreamException"/> if the stream ends first.
        /// </summary>
        internal static void ReadInto(torch.Tensor tensor, Stream stream)
        {
            if (tensor.NumberOfElements * tensor.ElementSize <= int.MaxValue)
            {
                stream.ReadExactly(tensor.bytes);
            }
            else
            {
                tensor.ReadBytesFromStream(stream, CopyBufferBytes);
            }
        }

        /// <summary>Writes the bytes of a contiguous CPU tensor to <paramref name="stream"/>.</summary>
        internal static void WriteFrom(torch.Tensor tensor, Stream stream)
        {
            if (tensor.NumberOfElements * tensor.ElementSize <= int.MaxValue)
            {
                stream.Write(tensor.bytes);
            }
            else
            {
                tensor.WriteBytesToStream(stream, CopyBufferBytes);
            }
        }

        /// <summary>
        /// Turns bytes read for a bool tensor into the bool tensor, refusing values other than 0 and 1
        /// (libtorch assumes them; anything else is undefined behaviour).
        /// </summary>
        internal static torch.Tensor BytesToBool(string path, string what, torch.Tensor bytes)
        {
            using (torch.Tensor bad = bytes.gt(1).any())
            {
                if (bad.item<bool>())
                {
                    throw new WeightsFormatException(
                        $"'{path}' is corrupt: {what} holds bytes other than 0 and 1. Download or save it again.");
                }
            }

            return bytes.to_type(torch.ScalarType.Bool);
        }

        private static Dictionary<string, torch.Tensor> ReadLegacy(string path, FileStream stream)
        {
            try
            {
                return PyTorchCheckpointReader.ReadLegacy(path, stream);
            }
            catch (EndOfStreamException e)
            {
                throw new WeightsFormatException($"'{path}' is truncated: it ends inside a storage. Download or save it again.", e);
            }
        }

        private static FileStream OpenRead(string path)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"Weights file '{path}' does not exist. Check the path (relative paths resolve against '{Environment.CurrentDirectory}').", path);
            }

            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }

        private static StateDictFormat Detect(string path, FileStream stream)
        {
            long length = stream.Length;
            if (length == 0)
            {
                throw new WeightsFormatException(
                    $"'{path}' is empty (0 bytes). A download or save was probably interrupted: download or save it again.");
            }

            Span<byte> head = stackalloc byte[9];
            int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            head = head[..read];
            stream.Position = 0;

            if (head.StartsWith(ZipMagic))
            {
                return StateDictFormat.PyTorchZip;
            }

            // Safetensors first: its 8-byte header length can start with the bytes of a pickle's PROTO opcode
            // (a header of 640, 896, 1152 or 1408 bytes is 0x80 0x02..0x05), which a legacy-format check
            // would refuse (found by fuzzing, see docs/security.md). A '{' after a length that fits the file decides.
            if (read == 9 && head[8] == (byte)'{' && System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(head) <= (ulong)(length - 8))
            {
                return StateDictFormat.Safetensors;
            }

            if (read >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5)
            {
                // torch.save before 1.6 (torchvision's oldest checkpoints): a sequence of pickles and raw storages.
                return StateDictFormat.PyTorchLegacy;
            }

            if (read == 9 && head[8] == (byte)'{')
            {
                return StateDictFormat.Safetensors;
            }

            if (read >= 2 && head[0] == (byte)'P' && head[1] == (byte)'K')
            {
                throw new WeightsFormatException(
                    $"'{path}' is an empty or damaged zip file, not a PyTorch checkpoint. Download or save it again.");
            }

            throw new WeightsFormatException(string.Format(
                CultureInfo.InvariantCulture,
                "'{0}' is not a weights file MedicalTransfer can read: expected a PyTorch checkpoint (a zip written by torch.save(model.state_dict(), path)) or a safetensors file (an 8-byte header length, then '{{'); it starts with bytes {1}. Check that the path points at the weights file.",
                path,
                Convert.ToHexString(head)));
        }

        private enum StateDictFormat
        {
            PyTorchZip,
            PyTorchLegacy,
            Safetensors,
        }
    }
}
