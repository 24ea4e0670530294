using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;

namespace GradCamExplorer
{
    /// <summary>The checked arguments of one run.</summary>
    internal sealed record ExplorerSettings
    {
        /// <summary>The saved model, or <see langword="null"/> to train the demo model first.</summary>
        public string? Model { get; init; }

        /// <summary>The folder to explain, or <see langword="null"/> for the demo's held-out phantoms.</summary>
        public string? Images { get; init; }

        public string Output { get; init; } = string.Empty;

        public string Layer { get; init; } = "layer4";

        public string Method { get; init; } = "gradcam";

        public int Seed { get; init; }

        public static ExplorerSettings From(string? model, string? images, string? output, string layer, string method, int seed)
        {
            if (model is not null && !File.Exists(model))
            {
                throw new ArgumentException($"--model: the file '{Path.GetFullPath(model)}' does not exist. Expected a model saved with TransferModel.Save (for example model.safetensors from the ChestXrayPneumonia sample).");
            }

            if (images is not null && !Directory.Exists(images))
            {
                throw new ArgumentException($"--images: the folder '{Path.GetFullPath(images)}' does not exist. Expected a folder of .png/.jpg/.jpeg/.bmp images (subfolders are searched too).");
            }

            if (model is not null && images is null)
            {
                throw new ArgumentException("--images is required with --model: give the folder of images to explain.");
            }

            if (images is not null && ImageFiles(images).Count == 0)
            {
                throw new ArgumentException($"--images: the folder '{Path.GetFullPath(images)}' holds no .png, .jpg, .jpeg or .bmp files (subfolders included).");
            }

            if (method is not ("gradcam" or "gradcam++"))
            {
                throw new ArgumentException($"--method must be gradcam or gradcam++; found '{method}'.");
            }

            // The layer's syntax is checked here by the method's own constructor; whether the model has it, when explaining.
            _ = CreateMethod(method, layer);

            string folder = output ?? Path.Combine("runs", "gradcam-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            return new ExplorerSettings
            {
                Model = model is null ? null : Path.GetFullPath(model),
                Images = images is null ? null : Path.GetFullPath(images),
                Output = Path.GetFullPath(folder),
                Layer = layer,
                Method = method,
                Seed = seed,
            };
        }

        /// <summary>The images under a folder, recursively, in ordinal order of their relative paths.</summary>
        public static IReadOnlyList<string> ImageFiles(string folder) => Directory
            .EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => ImageFolder.Extensions.Contains(Path.GetExtension(f)))
            .OrderBy(f => Path.GetRelativePath(folder, f), StringComparer.Ordinal)
            .ToArray();

        public static ClassActivationMap CreateMethod(string method, string layer)
        {
            try
            {
                return method == "gradcam++" ? new GradCamPlusPlus(layer) : new GradCam(layer);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException("--layer: " + ex.Message, ex);
            }
        }
    }
}
