using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using MedicalTransfer.Weights;
using MedicalTransfer.Weights.OnnxIr;
using static TorchSharp.torch;

namespace MedicalTransfer.Export
{
    /// <summary>
    /// Export verbs on <see cref="TransferModel"/>: an ONNX file that carries the model's class names, preprocessing
    /// and decision threshold in its metadata, runs in ONNX Runtime (the <c>MedicalTransfer.Onnx</c> package),
    /// ML.NET and Triton Inference Server, and needs neither TorchSharp nor .NET.
    /// <code>
    /// OnnxExportResult exported = model.ExportOnnx("pneumonia.onnx");            // opset 17, dynamic batch, probabilities
    /// model.ExportTritonRepository("models", "pneumonia", maxBatchSize: 32);     // models/pneumonia/{config.pbtxt, 1/model.onnx}
    /// </code>
    /// </summary>
    public static class TransferModelExportExtensions
    {
        /// <summary>The graph's input: images [batch, channels, size, size] (channels: the model's input channels, 3 or 1), preprocessed as the metadata says.</summary>
        public const string InputName = "input";

        /// <summary>The metadata key whose value identifies a MedicalTransfer export.</summary>
        public const string FormatKey = "medicaltransfer.format";

        internal const string FormatName = "medicaltransfer.onnx";

        /// <summary>
        /// Writes the model as an ONNX file, atomically (a temporary file renamed over <paramref name="path"/>). The
        /// graph is the model in evaluation mode: BatchNorm uses its running statistics (folded into the convolutions
        /// by default) and dropout is the identity.
        /// </summary>
        /// <param name="model">The model; it is not changed.</param>
        /// <param name="path">The <c>.onnx</c> file to write; its folder must exist.</param>
        /// <param name="options">Opset, batch dimension, folding, output, input size; <see langword="null"/> for the defaults.</param>
        /// <returns>What was written: input and output names and shapes.</returns>
        /// <exception cref="NotSupportedException">The model contains a module (for example a custom head) the exporter cannot translate; the message names its type. Nothing is written.</exception>
        public static OnnxExportResult ExportOnnx(this TransferModel model, string path, OnnxExportOptions? options = null)
        {
            Guard.NotNull(model);
            Guard.NotNullOrWhiteSpace(path);
            var o = (options ?? new OnnxExportOptions()).Validate();
            var (proto, result) = Build(model, o, Path.GetFullPath(path));
            AtomicFile.Write(path, proto.CalculateSize(), stream => proto.WriteTo(stream));
            return result;
        }

