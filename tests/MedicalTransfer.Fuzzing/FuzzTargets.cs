using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Data.Dicom;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;

namespace MedicalTransfer.Fuzzing
{
    /// <summary>
    /// Every parser of untrusted bytes, one line each. A new parser (the DICOM reader, the CSV label
    /// table, a changed ONNX importer) is one more entry here plus a seed folder; run-fuzz.sh, the
    /// replay tests and the docs table pick it up from this list.
    /// </summary>
    public static class FuzzTargets
    {
        private const long MiB = 1L << 20;

        /// <summary>
        /// The float32 weights of torchvision's largest ResNet (ResNet-152, 60,192,808 parameters): an ONNX
        /// import may return a whole network, but no graph may make it allocate more than that one does.
        /// </summary>
        private const long LargestResNetBytes = 60_192_808L * 4;

        /// <summary>
        /// The external-data file beside the fuzzed ONNX model (seeds point their initializers at it): zeros,
        /// sparse, so that the importer reads real tensor data and walks the whole graph.
        /// </summary>
        private const long ExternalDataBytes = 16 * MiB;

        /// <summary>The fuzz targets' image pixel limit: small, so that one input decodes in milliseconds.</summary>
        internal static readonly ImageLoadOptions Images = new() { MaxPixels = 1 << 20 };

        /// <summary>
        /// What the DICOM reader may allocate beyond the image: a deflated data set inflates to at most
        /// 16 MiB + 8 bytes per pixel of MaxPixels (DicomParser.Inflate), and the growing buffer it inflates into
        /// allocates up to four times that on the way.
        /// </summary>
        private static readonly long InflatedDicomBytes = 4 * ((16 * MiB) + (8 * Images.MaxPixels));

        /// <summary>The label-table target's image root: stub files named as the CSV seeds' paths name them (ImageTable checks existence only).</summary>
        private static readonly string[] TableImages =
        {
            "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg",
            "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg",
            "CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg",
            "00000001_000.png", "00000001_001.png", "00000002_000.png", "00000003_000.png",
            "NORMAL/a.png", "PNEUMONIA/b.png", "NORMAL/c.png",
        };

        private static readonly Type[] ImageErrors = { typeof(ImageDataException) };
        private static readonly Type[] FormatErrors = { typeof(WeightsFormatException) };

        // A file saved with a custom head needs the caller's head factory: Load says so with an
        // InvalidOperationException (HeadSpec.Parse), which is part of its contract.
        private static readonly Type[] ModelErrors = { typeof(WeightsFormatException), typeof(WeightsMismatchException), typeof(InvalidOperationException) };
        private static readonly Type[] CheckpointErrors = { typeof(WeightsFormatException), typeof(WeightsMismatchException) };

        private static readonly Lazy<TransferModel> CheckpointModel = new(() => SeedWriter.BuildModel(SeedWriter.CheckpointArchitecture, Head.Linear()));

        /// <summary>The targets, by name.</summary>
        public static IReadOnlyList<FuzzTarget> All { get; } = new FuzzTarget[]
        {
            // Name, what it parses, file name, documented exceptions, allocation limit for n input bytes, ms per input, the call.
            new("png-gray", "Data/GrayPngDecoder: 8/16-bit gray PNG fast path (through ImageDecoder)", "input.png", ImageErrors, n => (32 * Images.MaxPixels) + (32 * n) + (16 * MiB), 2000, DecodeGrayPng),
            new("image", "Data/ImageDecoder: PNG, JPEG, BMP through ImageSharp", "input.img", ImageErrors, n => (32 * Images.MaxPixels) + (32 * n) + (16 * MiB), 2000, DecodeImage),
            new("pickle", "Weights/PickleReader: restricted unpickler (data.pkl)", "input.pkl", FormatErrors, n => (256 * n) + (16 * MiB), 2000, (path, bytes) => Keep(PickleReader.Load(bytes, path))),
            new("pytorch-zip", "Weights/PyTorchCheckpointReader: torch.save zip checkpoint", "input.pth", FormatErrors, n => (1100 * n) + (16 * MiB), 2000, ReadPyTorch),
            new("safetensors", "Weights/SafetensorsFormat: safetensors reader", "input.safetensors", FormatErrors, n => (16 * n) + (16 * MiB), 2000, ReadSafetensors),
            new("onnx", "Weights/OnnxProtobuf + OnnxResNetImporter: ONNX ResNet import", "input.onnx", FormatErrors, n => (64 * n) + (16 * MiB) + LargestResNetBytes, 3000, ImportOnnx),
            new("model-file", "TransferModel.Load: the SDK's model file", "input.model.safetensors", ModelErrors, n => (64 * n) + (64 * MiB), 5000, LoadModel),
            new("training-checkpoint", "Training/TrainingCheckpoint.ReadFor: the trainer's resume file", "input.ckpt.safetensors", CheckpointErrors, n => (64 * n) + (64 * MiB), 5000, ReadCheckpoint),
            new("dicom", "Data/Dicom: DICOM reader (every transfer syntax it decodes) and value mapping", "input.dcm", ImageErrors, n => (64 * Images.MaxPixels) + InflatedDicomBytes + (32 * n) + (16 * MiB), 2000, DecodeDicom),
            new("csv", "Data/CsvReader + ImageTable.Load: label tables (CheXpert, NIH, two-class layouts)", "input.csv", ImageErrors, n => (1024 * n) + (16 * MiB), 2000, ReadTable),
        };

