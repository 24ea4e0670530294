using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Prediction;
using Microsoft.ML.OnnxRuntime;

namespace MedicalTransfer.Onnx
{
    /// <summary>
    /// A model exported by <c>model.ExportOnnx(path)</c>, run by ONNX Runtime. It reads the class names, the
    /// preprocessing and the decision threshold from the file's metadata, so the prediction verbs of
    /// <see cref="ImageClassifierExtensions"/> (<c>Predict</c>, <c>PredictFolder</c>) decode and preprocess exactly as
    /// the TorchSharp model does, and give the same probabilities. TorchSharp's native library is never loaded.
    /// <code>
    /// using var classifier = OnnxImageClassifier.Load("pneumonia.onnx");
    /// ImagePrediction p = classifier.Predict("patient-0042.png");
    /// await foreach (var r in classifier.PredictFolder("archive")) { Console.WriteLine(r); }
    /// </code>
    /// Safe to use from several threads at once (ONNX Runtime sessions are).
    /// </summary>
    public sealed class OnnxImageClassifier : IImageClassifier, IDisposable
    {
        private readonly InferenceSession session;
        private readonly string inputName;
        private readonly string outputName;
        private readonly bool outputsProbabilities;
        private readonly bool dynamicBatch;
        private readonly string[] classNames;

        private OnnxImageClassifier(InferenceSession session, string path, string[] classNames, Preprocessing preprocessing, DecisionThreshold? threshold, IReadOnlyList<double>? findingThresholds, IReadOnlyDictionary<string, string> metadata)
        {
            this.session = session;
            this.classNames = classNames;
            Path = path;
            Preprocessing = preprocessing;
            DecisionThreshold = threshold;
            Metadata = metadata;
            inputName = session.InputNames[0];
            outputName = session.OutputNames[0];
            outputsProbabilities = metadata.TryGetValue("output", out var output) && output == "probabilities";
            var dims = session.InputMetadata[inputName].Dimensions;
            dynamicBatch = dims[0] <= 0;
            FixedInputSize = dims.Length == 4 && dims[2] > 0 ? dims[2] : null;

            // Exports before issue 13 have no task entry: they are single-label.
            TaskKind = metadata.TryGetValue("task", out var task) && task == "multi-label" ? TaskKind.MultiLabel : TaskKind.SingleLabel;
            FindingThresholds = findingThresholds;
        }

        /// <inheritdoc />
        public TaskKind TaskKind { get; }

        /// <inheritdoc />
        public IReadOnlyList<double>? FindingThresholds { get; }

        /// <summary>The .onnx file.</summary>
        public string Path { get; }

        /// <inheritdoc />
        public IReadOnlyList<string> ClassNames => classNames;

        /// <inheritdoc />
        public Preprocessing Preprocessing { get; }

        /// <inheritdoc />
        public DecisionThreshold? DecisionThreshold { get; }

        /// <inheritdoc />
        public int? FixedInputSize { get; }

        /// <summary>Every metadata entry of the file (architecture, head, SDK version, ...).</summary>
        public IReadOnlyDictionary<string, string> Metadata { get; }

        /// <summary>Opens an exported model.</summary>
        /// <param name="path">A file written by <c>model.ExportOnnx</c>.</param>
        /// <param name="options">ONNX Runtime threads and optimisation; <see langword="null"/> for the defaults.</param>
        /// <returns>The classifier; dispose it to free ONNX Runtime's session.</returns>
        /// <exception cref="FileNotFoundException">The file does not exist.</exception>
        /// <exception cref="WeightsFormatException">The file is not an ONNX model, or not one exported by MedicalTransfer (its metadata is missing or damaged).</exception>
        public static OnnxImageClassifier Load(string path, OnnxClassifierOptions? options = null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(path);
            var o = (options ?? new OnnxClassifierOptions()).Validate();
            string full = System.IO.Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                throw new FileNotFoundException(string.Format(CultureInfo.InvariantCulture, "The ONNX model '{0}' does not exist. Check the path.", full), full);
            }

            using var sessionOptions = new SessionOptions
            {
                GraphOptimizationLevel = o.OptimizeGraph ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            };
            if (!o.AllowSpinning)
            {
                sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            }

            if (o.Threads is { } threads)
            {
                sessionOptions.IntraOpNumThreads = threads;
                sessionOptions.InterOpNumThreads = 1;
            }

            InferenceSession session;
            try
            {
                session = new InferenceSession(full, sessionOptions);
            }
            catch (OnnxRuntimeException e)
            {
                throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}' cannot be opened by ONNX Runtime: {1} Export the model again with model.ExportOnnx.", full, e.Message), e);
            }

            try
            {
                var metadata = new Dictionary<string, string>(session.ModelMetadata.CustomMetadataMap, StringComparer.Ordinal);
                if (!metadata.TryGetValue("medicaltransfer.format", out var format) || format != "medicaltransfer.onnx")
                {
                    throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}' is an ONNX model but not a MedicalTransfer export: its metadata has no 'medicaltransfer.format' entry, so its classes and preprocessing are unknown. Export it with model.ExportOnnx(path).", full));
                }

                var classes = Parse<string[]>(metadata, "classes", full);
                var preprocessing = ParsePreprocessing(metadata, full);
                var threshold = metadata.TryGetValue("decision_threshold", out var t) ? ParseThreshold(t, full) : null;
                var findingThresholds = metadata.TryGetValue("finding_thresholds", out var ft) ? ParseFindingThresholds(ft, classes, full) : null;
                var outputDims = session.OutputMetadata[session.OutputNames[0]].Dimensions;
                if (classes.Length < 2 || (outputDims.Length == 2 && outputDims[1] > 0 && outputDims[1] != classes.Length))
                {
                    throw new WeightsFormatException(string.Format(CultureInfo.InvariantCulture, "'{0}': its metadata names {1} classes but the graph's output has shape [{2}].", full, classes.Length, string.Join(", ", outputDims)));
                }

