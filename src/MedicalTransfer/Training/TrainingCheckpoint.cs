using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using MedicalTransfer.Weights;
using static TorchSharp.torch;

namespace MedicalTransfer.Training
{
    /// <summary>The scalar part of a training checkpoint, stored as JSON in the safetensors metadata.</summary>
    internal sealed record CheckpointState
    {
        public int PhaseIndex { get; init; }

        public int PhaseEpochsDone { get; init; }

        public int EpochsDone { get; init; }

        public long Step { get; init; }

        public long PhaseStep { get; init; }

        public string[] Freeze { get; init; } = Array.Empty<string>();

        /// <summary>The freeze spec as the user wrote it (<c>Layers.UpTo(2)</c>); absent in checkpoints written before it was recorded.</summary>
        public string? FreezeDescription { get; init; }

        public bool TrainBatchNorm { get; init; }

        public int DataSeed { get; init; }

        public string Optimizer { get; init; } = string.Empty;

        public Dictionary<string, long> OptimizerSteps { get; init; } = new(StringComparer.Ordinal);

        public double PlateauBest { get; init; } = double.PositiveInfinity;

        public int PlateauBadEpochs { get; init; }

        public double PlateauScale { get; init; } = 1.0;

        public double[]? PreviousGradientNorms { get; init; }

        public string?[] Callbacks { get; init; } = Array.Empty<string?>();

        public string? PhaseEarlyStopping { get; init; }

        public bool PhaseStopped { get; init; }

        public bool TrainingStopped { get; init; }

        public string[] Phases { get; init; } = Array.Empty<string>();

        public string History { get; init; } = string.Empty;
    }

    /// <summary>
    /// A resumable training checkpoint: one safetensors file holding the model's state dict
    /// (<c>model/...</c>), the optimizer's state (<c>optimizer/param/slot</c>) and the CPU random
    /// generator state (<c>rng/cpu</c>), with the model description and <see cref="CheckpointState"/>
    /// as metadata. Written atomically through <see cref="StateDictFile"/>.
    /// </summary>
    internal sealed class TrainingCheckpoint : IDisposable
    {
        internal const string FormatName = "medicaltransfer.training-checkpoint";
        private const string ModelPrefix = "model/";
        private const string OptimizerPrefix = "optimizer/";
        private const string RngKey = "rng/cpu";
        private static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

        private TrainingCheckpoint(string path, CheckpointState state, Dictionary<string, Tensor> tensors)
        {
            Path = path;
            State = state;
            Tensors = tensors;
        }

        public string Path { get; }

        public CheckpointState State { get; }

        public Dictionary<string, Tensor> Tensors { get; }

        public IReadOnlyDictionary<string, Tensor> ModelTensors => Tensors.Where(kv => kv.Key.StartsWith(ModelPrefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[ModelPrefix.Length..], kv => kv.Value, StringComparer.Ordinal);

        public IReadOnlyDictionary<string, Tensor> OptimizerTensors => Tensors.Where(kv => kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[OptimizerPrefix.Length..], kv => kv.Value, StringComparer.Ordinal);

        public Tensor? RngState => Tensors.TryGetValue(RngKey, out var t) ? t : null;

        public static void Write(string path, TransferModel model, ParameterOptimizer optimizer, CheckpointState state)
        {
            using var scope = NewDisposeScope();
            var tensors = new List<KeyValuePair<string, Tensor>>();
            foreach (var (key, value) in model.state_dict())
            {
                tensors.Add(new(ModelPrefix + key, value.detach().cpu().contiguous()));
            }

            foreach (var (key, value) in optimizer.StateTensors())
            {
                tensors.Add(new(OptimizerPrefix + key, value.detach().cpu().contiguous()));
            }

            tensors.Add(new(RngKey, random.get_rng_state()));
            var metadata = new Dictionary<string, string>
            {
                ["format"] = FormatName,
                ["format_version"] = "1",
                ["architecture"] = model.Architecture.ToString(),
                ["classes"] = JsonSerializer.Serialize(model.ClassNames),
                ["head"] = model.Head.Layout,
                ["state"] = JsonSerializer.Serialize(state, Json),
            };
            StateDictFile.WriteSafetensors(path, tensors, metadata);
        }

        /// <summary>Reads a checkpoint and checks that it fits <paramref name="model"/>, before anything is applied.</summary>
        public static TrainingCheckpoint ReadFor(string path, TransferModel model)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The checkpoint to resume from, '{System.IO.Path.GetFullPath(path)}', does not exist. Pass the file that TrainingOptions.CheckpointPath wrote.", path);
            }