        /// <summary>The target called <paramref name="name"/>.</summary>
        /// <param name="name">A target name from <see cref="All"/>.</param>
        /// <returns>The target.</returns>
        public static FuzzTarget Find(string name) =>
            All.FirstOrDefault(t => t.Name == name) ?? throw new ArgumentException($"No fuzz target '{name}'. Targets: {string.Join(", ", All.Select(t => t.Name))}.", nameof(name));

        /// <summary>Only inputs whose header takes the fast path: the rest is the image target's.</summary>
        private static long DecodeGrayPng(string path, byte[] bytes) =>
            GrayPngDecoder.IsFastGray(bytes, out _, out _, out _) ? DecodeImage(path, bytes) : 0;

        private static long DecodeImage(string path, byte[] bytes)
        {
            using FloatImage image = ImageDecoder.Decode(path, bytes, Images);
            return 0; // pooled: the decoder's buffer goes back when disposed
        }

        /// <summary>Every input goes to the DICOM reader itself (not through the format sniffing of ImageDecoder, which the image target covers).</summary>
        private static long DecodeDicom(string path, byte[] bytes)
        {
            using FloatImage image = DicomImageDecoding.Decode(path, bytes, Images);
            return 0; // pooled, as the image target's
        }

        /// <summary>
        /// The CSV reader over the whole file (BOM, UTF-8 check, quotes, CRLF), then ImageTable.Load with the
        /// layout the header asks for: NIH's when it names "Finding Labels", CheXpert's when it names
        /// "No Finding", a two-class table otherwise; missing images are skipped, so the rows reach the
        /// label, patient and view parsing.
        /// </summary>
        private static long ReadTable(string path, byte[] bytes)
        {
            int firstLine = Array.IndexOf(bytes, (byte)'\n');
            string header = System.Text.Encoding.UTF8.GetString(bytes, 0, firstLine < 0 ? bytes.Length : firstLine);
            char delimiter = header.Contains('\t', StringComparison.Ordinal) ? '\t' : ',';
            _ = CsvReader.Read(path, delimiter).Count();
            ImageTableLayout layout = header.Contains("Finding Labels", StringComparison.Ordinal) ? ImageTableLayouts.NihChestXray14
                : header.Contains("No Finding", StringComparison.Ordinal) ? ImageTableLayouts.CheXpert
                : ImageTableLayouts.ForClasses();
            string root = Path.Combine(Path.GetDirectoryName(path)!, "images");
            if (!Directory.Exists(root))
            {
                foreach (string image in TableImages)
                {
                    string file = Path.Combine(root, image);
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    File.WriteAllBytes(file, Array.Empty<byte>());
                }
            }

            _ = ImageTable.Load(path, layout, new ImageTableOptions { Root = root, Delimiter = delimiter, MissingFiles = BadImagePolicy.Skip });
            return 0; // strings and samples: managed, already counted
        }

        private static long ReadPyTorch(string path, byte[] bytes)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return Dispose(PyTorchCheckpointReader.Read(path, stream).Values);
        }

        private static long ReadSafetensors(string path, byte[] bytes)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return Dispose(SafetensorsFormat.ReadTensors(path, stream).Values);
        }

        private static long ImportOnnx(string path, byte[] bytes)
        {
            string external = Path.Combine(Path.GetDirectoryName(path)!, "weights.bin");
            if (!File.Exists(external))
            {
                using var file = File.Create(external);
                file.SetLength(ExternalDataBytes);
            }

            using OnnxImportResult result = OnnxResNetImporter.Import(path, NullLogger.Instance);
            return Bytes(result.StateDict.Values);
        }

        private static long LoadModel(string path, byte[] bytes)
        {
            using TransferModel model = TransferModel.Load(path, torch.CPU);
            return 0;
        }

        private static long ReadCheckpoint(string path, byte[] bytes)
        {
            using TrainingCheckpoint checkpoint = TrainingCheckpoint.ReadFor(path, CheckpointModel.Value);
            return Bytes(checkpoint.Tensors.Values);
        }

        private static long Keep(object? value) => 0;

        private static long Bytes(IEnumerable<torch.Tensor> tensors) => tensors.Sum(t => t.NumberOfElements * t.ElementSize);

        private static long Dispose(IEnumerable<torch.Tensor> tensors)
        {
            long bytes = 0;
            foreach (torch.Tensor t in tensors)
            {
                bytes += t.NumberOfElements * t.ElementSize;
                t.Dispose();
            }

            return bytes;
        }
    }
}
