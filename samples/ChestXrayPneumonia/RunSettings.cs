using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace ChestXrayPneumonia
{
    /// <summary>The checked arguments of one run, saved in run.json so that --resume can reuse them.</summary>
    internal sealed record RunSettings
    {
        private static readonly int[] Depths = { 18, 34, 50, 101, 152 };

        public string? Data { get; init; }

        public int Depth { get; init; }

        public string Weights { get; init; } = "onnx";

        public string Freeze { get; init; } = "upto:2";

        public bool Progressive { get; init; }

        public int Epochs { get; init; }

        public int BatchSize { get; init; }

        public int ImageSize { get; init; }

        public string Device { get; init; } = "auto";

        public int Seed { get; init; }

        public string Output { get; init; } = string.Empty;

        public bool Resumed { get; init; }

        public int SyntheticImages { get; init; }

        /// <summary>For a table: the folder its paths are relative to (null: the table's folder).</summary>
        public string? DataRoot { get; init; }

        /// <summary>For a multi-label table: the finding that is PNEUMONIA.</summary>
        public string Finding { get; init; } = "Pneumonia";

        /// <summary>Only this view (PA, AP), or null for all.</summary>
        public string? View { get; init; }

        public bool SkipBadImages { get; init; }

        /// <summary>Keep checkpoint.mtckpt after a complete run (by default only an unfinished run keeps it, for --resume).</summary>
        public bool KeepCheckpoint { get; init; }

        /// <summary>Cross-validation folds (0: one train/validation/test run).</summary>
        public int Folds { get; init; }

        /// <summary>The patient id in a file name (SplitOptions.GroupPattern); null: every image its own patient.</summary>
        public string? GroupPattern { get; init; }

        public static bool IsTable(string path) => Path.GetExtension(path).ToLowerInvariant() is ".csv" or ".tsv";

        public static RunSettings From(string? data, int depth, string weights, string freeze, bool progressive, int epochs, int batchSize, int imageSize, string device, int seed, string? output, string? resume, int syntheticImages, int folds = 0, string? groupPattern = null)
        {
            if (resume is not null)
            {
                string file = Path.Combine(resume, "run.json");
                if (!File.Exists(file))
                {
                    throw new ArgumentException($"--resume: expected a report folder with run.json, but '{Path.GetFullPath(file)}' does not exist.");
                }

                var run = JsonSerializer.Deserialize<RunFile>(File.ReadAllText(file));
                var saved = run?.Settings ?? throw new ArgumentException($"--resume: '{file}' holds no settings.");
                // A completed run keeps its checkpoint only with --keep-checkpoint; without it, resuming would train
                // again from scratch over the finished results.
                if (run.Status == "completed" && !File.Exists(Path.Combine(resume, RunFolder.Checkpoint)))
                {
                    throw new ArgumentException($"--resume: the run in '{Path.GetFullPath(resume)}' completed (finished {run.Finished}) and its checkpoint was deleted, so there is nothing to resume; its results are in that folder. Start a new run (without --resume, or with another --out) to train again, and pass --keep-checkpoint to a run you may want to resume after it completes.");
                }

                return saved with { Output = Path.GetFullPath(resume), Resumed = true };
            }

            if (data is not null && IsTable(data) && !File.Exists(data))
            {
                throw new ArgumentException($"--data: the table '{Path.GetFullPath(data)}' does not exist. Expected a CSV or TSV label table (CheXpert's train.csv, NIH's Data_Entry_2017.csv, or Path,Label columns).");
            }

            if (data is not null && !IsTable(data) && !Directory.Exists(data))
            {
                throw new ArgumentException($"--data: the folder '{Path.GetFullPath(data)}' does not exist. Expected an ImageFolder such as chest_xray/ with train/, val/ and test/ (or class folders directly), or a CSV/TSV label table.");
            }

            if (!Depths.Contains(depth))
            {
                throw new ArgumentException($"--depth must be one of {string.Join(", ", Depths)}; found {depth}.");
            }

            bool isFile = weights is not ("onnx" or "imagenet");
            if (isFile && !File.Exists(weights))
            {
                throw new ArgumentException($"--weights must be onnx, imagenet or an existing .pth/.safetensors file; '{weights}' is none of these.");
            }

            if (weights == "onnx" && depth != 18)
            {
                throw new ArgumentException("--weights onnx is the ML.NET ImageNet ResNet-18 (basic blocks, stages 2-2-2-3): use --depth 18, or --weights imagenet for other depths.");
            }

            if (!(freeze is "none" or "all" or "adaptive" || (freeze.StartsWith("upto:", StringComparison.Ordinal) && int.TryParse(freeze.AsSpan(5), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n is >= 0 and <= 4)))
            {
                throw new ArgumentException($"--freeze must be none, all, upto:N (N from 0 to 4) or adaptive; found '{freeze}'.");
            }

            if (epochs < 1 || batchSize < 2 || imageSize < 32 || syntheticImages < 40)
            {
                throw new ArgumentException("--epochs must be at least 1, --batch-size at least 2, --image-size at least 32 and --synthetic-images at least 40.");
            }

            if (progressive && epochs < 3)
            {
                throw new ArgumentException("--progressive runs three phases: give --epochs 3 or more.");
            }

            if (folds is 1 or < 0 or > 20)
            {
                throw new ArgumentException($"--folds must be from 2 to 20 (or 0 for one train/validation/test run); found {folds}.");
            }

            if (groupPattern is not null)
            {
                try
                {
                    _ = new System.Text.RegularExpressions.Regex(groupPattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
                }
                catch (ArgumentException ex)
                {
                    throw new ArgumentException($"--group-pattern is not a valid regular expression: {ex.Message}");
                }
            }

            if (device is not ("auto" or "cpu" or "cuda"))
            {
                throw new ArgumentException($"--device must be cpu or cuda; found '{device}'.");
            }

            string folder = output ?? Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            return new RunSettings
            {
                Data = data is null ? null : Path.GetFullPath(data),
                Depth = depth,
                Weights = isFile ? Path.GetFullPath(weights) : weights,
                Freeze = freeze,
                Progressive = progressive,
                Epochs = epochs,
                BatchSize = batchSize,
                ImageSize = imageSize,
                Device = device,
                Seed = seed,
                Output = Path.GetFullPath(folder),
                SyntheticImages = syntheticImages,
                Folds = folds,
                // The synthetic phantoms name their patients patientNNNN_K (only cross-validation groups by default: a single run's split stays as it was).
                GroupPattern = groupPattern ?? (data is null && folds > 0 ? @"^(patient\d+)_" : null),
            };
        }
    }

    /// <summary>The content of run.json.</summary>
    internal sealed record RunFile(RunSettings Settings, string Started, string? Finished, string Device, string MedicalTransfer, string TorchSharp, string Runtime, string Os, double? Seconds)
    {
        /// <summary>running, completed, stopped (Ctrl+C) or failed.</summary>
        public string Status { get; init; } = "running";

        /// <summary>The error that stopped a failed run (its type and message).</summary>
        public string? Error { get; init; }
    }
}
