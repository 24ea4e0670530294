using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Freezing;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer
{
    /// <summary>
    /// A backbone (<see cref="BackboneArchitecture"/>: ResNet, DenseNet, EfficientNet) with a task head that knows its
    /// architecture, class names, freeze state and the preprocessing its weights expect. It is a TorchSharp module:
    /// call it on a batch of images [N, <see cref="BackboneNetwork.InputChannels"/>, H, W] to get logits [N, classes].
    /// Its state dict has torchvision's keys for the backbone (<c>conv1.weight</c>, <c>features.denseblock1...</c>)
    /// and the head under the architecture's classifier name (<c>fc</c>, <c>classifier</c>). Create one with
    /// <see cref="TransferBuilder"/> or <see cref="Load"/>.
    /// </summary>
    public sealed class TransferModel : BackboneNetwork
    {
        internal const string FormatName = "medicaltransfer.model";

        /// <summary>
        /// The model-file format written for single-label models: version 2 adds <c>input_channels</c> and the layouts of
        /// backbones other than ResNet. Version 1 (ResNets with 3-channel input) reads unchanged.
        /// </summary>
        internal const string FormatVersion = "2";

        /// <summary>
        /// The format written for multi-label models: version 2's keys plus a <c>task</c> a reader must understand. An SDK
        /// from before multi-label support reads versions 1 and 2, ignores <c>task</c> and would load the file as a softmax
        /// model (wrong probabilities, silently), so these files say 3 and such an SDK refuses them, asking for an update.
        /// In version 3, <c>task</c> is required. Single-label models stay
        /// at 2, which every released SDK reads.
        /// </summary>
        internal const string MultiLabelFormatVersion = "3";

        private static readonly string[] ReadableVersions = { "1", "2", "3" };

        private readonly string[] _classNames;
        private IReadOnlyList<string> _frozenPaths = Array.Empty<string>();
        private BatchNorm[] _frozenBatchNorms = Array.Empty<BatchNorm>();
        private int _frozenLeadingStages;

        internal TransferModel(BackboneArchitecture architecture, int inputChannels, HeadSpec head, IReadOnlyList<string> classNames, Preprocessing preprocessing, TaskKind task = TaskKind.SingleLabel)
            : base(nameof(TransferModel), CreateBody(architecture, inputChannels, head, classNames.Count, preprocessing, out var headModule), headModule)
        {
            _classNames = classNames.ToArray();
            TaskKind = task;
            Head = head;
            Preprocessing = preprocessing;
            FreezeSpec = Layers.None;
        }

        /// <summary>The backbone's architecture: its family, layout, stages and the preprocessing its ImageNet weights expect.</summary>
        public BackboneArchitecture Architecture => Body.Architecture;

        /// <summary>The class names, in the order of the logits; for a multi-label model, its <see cref="Findings"/>.</summary>
        public IReadOnlyList<string> ClassNames => Array.AsReadOnly(_classNames);

        /// <summary>Single-label (softmax over classes) or multi-label (a sigmoid per finding); see docs/multi-label.md.</summary>
        public TaskKind TaskKind { get; }

        /// <summary>Whether the model is multi-label (<see cref="TaskKind.MultiLabel"/>).</summary>
        public bool IsMultiLabel => TaskKind == TaskKind.MultiLabel;

        /// <summary>The findings of a multi-label model, in the order of the logits; empty for a single-label model.</summary>
        public IReadOnlyList<string> Findings => IsMultiLabel ? ClassNames : Array.AsReadOnly(Array.Empty<string>());

        /// <summary>
        /// How uncertain labels were turned into targets when this multi-label model was last trained (recorded by training and
        /// saved with the model), or <see langword="null"/> for a single-label or untrained model.
        /// </summary>
        public UncertaintyPolicy? UncertaintyPolicy { get; internal set; }

        /// <summary>
        /// The per-finding decision thresholds of a multi-label model, chosen on validation predictions
        /// (<c>model.UseFindingThresholds(...)</c>), saved with the model and applied by prediction; <see langword="null"/> for 0.5 each.
        /// </summary>
        public Evaluation.FindingThresholds? FindingThresholds { get; internal set; }

        /// <summary>The classifier head's layout.</summary>
        public HeadSpec Head { get; }

        /// <summary>The input the weights expect (resize, crop, scaling, mean, standard deviation).</summary>
        public Preprocessing Preprocessing { get; }

        /// <summary>What is frozen now.</summary>
        public FreezeSpec FreezeSpec { get; private set; }

        /// <summary>Whether frozen stages' BatchNorm layers still update their running statistics in training mode.</summary>
        public bool TrainBatchNorm { get; private set; }

        /// <summary>What happened when the initial weights were loaded, or <see langword="null"/> for a randomly initialised model.</summary>
        public WeightsLoadReport? WeightsReport { get; internal set; }

        /// <summary>
        /// The decision rule chosen on validation predictions (<c>model.UseOperatingPoint(...)</c>), which prediction and
        /// ONNX export apply and record; <see langword="null"/> for the most probable class.
        /// </summary>
        public Prediction.DecisionThreshold? DecisionThreshold { get; internal set; }

        /// <summary>
        /// The temperature scaling applied to the logits in every prediction, evaluation and ensemble, or
        /// <see langword="null"/> for none; set by <c>model.Calibrate(validation)</c> and saved with the model.
        /// </summary>
        public Evaluation.TemperatureScaling? Calibration { get; internal set; }

        /// <summary>
        /// A multi-label model's temperature per finding, applied to its logits before each sigmoid in every prediction and
        /// evaluation, or <see langword="null"/> for none; set by <c>model.CalibrateFindings(validation)</c> and saved with the model.
        /// </summary>
        public Evaluation.FindingTemperatureScaling? FindingCalibration { get; internal set; }

        /// <summary>The device the parameters live on.</summary>
        public Device Device => parameters().First().device;

        /// <summary>Held by every operation that must not overlap with another on this model (training, evaluation, explanations).</summary>
        internal ExclusiveUse Use { get; } = new();

        /// <summary>Precision of the frozen leading stages while autograd is on (training); set by the trainer for the duration of a fit.</summary>
        internal ComputePrecision FrozenPrefixPrecision { get; set; }

        /// <summary>
        /// Freezes exactly what <paramref name="spec"/> names and unfreezes everything else: frozen
        /// parameters get <c>requires_grad = false</c>, and frozen BatchNorm layers stay in evaluation mode
        /// while the model trains, so their running statistics do not change.
        /// </summary>
        /// <param name="spec">What to freeze; see <see cref="Layers"/>.</param>
        /// <param name="trainBatchNorm">Let frozen stages' BatchNorm layers keep updating running statistics in training mode.</param>
        /// <exception cref="ArgumentException">The spec names a stage or block this architecture does not have, or a position beyond its stages.</exception>
        public void Freeze(FreezeSpec spec, bool trainBatchNorm = false)
        {
            Guard.NotNull(spec);
            var resolved = spec.For(Architecture);
            var paths = resolved.ResolveModulePaths(Architecture);
            foreach (var (name, parameter) in named_parameters())
            {
                parameter.requires_grad = !FreezeSpec.IsInside(name, paths);
            }

            _frozenPaths = paths;
            _frozenBatchNorms = named_modules()
                .Where(m => m.module is BatchNorm && FreezeSpec.IsInside(m.name, paths))
                .Select(m => (BatchNorm)m.module)
                .ToArray();
            var whole = new HashSet<string>(resolved.WholeStages(Architecture), StringComparer.Ordinal);
            _frozenLeadingStages = Architecture.BackboneStageNames.TakeWhile(whole.Contains).Count();
            FreezeSpec = resolved;
            TrainBatchNorm = trainBatchNorm;
            train(training);
        }

        /// <summary>Sets training or evaluation mode, keeping frozen stages' BatchNorm layers in evaluation mode unless <see cref="TrainBatchNorm"/>.</summary>
        /// <param name="train">Training mode when <see langword="true"/>.</param>
        public override void train(bool train = true)
        {
            base.train(train);
            if (train && !TrainBatchNorm)
            {
                foreach (var bn in _frozenBatchNorms)
                {
                    bn.eval();
                }
            }
        }

        /// <summary>Per-stage parameter counts and freeze state.</summary>
        /// <returns>The summary; its <c>ToString()</c> prints a table.</returns>
        public ModelSummary Summary()
        {
            var parameters = named_parameters().Select(p => (p.name, p.parameter.numel(), p.parameter.requires_grad)).ToArray();
            var rows = new List<StageSummary>();
            foreach (var stage in Architecture.StageNames)
            {
                var paths = Architecture.StageModulePaths(stage);
                var inStage = parameters.Where(p => FreezeSpec.IsInside(p.name, paths)).ToArray();
                long total = inStage.Sum(p => p.Item2);
                long trainable = inStage.Where(p => p.requires_grad).Sum(p => p.Item2);
                var state = total == 0 ? StageState.NoParameters : trainable == total ? StageState.Trainable : trainable == 0 ? StageState.Frozen : StageState.Partial;
                rows.Add(new StageSummary(stage, total, trainable, state));
            }

            return new ModelSummary(Architecture.Name, ClassNames, rows, ModelSummary.LayoutOf(Architecture), WeightsReport?.Source);
        }

        /// <summary>The summary table (see <see cref="Summary"/>).</summary>
        /// <returns>The table.</returns>
        public override string ToString() => Summary().ToString();

        /// <summary>
        /// Writes one self-describing file (format version 2; 3 for a multi-label model, which an SDK without multi-label support refuses rather than misreads): architecture, input channels, class names, preprocessing, head layout,
        /// freeze state and weights (a safetensors file with metadata). The write is atomic: a crash
        /// mid-save never leaves a corrupt file where a good one was.
        /// </summary>
        /// <param name="path">The file to write (conventionally <c>.safetensors</c>); its folder must exist.</param>
        public void Save(string path)
        {
            Guard.NotNullOrWhiteSpace(path);
            using var scope = NewDisposeScope();
            var tensors = state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach().cpu().contiguous())).ToList();
            StateDictFile.WriteSafetensors(path, tensors, DescribeForFile());
        }

        /// <summary>Restores a model written by <see cref="Save"/>; its outputs are bit-identical to the saved model's.</summary>
        /// <param name="path">A file written by <see cref="Save"/>.</param>
        /// <param name="device">Where to place the model; the default is CUDA when available, else CPU.</param>
        /// <param name="customHead">The factory of a custom head (see <see cref="MedicalTransfer.Head.Custom"/>); required only for such models.</param>
        /// <returns>The model, in evaluation mode.</returns>
        /// <exception cref="WeightsFormatException">The file is not a MedicalTransfer model or is damaged.</exception>
        public static TransferModel Load(string path, Device? device = null, Func<int, int, nn.Module<Tensor, Tensor>>? customHead = null)
        {
            Guard.NotNullOrWhiteSpace(path);
            TorchRuntime.EnsureAvailable();
            var metadata = StateDictFile.ReadSafetensorsMetadata(path);
            if (!metadata.TryGetValue("format", out var format) || format != FormatName)
            {
                throw new WeightsFormatException($"'{path}' is not a MedicalTransfer model file (no '{FormatName}' metadata). To start from a plain state dict, use TransferBuilder.WithWeights(path).");
            }

            string version = metadata.TryGetValue("format_version", out var v) ? v : "1";
            if (!ReadableVersions.Contains(version, StringComparer.Ordinal))
            {
                throw new WeightsFormatException($"'{path}' is a MedicalTransfer model file of format version {version}; this version of MedicalTransfer reads versions {string.Join(", ", ReadableVersions[..^1])} and {ReadableVersions[^1]}. It was written by a newer MedicalTransfer: update the package to load it.");
            }

            TransferModel? model = null;
            try
            {
                try
                {
                    var architecture = BackboneCatalog.Parse(Required(metadata, "architecture", path));
                    int inputChannels = version == "1" ? 3 : int.Parse(Required(metadata, "input_channels", path), NumberStyles.None, CultureInfo.InvariantCulture);
                    if (inputChannels is not (1 or 3))
                    {
                        throw new FormatException($"input_channels is {inputChannels}; expected 1 or 3");
                    }

                    var classes = JsonSerializer.Deserialize<string[]>(Required(metadata, "classes", path)) ?? Array.Empty<string>();
                    var preprocessing = PreprocessingJson.Parse(Required(metadata, "preprocessing", path));
                    var head = HeadSpec.Parse(Required(metadata, "head", path), customHead);
                    ModelFileSize.Check(path, new FileInfo(path).Length, architecture, inputChannels, classes.Length, head);
                    var task = version != MultiLabelFormatVersion && !metadata.ContainsKey("task") ? TaskKind.SingleLabel : TaskKindNames.Parse(Required(metadata, "task", path));
                    model = new TransferModel(architecture, inputChannels, head, classes, preprocessing, task);
                    model.UncertaintyPolicy = metadata.TryGetValue("uncertainty_policy", out var policy) ? UncertaintyPolicy.Parse(policy) : null;
                    model.FindingThresholds = metadata.TryGetValue("finding_thresholds", out var thresholds) ? Evaluation.FindingThresholds.Parse(thresholds, classes) : null;
                    model.FindingCalibration = metadata.TryGetValue("finding_calibration", out var findingCalibration) ? Evaluation.FindingTemperatureScaling.Parse(findingCalibration, classes) : null;
                    var freeze = JsonSerializer.Deserialize<string[]>(Required(metadata, "freeze", path)) ?? Array.Empty<string>();
                    model.Freeze(freeze.Length == 0 ? Layers.None : Layers.Only(freeze), metadata.TryGetValue("train_batchnorm", out var tbn) && tbn == "true");
                    model.DecisionThreshold = metadata.TryGetValue("decision_threshold", out var threshold) ? Prediction.DecisionThreshold.Parse(threshold) : null;
                    model.Calibration = Evaluation.TemperatureScaling.FromMetadata(metadata.TryGetValue("calibration", out var calibration) ? calibration : null);
                }
                catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException or OverflowException)
                {
                    throw new WeightsFormatException($"'{path}' has damaged MedicalTransfer metadata: {ex.Message}", ex);
                }

                var tensors = StateDictFile.Read(path);
                try
                {
                    model.WeightsReport = WeightLoader.Apply(model, tensors, path);
                }
                finally
                {
                    foreach (var t in tensors.Values)
                    {
                        t.Dispose();
                    }
                }

                model.eval();
                model.to(device ?? TorchRuntime.DefaultDevice());
                return model;
            }
            catch
            {
                // A half-built model holds native tensors the caller never receives (the builder does the same).
                model?.Dispose();
                throw;
            }
        }

        private static string Required(IReadOnlyDictionary<string, string> metadata, string key, string path) =>
            metadata.TryGetValue(key, out var value) ? value : throw new FormatException($"metadata key '{key}' is missing in '{path}'");

        private Dictionary<string, string> DescribeForFile()
        {
            var description = DescribeCore();
            if (DecisionThreshold is not null)
            {
                description["decision_threshold"] = DecisionThreshold.ToJson();
            }

            if (UncertaintyPolicy is not null)
            {
                description["uncertainty_policy"] = UncertaintyPolicy.ToJson();
            }

            if (FindingThresholds is not null)
            {
                description["finding_thresholds"] = FindingThresholds.ToJson();
            }

            if (FindingCalibration is not null)
            {
                description["finding_calibration"] = FindingCalibration.ToJson();
            }

            return description;
        }

        private Dictionary<string, string> DescribeCore() => new()
        {
            ["format"] = FormatName,
            ["format_version"] = TaskKind == TaskKind.MultiLabel ? MultiLabelFormatVersion : FormatVersion,
            ["architecture"] = Architecture.ToString(),
            ["input_channels"] = InputChannels.ToString(CultureInfo.InvariantCulture),
            ["classes"] = JsonSerializer.Serialize(_classNames),
            ["task"] = TaskKindNames.Name(TaskKind),
            ["preprocessing"] = PreprocessingJson.Write(Preprocessing),
            ["head"] = Head.Layout,
            ["freeze"] = JsonSerializer.Serialize(FreezeSpec.Targets),
            ["train_batchnorm"] = TrainBatchNorm ? "true" : "false",
            ["calibration"] = Evaluation.TemperatureScaling.ToMetadata(Calibration),
            ["library_version"] = typeof(TransferModel).Assembly.GetName().Version?.ToString() ?? "unknown",
        };

        // The head is created before the backbone, the order in which the version-1 code drew from the global generator.
        private static Backbone CreateBody(BackboneArchitecture architecture, int inputChannels, HeadSpec head, int classes, Preprocessing preprocessing, out nn.Module<Tensor, Tensor> headModule)
        {
            if (preprocessing.Channels != inputChannels)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The preprocessing ({0}) prepares {1}-channel images but the model takes {2}.", preprocessing, preprocessing.Channels, inputChannels), nameof(preprocessing));
            }

            headModule = head.Create(architecture.FeatureCount, classes);
            return architecture.CreateBackbone(inputChannels);
        }

        /// <summary>Runs frozen leading stages without building an autograd graph: that is where freezing saves time and memory.</summary>
        private protected override Tensor RunStages(Tensor x, int first, int last)
        {
            int noGradUntil = first == 0 ? Math.Min(_frozenLeadingStages, last + 1) : 0;
            bool bfloat16 = FrozenPrefixPrecision == ComputePrecision.BFloat16;
            if (noGradUntil > 0 && (is_grad_enabled() || bfloat16))
            {
                using (no_grad())
                {
                    for (int i = 0; i < noGradUntil; i++)
                    {
                        x = RunStage(i, x, bfloat16);
                    }
                }

                first = noGradUntil;
            }

            return base.RunStages(x, first, last);
        }
    }
}