                return new OnnxImageClassifier(session, full, classes, preprocessing, threshold, findingThresholds, metadata);
            }
            catch
            {
                session.Dispose();
                throw;
            }
        }

        /// <inheritdoc />
        public void Classify(float[] images, int count, int size, double[] probabilities)
        {
            ArgumentNullException.ThrowIfNull(images);
            ArgumentNullException.ThrowIfNull(probabilities);
            int plane = Preprocessing.Channels * size * size;
            int k = classNames.Length;
            int step = dynamicBatch ? count : 1;
            for (int start = 0; start < count; start += step)
            {
                int n = Math.Min(step, count - start);
                using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(images, start * plane, n * plane), new long[] { n, Preprocessing.Channels, size, size });
                using var runOptions = new RunOptions();
                using var results = session.Run(runOptions, new[] { inputName }, new[] { input }, new[] { outputName });
                var values = results[0].GetTensorDataAsSpan<float>();
                for (int i = 0; i < n; i++)
                {
                    var row = values.Slice(i * k, k);
                    var target = probabilities.AsSpan((start + i) * k, k);
                    if (outputsProbabilities)
                    {
                        for (int c = 0; c < k; c++)
                        {
                            target[c] = row[c];
                        }
                    }
                    else if (TaskKind == TaskKind.MultiLabel)
                    {
                        for (int c = 0; c < k; c++)
                        {
                            target[c] = 1 / (1 + Math.Exp(-(double)row[c]));
                        }
                    }
                    else
                    {
                        Softmax(row, target);
                    }
                }
            }
        }

        /// <summary>Frees ONNX Runtime's session.</summary>
        public void Dispose() => session.Dispose();

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "ONNX {0}: {1}, classes {2}", Path, Metadata.TryGetValue("architecture", out var a) ? a : "model", string.Join(", ", classNames));

        private static void Softmax(ReadOnlySpan<float> logits, Span<double> target)
        {
            double max = double.NegativeInfinity;
            foreach (float v in logits)
            {
                max = Math.Max(max, v);
            }

            double sum = 0;
            for (int c = 0; c < logits.Length; c++)
            {
                target[c] = Math.Exp(logits[c] - max);
                sum += target[c];
            }

            for (int c = 0; c < logits.Length; c++)
            {
                target[c] /= sum;
            }
        }

        private static Preprocessing ParsePreprocessing(IReadOnlyDictionary<string, string> metadata, string path)
        {
            string order = Required(metadata, "channel_order", path);
            try
            {
                return new Preprocessing
                {
                    ChannelOrder = order switch
                    {
                        "RGB" => ChannelOrder.Rgb,
                        "BGR" => ChannelOrder.Bgr,
                        _ => throw new FormatException("channel_order is '" + order + "'; expected RGB or BGR"),
                    },
                    PixelScale = float.Parse(Required(metadata, "pixel_scale", path), NumberStyles.Float, CultureInfo.InvariantCulture),
                    Mean = Parse<float[]>(metadata, "mean", path),
                    Std = Parse<float[]>(metadata, "std", path),
                    ResizeSize = int.Parse(Required(metadata, "resize", path), NumberStyles.Integer, CultureInfo.InvariantCulture),
                    CropSize = int.Parse(Required(metadata, "crop", path), NumberStyles.Integer, CultureInfo.InvariantCulture),
                }.Validate();
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
            {
                throw Damaged(path, e.Message, e);
            }
        }

        private static DecisionThreshold ParseThreshold(string json, string path)
        {
            try
            {
                using var document = JsonDocument.Parse(json);
                var root = document.RootElement;
                string positive = root.GetProperty("PositiveClass").GetString() ?? throw new FormatException("PositiveClass is null");
                double threshold = root.GetProperty("Threshold").GetDouble();
                string rule = root.TryGetProperty("Rule", out var r) ? r.GetString() ?? string.Empty : string.Empty;
                if (!(threshold >= 0 && threshold <= 1))
                {
                    throw new FormatException("Threshold " + threshold.ToString(CultureInfo.InvariantCulture) + " is not in [0, 1]");
                }

                return new DecisionThreshold(positive, threshold, rule);
            }
            catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                throw Damaged(path, "decision_threshold: " + e.Message, e);
            }
        }

        private static double[] ParseFindingThresholds(string json, string[] classes, string path)
        {
            try
            {
                return MedicalTransfer.Evaluation.FindingThresholds.Parse(json, classes).Values.ToArray();
            }
            catch (FormatException e)
            {
                throw Damaged(path, e.Message, e);
            }
        }

        private static T Parse<T>(IReadOnlyDictionary<string, string> metadata, string key, string path)
        {
            try
            {
                return JsonSerializer.Deserialize<T>(Required(metadata, key, path)) ?? throw new FormatException(key + " is null");
            }
            catch (JsonException e)
            {
                throw Damaged(path, key + ": " + e.Message, e);
            }
        }

        private static string Required(IReadOnlyDictionary<string, string> metadata, string key, string path) =>
            metadata.TryGetValue(key, out var value) ? value : throw Damaged(path, "the metadata entry '" + key + "' is missing", null);

        private static WeightsFormatException Damaged(string path, string what, Exception? inner) =>
            new(string.Format(CultureInfo.InvariantCulture, "'{0}' has damaged MedicalTransfer metadata: {1}. Export the model again with model.ExportOnnx.", path, what), inner);
    }
}
