using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Weights;
using TorchSharp;
using Xunit;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>Format detection and the file-level failures every format shares.</summary>
    public sealed class StateDictFileTests : IDisposable
    {
        private readonly StateDictTestFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void Read_MissingFile_ThrowsFileNotFoundNamingFile()
        {
            string path = folder.File("absent.pth");

            var e = Assert.Throws<FileNotFoundException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_EmptyFile_ThrowsFormatExceptionSayingEmpty()
        {
            string path = folder.File("empty.pth");
            File.WriteAllBytes(path, Array.Empty<byte>());

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("is empty (0 bytes)", e.Message, StringComparison.Ordinal);
            Assert.Contains("download or save it again", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_TextFile_ThrowsFormatExceptionNamingBothFormats()
        {
            string path = folder.File("notes.pth");
            File.WriteAllText(path, "these are not weights");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("not a weights file", e.Message, StringComparison.Ordinal);
            Assert.Contains("torch.save", e.Message, StringComparison.Ordinal);
            Assert.Contains("safetensors", e.Message, StringComparison.Ordinal);
            Assert.Contains("7468657365", e.Message, StringComparison.Ordinal); // "these" in hex
        }

        [Fact]
        public void Read_EmptyZip_ThrowsFormatExceptionNotACheckpoint()
        {
            string path = folder.File("empty.zip");
            using (var zip = new System.IO.Compression.ZipArchive(File.Create(path), System.IO.Compression.ZipArchiveMode.Create))
            {
                zip.CreateEntry("readme.txt");
            }

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.Read(path));

            Assert.Contains("no '<archive>/data.pkl' record", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_SafetensorsNamedPth_DetectsFormatFromContent()
        {
            string path = folder.File("really-safetensors.pth");
            using var scope = torch.NewDisposeScope();
            StateDictFile.WriteSafetensors(path, new[] { Pair("w", torch.tensor(new[] { 1.5f, -2f })) }, metadata: null);

            Dictionary<string, torch.Tensor> read = StateDictFile.Read(path);

            Assert.Equal(new[] { 1.5f, -2f }, read["w"].data<float>().ToArray());
            StateDictTestFolder.DisposeAll(read);
        }

        [Fact]
        public void Read_PyTorchFileNamedSafetensors_DetectsFormatFromContent()
        {
            string path = folder.File("really-pytorch.safetensors");
            File.Copy(StateDictTestFolder.Fixture("tiny_state_dict.pth"), path);

            Dictionary<string, torch.Tensor> read = StateDictFile.Read(path);

            Assert.Equal(new long[] { 2, 1, 2, 2 }, read["conv.weight"].shape);
            StateDictTestFolder.DisposeAll(read);
        }

        [Fact]
        public void ReadSafetensorsMetadata_PyTorchFile_ThrowsFormatException()
        {
            string path = StateDictTestFolder.Fixture("tiny_state_dict.pth");

            var e = Assert.Throws<WeightsFormatException>(() => StateDictFile.ReadSafetensorsMetadata(path));

            Assert.Contains("not a safetensors file", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_NullOrBlankPath_ThrowsArgumentException()
        {
            Assert.Throws<ArgumentNullException>(() => StateDictFile.Read(null!));
            Assert.Throws<ArgumentException>(() => StateDictFile.Read(" "));
        }

        internal static KeyValuePair<string, torch.Tensor> Pair(string name, torch.Tensor tensor) => new(name, tensor);
    }

    /// <summary>A temporary folder for one test class, and fixture paths.</summary>
    internal sealed class StateDictTestFolder : IDisposable
    {
        public StateDictTestFolder()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mt-statedict-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public static string Fixture(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", "StateDicts", name);

        public static void DisposeAll(Dictionary<string, torch.Tensor> tensors)
        {
            foreach (torch.Tensor t in tensors.Values)
            {
                t.Dispose();
            }
        }

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public string[] Files() => Directory.GetFiles(Path).Select(System.IO.Path.GetFileName).ToArray()!;

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
