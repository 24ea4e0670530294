using System;
using System.IO;
using MedicalTransfer.Prediction;

namespace BatchPrediction
{
    /// <summary>The checked arguments of one run.</summary>
    internal sealed record BatchSettings
    {
        public string Model { get; init; } = string.Empty;

        public bool IsOnnx { get; init; }

        public string Images { get; init; } = string.Empty;

        public string Output { get; init; } = string.Empty;

        public bool Resume { get; init; }

        public int BatchSize { get; init; }

        public int Workers { get; init; }

        public int? Threads { get; init; }

        public static BatchSettings From(string? model, string? images, string output, bool resume, int batchSize, int workers, int? threads)
        {
            if (model is null)
            {
                throw new ArgumentException("--model is required: an exported .onnx file or a saved .safetensors model.");
            }

            if (!File.Exists(model))
            {
                throw new ArgumentException($"--model: the file '{Path.GetFullPath(model)}' does not exist.");
            }

            string extension = Path.GetExtension(model).ToLowerInvariant();
            if (extension is not (".onnx" or ".safetensors"))
            {
                throw new ArgumentException($"--model: '{Path.GetFileName(model)}' is neither an .onnx export nor a .safetensors saved model.");
            }

            if (images is null)
            {
                throw new ArgumentException("--images is required: the folder of images to classify.");
            }

            if (!Directory.Exists(images))
            {
                throw new ArgumentException($"--images: the folder '{Path.GetFullPath(images)}' does not exist.");
            }

            if (batchSize is < 1 or > 4096)
            {
                throw new ArgumentException($"--batch-size must be from 1 to 4096; found {batchSize}.");
            }

            if (workers is < 1 or > 256)
            {
                throw new ArgumentException($"--workers must be from 1 to 256; found {workers}.");
            }

            if (threads is < 1 or > 1024)
            {
                throw new ArgumentException($"--threads must be from 1 to 1024; found {threads}.");
            }

            string full = Path.GetFullPath(output);
            if (!Directory.Exists(Path.GetDirectoryName(full)))
            {
                throw new ArgumentException($"--out: the folder of '{full}' does not exist.");
            }

            if (File.Exists(full) && !resume)
            {
                throw new ArgumentException($"--out: '{full}' exists; pass --resume to continue it, or choose another file (nothing is overwritten).");
            }

            if (ImageClassifierExtensions.ImageFiles(images).Count == 0)
            {
                throw new ArgumentException($"--images: the folder '{Path.GetFullPath(images)}' holds no .png, .jpg, .jpeg or .bmp files (subfolders included).");
            }

            return new BatchSettings
            {
                Model = Path.GetFullPath(model),
                IsOnnx = extension == ".onnx",
                Images = Path.GetFullPath(images),
                Output = full,
                Resume = resume,
                BatchSize = batchSize,
                Workers = workers,
                Threads = threads,
            };
        }
    }
}