            var metadata = StateDictFile.ReadSafetensorsMetadata(path);
            if (!metadata.TryGetValue("format", out var format) || format != FormatName)
            {
                throw new WeightsFormatException($"'{path}' is not a MedicalTransfer training checkpoint (no '{FormatName}' metadata). Resume from the file written through TrainingOptions.CheckpointPath; a model saved with TransferModel.Save is loaded with TransferModel.Load.");
            }

            var problems = new List<string>();
            Compare(metadata, "architecture", model.Architecture.ToString(), problems);
            Compare(metadata, "classes", JsonSerializer.Serialize(model.ClassNames), problems);
            Compare(metadata, "head", model.Head.Layout, problems);
            if (problems.Count > 0)
            {
                throw new WeightsMismatchException($"The checkpoint '{path}' was written for another model: {string.Join("; ", problems)}. Resume with a model built exactly as the one that was trained (same architecture, head and classes in the same order).");
            }

            CheckpointState state;
            try
            {
                state = JsonSerializer.Deserialize<CheckpointState>(metadata.TryGetValue("state", out var s) ? s : string.Empty, Json) ?? throw new JsonException("empty state");
            }
            catch (JsonException ex)
            {
                throw new WeightsFormatException($"The checkpoint '{path}' has damaged training state metadata: {ex.Message}", ex);
            }

            var tensors = StateDictFile.Read(path);
            var checkpoint = new TrainingCheckpoint(path, state, tensors);
            try
            {
                checkpoint.CheckModelTensors(model);
            }
            catch
            {
                checkpoint.Dispose();
                throw;
            }

            return checkpoint;
        }

        public void Dispose()
        {
            foreach (var t in Tensors.Values)
            {
                t.Dispose();
            }
        }

        /// <summary>Copies the saved weights and buffers into the model (already checked key by key).</summary>
        public void ApplyModel(TransferModel model)
        {
            var source = ModelTensors;
            using var noGrad = no_grad();
            foreach (var (key, target) in model.state_dict())
            {
                target.copy_(source[key]);
            }
        }

        private static void Compare(IReadOnlyDictionary<string, string> metadata, string key, string expected, List<string> problems)
        {
            string found = metadata.TryGetValue(key, out var v) ? v : "(missing)";
            if (found != expected)
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "{0} is {1} in the checkpoint but {2} in the model", key, found, expected));
            }
        }

        private void CheckModelTensors(TransferModel model)
        {
            var saved = ModelTensors;
            var target = model.state_dict();
            var problems = new List<string>();
            problems.AddRange(target.Keys.Where(k => !saved.ContainsKey(k)).Select(k => "missing '" + k + "'"));
            problems.AddRange(saved.Keys.Where(k => !target.ContainsKey(k)).Select(k => "unexpected '" + k + "'"));
            foreach (var (key, tensor) in target)
            {
                if (saved.TryGetValue(key, out var s) && (!s.shape.SequenceEqual(tensor.shape) || s.dtype != tensor.dtype))
                {
                    problems.Add(string.Format(CultureInfo.InvariantCulture, "'{0}' is {1}[{2}] in the checkpoint but {3}[{4}] in the model", key, s.dtype, string.Join(", ", s.shape), tensor.dtype, string.Join(", ", tensor.shape)));
                }
            }

            if (problems.Count > 0)
            {
                throw new WeightsMismatchException($"The checkpoint '{Path}' does not fit the model ({problems.Count} problem(s)): {string.Join("; ", problems.Take(12))}. Nothing was applied.");
            }
        }
    }
}
