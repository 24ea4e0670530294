using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using TorchSharp;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Reads a state_dict from a PyTorch zip checkpoint (what <c>torch.save</c> writes since PyTorch 1.6):
    /// <c>&lt;archive&gt;/data.pkl</c> parsed by <see cref="PickleReader"/>, storages from
    /// <c>&lt;archive&gt;/data/&lt;key&gt;</c>. Every tensor is checked against the bytes its entry holds
    /// before any tensor memory is allocated.
    /// </summary>
    internal static class PyTorchCheckpointReader
    {
        /// <summary>The largest <c>data.pkl</c> accepted; a state_dict's pickle holds names and shapes only.</summary>
        internal const long MaxPickleBytes = 64L * 1024 * 1024;

        /// <summary>DEFLATE cannot expand data by more than about 1032:1; a larger claim is a forged size.</summary>
        private const long MaxDeflateRatio = 1032;

        public static Dictionary<string, torch.Tensor> Read(string path, FileStream stream)
        {
            ZipArchive archive;
            try
            {
                archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            }
            catch (InvalidDataException e)
            {
                throw new WeightsFormatException(
                    $"'{path}' starts like a PyTorch zip checkpoint but its zip directory cannot be read ({e.Message}); the file is truncated or corrupt. Download or save it again.",
                    e);
            }

            using (archive)
            {
                try
                {
                    return Read(path, stream.Length, archive);
                }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
                {
                    throw new WeightsFormatException(
                        $"'{path}' is a damaged PyTorch checkpoint: reading it failed ({e.Message}); the file is truncated or corrupt. Download or save it again.",
                        e);
                }
            }
        }

        private static Dictionary<string, torch.Tensor> Read(string path, long fileLength, ZipArchive archive)
        {
            ZipArchiveEntry pickleEntry = FindPickle(path, archive);
            string prefix = pickleEntry.FullName[..^"data.pkl".Length];

            ZipArchiveEntry? byteOrder = archive.GetEntry(prefix + "byteorder");
            if (byteOrder is not null)
            {
                string order = Encoding.ASCII.GetString(ReadSmallEntry(path, byteOrder, fileLength, 64)).Trim();
                if (order != "little")
                {
                    throw new WeightsFormatException(
                        $"'{path}' was saved on a '{order}'-endian machine; only little-endian checkpoints are supported. Re-save it with torch.save on an x86 or ARM machine.");
                }
            }

            if (!BitConverter.IsLittleEndian)
            {
                throw new WeightsFormatException($"'{path}' cannot be read on a big-endian machine: PyTorch checkpoints store little-endian data.");
            }

            byte[] pickle = ReadSmallEntry(path, pickleEntry, fileLength, MaxPickleBytes);
            object? root = PickleReader.Load(pickle, path);
            List<KeyValuePair<string, PickledTensor>> tensors = ToStateDict(path, root);

            // Pass 1: validate every tensor against its storage entry; nothing is allocated yet.
            var storages = new Dictionary<string, (PickledStorage Storage, ZipArchiveEntry Entry)>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, PickledTensor> pair in tensors)
            {
                PickledStorage storage = pair.Value.Storage;
                if (!storages.TryGetValue(storage.Key, out var known))
                {
                    ZipArchiveEntry entry = archive.GetEntry(prefix + "data/" + storage.Key)
                        ?? throw new WeightsFormatException(
                            $"'{path}' is incomplete: tensor '{pair.Key}' refers to storage '{storage.Key}', but the archive has no entry '{prefix}data/{storage.Key}'. Save the state_dict again with torch.save.");
                    ValidateStorage(path, pair.Key, storage, entry, fileLength);
                    storages.Add(storage.Key, (storage, entry));
                }
                else if (known.Storage.DType != storage.DType || known.Storage.Count != storage.Count)
                {
                    throw new WeightsFormatException(
                        $"'{path}' is inconsistent: tensor '{pair.Key}' reads storage '{storage.Key}' as {storage.Count} x {storage.DType}, another tensor as {known.Storage.Count} x {known.Storage.DType}. Save the state_dict again with torch.save.");
                }

                ValidateView(path, pair.Key, pair.Value);
            }

            // Pass 2: read each storage once, then cut the tensors out of it.
            return Materialize(tensors, storage => LoadStorage(path, storages[storage.Key].Storage, storages[storage.Key].Entry));
        }

        /// <summary>
        /// Reads a state_dict from a PyTorch file in the legacy format (what <c>torch.save</c> wrote before 1.6, and what
        /// torchvision's oldest checkpoints are): a pickled magic number, protocol version and system info, the
        /// state_dict's pickle (storages as persistent ids), the pickled list of storage keys, then each storage as an
        /// int64 element count and its raw little-endian bytes. The same restricted unpickler and the same checks as for
        /// zip files apply, and every storage is checked against the bytes present before any tensor is allocated.
        /// </summary>
        public static Dictionary<string, torch.Tensor> ReadLegacy(string path, FileStream stream)
        {
            long fileLength = stream.Length;
            var head = new byte[(int)Math.Min(fileLength, MaxPickleBytes)];
            stream.ReadExactly(head);
            object? magic = PickleReader.LoadLegacy(head, 0, path, out int end);
            object? version = magic is PickledBigInteger ? PickleReader.LoadLegacy(head, end, path, out end) : null;
            if (magic is not PickledBigInteger || version is not long protocol || protocol != 1001)
            {
                throw new WeightsFormatException(
                    $"'{path}' is a pickle but not a PyTorch checkpoint (it does not start with torch.save's magic number and protocol version 1001). MedicalTransfer loads torch.save(model.state_dict(), path) files and .safetensors files.");
            }

            object? systemInfo = PickleReader.LoadLegacy(head, end, path, out end);
            if (systemInfo is not PickledDict info || !info.Items.Any(p => p.Key as string == "little_endian" && p.Value is true))
            {
                throw new WeightsFormatException($"'{path}' was saved on a big-endian machine (or its system information is damaged); only little-endian checkpoints are supported. Re-save it with torch.save on an x86 or ARM machine.");
            }

            object? root = PickleReader.LoadLegacy(head, end, path, out end);
            List<KeyValuePair<string, PickledTensor>> tensors = ToStateDict(path, root);
            object? keyList = PickleReader.LoadLegacy(head, end, path, out end);
            if (keyList is not PickledList { Items: var keyItems } || keyItems.Any(k => k is not string))
            {
                throw new WeightsFormatException($"'{path}' is damaged: the list of storage keys after the state_dict is a {PickleReader.DescribeValue(keyList)}. Download or save it again.");
            }

            // Where each storage's bytes lie: they follow the key list in its order, each after its int64 element count.
            var layout = new Dictionary<string, (long Offset, long Count)>(StringComparer.Ordinal);
            long position = end;
            var declared = tensors.GroupBy(t => t.Value.Storage.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Value.Storage, StringComparer.Ordinal);
            var countBytes = new byte[8];
            foreach (string key in keyItems.Cast<string>())
            {
                if (position + 8 > fileLength)
                {
                    throw new WeightsFormatException($"'{path}' is truncated: storage '{key}' starts after the end of the file. Download or save it again.");
                }

                stream.Position = position;
                stream.ReadExactly(countBytes);
                long count = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(countBytes);
                long elementSize = declared.TryGetValue(key, out var storage) ? StateDictFile.ElementSize(storage.DType) : 1;
                long bytes = count >= 0 && count <= (fileLength / Math.Max(1, elementSize)) ? count * elementSize : -1;
                if (bytes < 0 || position + 8 + bytes > fileLength)
                {
                    throw new WeightsFormatException($"'{path}' is truncated or corrupt: storage '{key}' claims {count} elements, more than the file holds. Download or save it again.");
                }

                if (storage is not null && count != storage.Count)
                {
                    throw new WeightsFormatException($"'{path}' is inconsistent: storage '{key}' holds {count} elements but its tensors expect {storage.Count}. Download or save it again.");
                }

                if (!layout.TryAdd(key, (position + 8, count)))
                {
                    throw new WeightsFormatException($"'{path}' is malformed: storage '{key}' is listed twice. Save the state_dict again with torch.save.");
                }

                position += 8 + bytes;
            }

            foreach (KeyValuePair<string, PickledTensor> pair in tensors)
            {
                if (!layout.ContainsKey(pair.Value.Storage.Key))
                {
                    throw new WeightsFormatException($"'{path}' is incomplete: tensor '{pair.Key}' refers to storage '{pair.Value.Storage.Key}', which the file does not hold. Save the state_dict again with torch.save.");
                }

                ValidateView(path, pair.Key, pair.Value);
            }

            return Materialize(tensors, storage =>
            {
                bool isBool = storage.DType == torch.ScalarType.Bool;
                torch.Tensor tensor = torch.empty(new[] { storage.Count }, isBool ? torch.ScalarType.Byte : storage.DType);
                stream.Position = layout[storage.Key].Offset;
                StateDictFile.ReadInto(tensor, stream);
                return isBool ? StateDictFile.BytesToBool(path, $"bool storage '{storage.Key}'", tensor) : tensor;
            });
        }

        /// <summary>Reads each storage once (through <paramref name="loadStorage"/>) and cuts the tensors out of it.</summary>
        private static Dictionary<string, torch.Tensor> Materialize(List<KeyValuePair<string, PickledTensor>> tensors, Func<PickledStorage, torch.Tensor> loadStorage)
        {
            var users = tensors.GroupBy(p => p.Value.Storage.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            using var scope = torch.NewDisposeScope();
            var loaded = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
            var result = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, PickledTensor> pair in tensors)
            {
                PickledTensor t = pair.Value;
                if (!loaded.TryGetValue(t.Storage.Key, out torch.Tensor? storage))
                {
                    storage = loadStorage(t.Storage);
                    loaded.Add(t.Storage.Key, storage);
                }

                torch.Tensor tensor;
                if (users[t.Storage.Key] == 1 && t.Offset == 0 && IsContiguous(t) && Count(t.Size) == t.Storage.Count)
                {
                    // The usual case: the tensor is its whole storage, read straight into place.
                    tensor = storage.view(t.Size);
                }
                else
                {
                    // A copy: the result owns its memory and does not pin (or share) the storage, and
                    // non-contiguous strides (a transposed weight) give the values PyTorch would show.
                    tensor = torch.empty(t.Size, storage.dtype);
                    tensor.copy_(storage.as_strided(t.Size, t.Stride, t.Offset));
                }

                result.Add(pair.Key, tensor);
            }

            foreach (torch.Tensor tensor in result.Values)
            {
                tensor.MoveToOuterDisposeScope();
            }

            return result;
        }

        private static ZipArchiveEntry FindPickle(string path, ZipArchive archive)
        {
            bool torchScript = archive.Entries.Any(e => e.FullName.EndsWith("/constants.pkl", StringComparison.Ordinal) || e.FullName.Contains("/code/", StringComparison.Ordinal));
            if (torchScript)
            {
                throw new WeightsFormatException(
                    $"'{path}' is a TorchScript archive (torch.jit.save), not a state_dict checkpoint. In Python, save the weights with torch.save(model.state_dict(), path) and load that file.");
            }

            var pickles = archive.Entries
                .Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/', StringComparison.Ordinal) == e.FullName.Length - "/data.pkl".Length)
                .ToList();
            if (pickles.Count == 1)
            {
                return pickles[0];
            }

            if (pickles.Count > 1)
            {
                throw new WeightsFormatException(
                    $"'{path}' holds {pickles.Count} data.pkl records ({string.Join(", ", pickles.Select(p => p.FullName))}); a torch.save checkpoint has exactly one. Save the state_dict again with torch.save.");
            }

            throw new WeightsFormatException(
                $"'{path}' is a zip file but not a PyTorch checkpoint: it has no '<archive>/data.pkl' record. Expected a file written by torch.save(model.state_dict(), path), or a .safetensors file.");
        }

        private static byte[] ReadSmallEntry(string path, ZipArchiveEntry entry, long fileLength, long limit)
        {
            CheckDeclaredSize(path, entry, fileLength);
            if (entry.Length > limit)
            {
                throw new WeightsFormatException(
                    $"'{path}' has a '{entry.FullName}' record of {entry.Length} bytes; at most {limit} are accepted for it. The file is not a plain state_dict checkpoint.");
            }

            var buffer = new byte[entry.Length];
            using Stream s = entry.Open();
            s.ReadExactly(buffer);
            return buffer;
        }

        private static void CheckDeclaredSize(string path, ZipArchiveEntry entry, long fileLength)
        {
            bool forged = entry.CompressedLength < 0 || entry.Length < 0 || entry.CompressedLength > fileLength
                || (entry.Length > entry.CompressedLength && entry.Length / MaxDeflateRatio > entry.CompressedLength + 1);
            if (forged)
            {
                throw new WeightsFormatException(
                    $"'{path}' is corrupt: its record '{entry.FullName}' claims {entry.Length} bytes from {entry.CompressedLength} stored bytes in a file of {fileLength} bytes. Download or save it again.");
            }
        }

        private static List<KeyValuePair<string, PickledTensor>> ToStateDict(string path, object? root)
        {
            if (root is PickledTensor)
            {
                throw new WeightsFormatException(
                    $"'{path}' holds a single tensor, not a state_dict. MedicalTransfer loads state_dict only: save a dict of named tensors, torch.save(model.state_dict(), path).");
            }

            if (root is not PickledDict dict)
            {
                throw new WeightsFormatException(
                    $"'{path}' holds a pickled {PickleReader.DescribeValue(root)}, not a state_dict. MedicalTransfer loads state_dict only: save it with torch.save(model.state_dict(), path).");
            }

            // A training checkpoint ({"state_dict": {...}, "epoch": 3}) is refused rather than unwrapped:
            // which entry holds the model's weights is a guess (optimizer state holds tensors too).
            List<string> nested = dict.Items
                .Where(p => p.Value is PickledDict inner && inner.Items.Any(i => i.Value is PickledTensor))
                .Select(p => p.Key as string ?? "?")
                .ToList();
            if (nested.Count > 0)
            {
                string keys = string.Join(", ", dict.Items.Select(p => p.Key as string ?? PickleReader.DescribeValue(p.Key)).Take(10));
                throw new WeightsFormatException(
                    $"'{path}' holds a training checkpoint (keys: {keys}) whose tensors are nested under '{nested[0]}', not a state_dict. MedicalTransfer loads state_dict only: "
                    + $"save the state_dict itself, e.g. torch.save(checkpoint['{nested[0]}'], 'weights.pth').");
            }

            var result = new List<KeyValuePair<string, PickledTensor>>(dict.Items.Count);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (KeyValuePair<object?, object?> pair in dict.Items)
            {
                if (pair.Key is not string name)
                {
                    throw new WeightsFormatException(
                        $"'{path}' is not a state_dict: it has a key of type {PickleReader.DescribeValue(pair.Key)}; a state_dict maps parameter names (str) to tensors. Save it with torch.save(model.state_dict(), path).");
                }

                if (pair.Value is not PickledTensor tensor)
                {
                    throw new WeightsFormatException(
                        $"'{path}' is not a state_dict of tensors: '{name}' is a {PickleReader.DescribeValue(pair.Value)}. MedicalTransfer loads state_dict only: save it with torch.save(model.state_dict(), path).");
                }

                if (!seen.Add(name))
                {
                    throw new WeightsFormatException($"'{path}' is malformed: the key '{name}' occurs twice. Save the state_dict again with torch.save.");
                }

                result.Add(new KeyValuePair<string, PickledTensor>(name, tensor));
            }

            return result;
        }

        private static void ValidateStorage(string path, string name, PickledStorage storage, ZipArchiveEntry entry, long fileLength)
        {
            CheckDeclaredSize(path, entry, fileLength);
            long elementSize = StateDictFile.ElementSize(storage.DType);
            long bytes;
            try
            {
                bytes = checked(storage.Count * elementSize);
            }
            catch (OverflowException)
            {
                bytes = -1;
            }

            if (storage.Count < 0 || bytes < 0)
            {
                throw new WeightsFormatException(
                    $"'{path}' is corrupt: tensor '{name}' declares a storage of {storage.Count} elements, which overflows. The file is damaged or crafted; do not use it.");
            }

            if (bytes > entry.Length)
            {
                throw new WeightsFormatException(
                    $"'{path}' is corrupt: tensor '{name}' needs {bytes} bytes of storage '{storage.Key}' ({storage.Count} x {storage.DType}), but the file holds only {entry.Length}. The file is truncated or crafted; download or save it again.");
            }
        }

        private static void ValidateView(string path, string name, PickledTensor t)
        {
            string Shape() => "[" + string.Join(", ", t.Size.Select(s => s.ToString(CultureInfo.InvariantCulture))) + "]";

            if (t.Size.Length != t.Stride.Length || t.Size.Length > 64)
            {
                throw new WeightsFormatException(
                    $"'{path}' is corrupt: tensor '{name}' has {t.Size.Length} sizes and {t.Stride.Length} strides. Save the state_dict again with torch.save.");
            }

            if (t.Offset < 0 || t.Size.Any(s => s < 0) || t.Stride.Any(s => s < 0))
            {
                throw new WeightsFormatException(
                    $"'{path}' is corrupt: tensor '{name}' has a negative size, stride or offset (shape {Shape()}). The file is damaged or crafted; do not use it.");
            }

            long count;
            long lastElement;
            try
            {
                count = 1;
                lastElement = t.Offset;
                for (int i = 0; i < t.Size.Length; i++)
                {
                    count = checked(count * t.Size[i]);
                    if (t.Size[i] > 0)
                    {
                        lastElement = checked(lastElement + checked((t.Size[i] - 1) * t.Stride[i]));
                    }
                }

                _ = checked(count * StateDictFile.ElementSize(t.Storage.DType));
            }
            catch (OverflowException)
            {
                throw new WeightsFormatException(
                    $"'{path}' is corrupt: the shape {Shape()} of tensor '{name}' overflows 64-bit arithmetic. The file is damaged or crafted; do not use it.");
            }

            if (count == 0)
            {
                return;
            }

            if (lastElement >= t.Storage.Count)
            {
                throw new WeightsFormatException(
                    $"'{path}' is corrupt: tensor '{name}' (shape {Shape()}, offset {t.Offset}) reaches element {lastElement} of storage '{t.Storage.Key}', which holds only {t.Storage.Count} elements. The file is truncated or crafted; download or save it again.");
            }

            if (count > t.Storage.Count)
            {
                // Only a self-overlapping view (a zero stride, as from expand()) has more elements than
                // its storage; copying it could allocate far more than the file holds.
                throw new WeightsFormatException(
                    $"'{path}' has tensor '{name}' with shape {Shape()}: {count} elements viewed over a storage of {t.Storage.Count} (overlapping strides, e.g. from expand()). Save a contiguous copy: state_dict values .contiguous().clone().");
            }
        }

        private static long Count(long[] size) => size.Aggregate(1L, (a, b) => a * b);

        private static bool IsContiguous(PickledTensor t)
        {
            long expected = 1;
            for (int i = t.Size.Length - 1; i >= 0; i--)
            {
                if (t.Size[i] != 1 && t.Stride[i] != expected)
                {
                    return false;
                }

                expected *= t.Size[i];
            }

            return true;
        }

        private static torch.Tensor LoadStorage(string path, PickledStorage storage, ZipArchiveEntry entry)
        {
            bool isBool = storage.DType == torch.ScalarType.Bool;
            torch.Tensor tensor = torch.empty(new[] { storage.Count }, isBool ? torch.ScalarType.Byte : storage.DType);
            using (Stream s = entry.Open())
            {
                try
                {
                    StateDictFile.ReadInto(tensor, s);
                }
                catch (EndOfStreamException e)
                {
                    throw new WeightsFormatException(
                        $"'{path}' is truncated: storage '{entry.FullName}' ends before its {storage.Count} x {storage.DType} elements. Download or save it again.",
                        e);
                }
            }

            return isBool ? StateDictFile.BytesToBool(path, $"bool storage '{entry.FullName}'", tensor) : tensor;
        }
    }
}