        /// <summary>
        /// Writes a Triton Inference Server model repository entry: <c>{repository}/{name}/1/model.onnx</c> and
        /// <c>{repository}/{name}/config.pbtxt</c> (platform onnxruntime_onnx, the input and output names, types and
        /// dims, dynamic batching). The export always has a dynamic batch dimension here.
        /// </summary>
        /// <param name="model">The model.</param>
        /// <param name="repository">The model repository folder (created if missing).</param>
        /// <param name="name">The model's name in the repository (letters, digits, '-', '_', '.').</param>
        /// <param name="maxBatchSize">The largest batch Triton forms.</param>
        /// <param name="options">Export options; <see cref="OnnxExportOptions.DynamicBatch"/> is forced on.</param>
        /// <returns>The path of the written config.pbtxt.</returns>
        public static string ExportTritonRepository(this TransferModel model, string repository, string name, int maxBatchSize = 32, OnnxExportOptions? options = null)
        {
            Guard.NotNull(model);
            Guard.NotNullOrWhiteSpace(repository);
            Guard.NotNullOrWhiteSpace(name);
            Guard.InRange(maxBatchSize, 1, 65536);
            if (name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || name.StartsWith('.'))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "'{0}' is not a usable Triton model name: use letters, digits, '-', '_' and '.' (not first).", name), nameof(name));
            }

            string folder = Path.Combine(repository, name);
            Directory.CreateDirectory(Path.Combine(folder, "1"));
            var exported = model.ExportOnnx(Path.Combine(folder, "1", "model.onnx"), (options ?? new OnnxExportOptions()) with { DynamicBatch = true });
            string config = Path.Combine(folder, "config.pbtxt");
            AtomicFile.WriteText(config, TritonConfig(name, exported, maxBatchSize));
            return config;
        }

        internal static (ModelProto Proto, OnnxExportResult Result) Build(TransferModel model, OnnxExportOptions options, string path)
        {
            using var scope = NewDisposeScope();
            var preprocessing = model.Preprocessing;
            int size = options.InputSize ?? preprocessing.CropSize;
            var graph = new OnnxGraphWriter();
            graph.UniqueName(InputName);
            var context = new OnnxEmitContext(graph, options);
            string x = context.Emit(model, InputName, "model");
            string outputName = options.Output == OnnxOutput.Probabilities ? "probabilities" : "logits";
            if (options.Output == OnnxOutput.Probabilities && model.IsMultiLabel)
            {
                // Multi-label findings are independent: a sigmoid per logit, as Predict computes them (issue 13).
                if (model.FindingCalibration is { } findingCalibration)
                {
                    x = graph.Node("Div", "temperature_scaling", new[] { x, graph.Initializer("finding_temperatures", findingCalibration.Temperatures.Select(t => (float)t).ToArray(), findingCalibration.Temperatures.Count) });
                }

                x = graph.Node("Sigmoid", "sigmoid", new[] { x });
            }
            else if (options.Output == OnnxOutput.Probabilities)
            {
                // A calibrated model's probabilities are softmax(logits / T), as Predict and Evaluate compute them.
                if (model.Calibration is { } calibration)
                {
                    x = graph.Node("Div", "temperature_scaling", new[] { x, graph.Initializer("temperature", new[] { (float)calibration.Temperature }) });
                }

                x = graph.Node("Softmax", "softmax", new[] { x }, ("axis", 1L));
            }

            graph.RenameOutput(x, outputName);
            object batch = options.DynamicBatch ? "batch" : 1L;
            int classes = model.ClassNames.Count;
            graph.Graph.Name = "medicaltransfer";
            graph.Graph.Input.Add(OnnxGraphWriter.Value(InputName, TensorProto.Types.DataType.Float, batch, (long)model.InputChannels, (long)size, (long)size));
            graph.Graph.Output.Add(OnnxGraphWriter.Value(outputName, TensorProto.Types.DataType.Float, batch, (long)classes));
            graph.Graph.DocString = "MedicalTransfer " + model.Architecture.Name + " classifier for " + string.Join(", ", model.ClassNames);

            var proto = new ModelProto
            {
                IrVersion = 8,
                ProducerName = "MedicalTransfer",
                ProducerVersion = SdkVersion,
                ModelVersion = 1,
                Graph = graph.Graph,
            };
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = options.Opset });
            foreach (var (key, value) in Metadata(model, options, size, outputName))
            {
                proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            }

            long[] inputShape = { options.DynamicBatch ? -1 : 1, model.InputChannels, size, size };
            long[] outputShape = { options.DynamicBatch ? -1 : 1, classes };
            return (proto, new OnnxExportResult(path, InputName, inputShape, outputName, outputShape, options.Opset, options.Output));
        }

        internal static string SdkVersion => typeof(TransferModel).Assembly.GetName().Version?.ToString() ?? "unknown";

        private static List<(string Key, string Value)> Metadata(TransferModel model, OnnxExportOptions options, int size, string output)
        {
            var p = model.Preprocessing;
            string Floats(IReadOnlyList<float> values) => JsonSerializer.Serialize(values.ToArray());
            var metadata = new List<(string, string)>
            {
                (FormatKey, FormatName),
                ("medicaltransfer.format_version", "1"),
                ("sdk_version", SdkVersion),
                ("classes", JsonSerializer.Serialize(model.ClassNames)),
                ("task", TaskKindNames.Name(model.TaskKind)),
                ("output", output),
                ("preprocessing", PreprocessingJson.Write(p)),
                ("channel_order", p.ChannelOrder == ChannelOrder.Rgb ? "RGB" : "BGR"),
                ("pixel_scale", p.PixelScale.ToString("R", CultureInfo.InvariantCulture)),
                ("mean", Floats(p.Mean)),
                ("std", Floats(p.Std)),
                ("resize", p.ResizeSize.ToString(CultureInfo.InvariantCulture)),
                ("crop", p.CropSize.ToString(CultureInfo.InvariantCulture)),
                ("input_size", size.ToString(CultureInfo.InvariantCulture)),
                ("architecture", model.Architecture.Name),
                ("architecture_layout", model.Architecture.ToString()),
                ("head", model.Head.Layout),
                ("batchnorm_folded", options.FoldBatchNorm ? "true" : "false"),
            };
            if (model.DecisionThreshold is { } threshold)
            {
                metadata.Add(("decision_threshold", threshold.ToJson()));
            }

            if (model.FindingThresholds is { } findingThresholds)
            {
                metadata.Add(("finding_thresholds", findingThresholds.ToJson()));
            }

            if (model.FindingCalibration is { } findingScaling)
            {
                // Applied inside the graph for probability outputs (before the sigmoid); recorded either way.
                metadata.Add(("finding_temperatures", JsonSerializer.Serialize(findingScaling.Temperatures)));
                metadata.Add(("temperature_applied", options.Output == OnnxOutput.Probabilities ? "true" : "false"));
            }

            if (model.Calibration is { } scaling)
            {
                // Applied inside the graph for probability outputs; recorded either way so logits can be scaled.
                metadata.Add(("temperature", scaling.Temperature.ToString("R", CultureInfo.InvariantCulture)));
                metadata.Add(("temperature_applied", options.Output == OnnxOutput.Probabilities ? "true" : "false"));
            }

            return metadata;
        }

        private static string TritonConfig(string name, OnnxExportResult exported, int maxBatchSize)
        {
            string Dims(long[] shape) => string.Join(", ", shape.Skip(1));
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"name: \"{name}\"\n");
            text.Append("platform: \"onnxruntime_onnx\"\n");
            text.Append(CultureInfo.InvariantCulture, $"max_batch_size: {maxBatchSize}\n");
            text.Append("input [\n  {\n");
            text.Append(CultureInfo.InvariantCulture, $"    name: \"{exported.InputName}\"\n    data_type: TYPE_FP32\n    dims: [ {Dims(exported.InputShape)} ]\n");
            text.Append("  }\n]\n");
            text.Append("output [\n  {\n");
            text.Append(CultureInfo.InvariantCulture, $"    name: \"{exported.OutputName}\"\n    data_type: TYPE_FP32\n    dims: [ {Dims(exported.OutputShape)} ]\n");
            text.Append("  }\n]\n");
            text.Append("dynamic_batching {\n  max_queue_delay_microseconds: 100\n}\n");
            text.Append("instance_group [\n  {\n    kind: KIND_CPU\n    count: 1\n  }\n]\n");
            return text.ToString();
        }
    }

    /// <summary>What <see cref="TransferModelExportExtensions.ExportOnnx"/> wrote.</summary>
    /// <param name="Path">The full path of the .onnx file.</param>
    /// <param name="InputName">The input's name (<c>input</c>).</param>
    /// <param name="InputShape">[batch, channels, size, size]; batch is -1 when dynamic.</param>
    /// <param name="OutputName"><c>probabilities</c> or <c>logits</c>.</param>
    /// <param name="OutputShape">[batch, classes]; batch is -1 when dynamic.</param>
    /// <param name="Opset">The ai.onnx opset written.</param>
    /// <param name="Output">Logits or probabilities.</param>
    public sealed record OnnxExportResult(string Path, string InputName, long[] InputShape, string OutputName, long[] OutputShape, int Opset, OnnxOutput Output);
}
