using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedicalTransfer.Training
{
    /// <summary>The optimizer a training phase uses.</summary>
    public enum OptimizerKind
    {
        /// <summary>Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as the article uses.</summary>
        AdamW,

        /// <summary>Stochastic gradient descent with momentum and L2 weight decay.</summary>
        Sgd,
    }

    /// <summary>
    /// How <see cref="TransferModelTrainingExtensions.Fit"/> trains: optimizer, schedule, loss, clipping,
    /// callbacks, checkpoints. Immutable; validated once when training starts, reporting every problem in
    /// one message. The defaults are the reference article's recipe (AdamW at 1e-4 with weight decay
    /// 1e-4, ReduceLROnPlateau with factor 0.5 and patience 3).
    /// </summary>
    public sealed record TrainingOptions
    {
        /// <summary>Epochs of a single-phase <see cref="TransferModelTrainingExtensions.Fit"/> (progressive phases carry their own).</summary>
        /// <value>The default is 10.</value>
        public int Epochs { get; init; } = 10;

        /// <summary>The optimizer.</summary>
        /// <value>The default is <see cref="OptimizerKind.AdamW"/>.</value>
        public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

        /// <summary>Base learning rate of a single-phase fit (progressive phases carry their own).</summary>
        /// <value>The default is 1e-4.</value>
        public double LearningRate { get; init; } = 1e-4;

        /// <summary>Weight decay: decoupled for AdamW, L2 for SGD.</summary>
        /// <value>The default is 1e-4.</value>
        public double WeightDecay { get; init; } = 1e-4;

        /// <summary>SGD momentum (ignored by AdamW).</summary>
        /// <value>The default is 0.9.</value>
        public double Momentum { get; init; } = 0.9;

        /// <summary>AdamW's first and second moment decay rates.</summary>
        /// <value>The default is (0.9, 0.999).</value>
        public (double Beta1, double Beta2) Betas { get; init; } = (0.9, 0.999);

        /// <summary>How the learning rate changes within each phase.</summary>
        /// <value>The default is <see cref="LearningRateSchedule.ReduceOnPlateau"/> with factor 0.5 and patience 3.</value>
        public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.ReduceOnPlateau();

        /// <summary>Per-stage multipliers of the learning rate (discriminative fine-tuning), or <see langword="null"/> for one rate everywhere.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public StageLearningRates? StageLearningRates { get; init; }

        /// <summary>Cross-entropy weight per class, in label order (for example <c>dataset.Statistics.InverseFrequencyWeights</c>), or <see langword="null"/> for equal weights.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IReadOnlyList<float>? ClassWeights { get; init; }

        /// <summary>
        /// For a multi-label model: the binary cross-entropy's weight of each finding's positive labels, in finding order
        /// (PyTorch's <c>pos_weight</c>), for example <c>trainLoader.PositiveWeights()</c> (negatives / positives in the
        /// training split); <see langword="null"/> for 1 each. Single-label models use <see cref="ClassWeights"/>.
        /// </summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IReadOnlyList<float>? PositiveWeights { get; init; }

        /// <summary>Label smoothing of the cross-entropy, in [0, 1); for a multi-label model, targets t become t (1 - ε) + ε / 2.</summary>
        /// <value>The default is 0.</value>
        public double LabelSmoothing { get; init; }

        /// <summary>Largest L2 norm of all gradients together before a step, or <see langword="null"/> for no clipping.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public double? GradientClipNorm { get; init; }

        /// <summary>When set, seeds TorchSharp's random generator (dropout) before training starts; a resumed run restores the saved generator state instead.</summary>
        /// <value>The default is <see langword="null"/>: the generator is left as it is.</value>
        public long? Seed { get; init; }

        /// <summary>
        /// A file the trainer rewrites atomically after every epoch with everything needed to resume: weights,
        /// optimizer and schedule state, epoch, step, random state, data-order seed, phase and history.
        /// </summary>
        /// <value>The default is <see langword="null"/>: no resumable checkpoint.</value>
        public string? CheckpointPath { get; init; }

        /// <summary>A checkpoint written through <see cref="CheckpointPath"/> to continue from; it must match the model and the phases.</summary>
        /// <value>The default is <see langword="null"/>: start from the model's current weights.</value>
        public string? ResumeFrom { get; init; }

        /// <summary>Front-to-back automatic freezing by gradient-norm change rate, or <see langword="null"/> for none.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public AutoFreezeOptions? AutoFreeze { get; init; }

        /// <summary>
        /// When the whole backbone is frozen, compute each training image's pooled features once and reuse them in
        /// later epochs, so linear probing costs one backbone pass per image in total. Only correct when the training
        /// loader applies no random augmentation (the same index must always give the same image).
        /// </summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool CacheFrozenFeatures { get; init; }

        /// <summary>
        /// When training on the CPU under Linux with glibc, let the C allocator keep the memory libtorch frees, for
        /// reuse, instead of returning large blocks to the operating system after every use (glibc's
        /// <c>mallopt</c>: no mmap-served allocations, no heap trimming). Without it every step maps its activations
        /// afresh and the kernel zero-fills them page by page, which made CPU training steps 2-3x slower on the
        /// machines we measured (docs/performance.md). The setting is process-wide and stays in force after the fit
        /// ends: the process's resident memory stays near its peak, and other native code in the process is affected
        /// too. Set <see langword="false"/> in a long-running process that must give memory back between runs.
        /// Nothing happens on Windows, macOS, other C libraries or CUDA.
        /// </summary>
        /// <value>The default is <see langword="true"/>.</value>
        public bool RetainFreedMemory { get; init; } = true;

        /// <summary>
        /// Precision of the frozen leading stages (they have no gradients, so no 32-bit master weights are needed):
        /// <see cref="Models.ComputePrecision.BFloat16"/> runs them from bfloat16 copies of their folded weights, in
        /// training, validation and feature caching; the trainable stages, the loss, the optimizer and checkpoints
        /// stay 32-bit. Fast only on CPUs with AVX512-BF16 or AMX (a warning is logged elsewhere); every backbone
        /// (ResNet, DenseNet, EfficientNet) supports it; the frozen BatchNorm must not train. Effects measured in
        /// docs/training.md.
        /// </summary>
        /// <value>The default is <see cref="Models.ComputePrecision.Float32"/>.</value>
        public Models.ComputePrecision FrozenPrefixPrecision { get; init; } = Models.ComputePrecision.Float32;

        /// <summary>Observers of training: early stopping, best checkpoint, your own.</summary>
        /// <value>The default is none.</value>
        public IReadOnlyList<ITrainingCallback> Callbacks { get; init; } = Array.Empty<ITrainingCallback>();

        /// <summary>Receives a report after every batch and every epoch (for a progress bar).</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IProgress<TrainingProgress>? Progress { get; init; }

        /// <summary>Receives phase, epoch, checkpoint and freezing messages.</summary>
        /// <value>The default is <see cref="NullLogger.Instance"/>.</value>
        public ILogger Logger { get; init; } = NullLogger.Instance;

        /// <summary>Checks every option and throws one exception listing every problem.</summary>
        internal TrainingOptions Validate(int classCount)
        {
            var problems = new List<string>();
            void Check(bool ok, string problem)
            {
                if (!ok)
                {
                    problems.Add(problem);
                }
            }

            Check(Epochs >= 1, F("Epochs must be at least 1; found {0}.", Epochs));
            Check(Enum.IsDefined(Optimizer), F("Optimizer must be AdamW or Sgd; found {0}.", Optimizer));
            Check(LearningRate > 0 && double.IsFinite(LearningRate), F("LearningRate must be a positive number; found {0}.", LearningRate));
            Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), F("WeightDecay must be 0 or more; found {0}.", WeightDecay));
            Check(Momentum >= 0 && Momentum < 1, F("Momentum must be in [0, 1); found {0}.", Momentum));
            Check(Betas.Beta1 >= 0 && Betas.Beta1 < 1 && Betas.Beta2 >= 0 && Betas.Beta2 < 1, F("Betas must both be in [0, 1); found ({0}, {1}).", Betas.Beta1, Betas.Beta2));
            Check(LabelSmoothing >= 0 && LabelSmoothing < 1, F("LabelSmoothing must be in [0, 1); found {0}.", LabelSmoothing));
            Check(GradientClipNorm is null || (GradientClipNorm > 0 && double.IsFinite(GradientClipNorm.Value)), F("GradientClipNorm must be positive or null; found {0}.", GradientClipNorm));
            if (Schedule is null)
            {
                problems.Add("Schedule must not be null; use LearningRateSchedule.Constant() for a fixed rate.");
            }
            else
            {
                problems.AddRange(Schedule.Problems());
            }

            if (ClassWeights is not null)
            {
                Check(ClassWeights.Count == classCount, F("ClassWeights has {0} entries but the model has {1} classes; give one weight per class, in label order.", ClassWeights.Count, classCount));
                Check(ClassWeights.All(w => w >= 0 && float.IsFinite(w)) && ClassWeights.Any(w => w > 0), "ClassWeights must be finite, non-negative and not all zero.");
            }

            if (PositiveWeights is not null)
            {
                Check(PositiveWeights.Count == classCount, F("PositiveWeights has {0} entries but the model has {1} findings; give one weight per finding, in the model's order.", PositiveWeights.Count, classCount));
                Check(PositiveWeights.All(w => w >= 0 && float.IsFinite(w)), "PositiveWeights must be finite and non-negative.");
            }

            Check(CheckpointPath is null || !string.IsNullOrWhiteSpace(CheckpointPath), "CheckpointPath must be null or a file path.");
            Check(ResumeFrom is null || !string.IsNullOrWhiteSpace(ResumeFrom), "ResumeFrom must be null or a file path.");
            Check(Callbacks is not null && Callbacks.All(c => c is not null), "Callbacks must not be null or contain null.");
            Check(Logger is not null, "Logger must not be null; use NullLogger.Instance.");
            if (StageLearningRates is not null)
            {
                problems.AddRange(StageLearningRates.Problems());
            }

            if (AutoFreeze is not null)
            {
                problems.AddRange(AutoFreeze.Problems());
            }

            if (problems.Count > 0)
            {
                throw new ArgumentException("The training options are invalid:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)));
            }

            return this;
        }

        private static string F(string format, params object?[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
    }

    /// <summary>
    /// Discriminative learning rates: a multiplier of the phase's base rate per stage (for a ResNet <c>stem</c>,
    /// <c>layer1</c>..<c>layer4</c>, <c>head</c>; every backbone's stages are its
    /// <see cref="BackboneArchitecture.StageNames"/>); stages not listed use the base rate. Each stage with
    /// trainable parameters becomes its own optimizer parameter group.
    /// </summary>
    public sealed record StageLearningRates
    {
        private readonly double? _decay;

        private StageLearningRates(IReadOnlyDictionary<string, double> factors, double? decay)
        {
            Factors = factors;
            _decay = decay;
        }

        /// <summary>
        /// The multipliers given by stage name. For <see cref="Discriminative"/> only the head's is listed: the
        /// backbone stages' follow from their order in the model (see <see cref="FactorsFor"/>).
        /// </summary>
        public IReadOnlyDictionary<string, double> Factors { get; }

        /// <summary>
        /// The usual discriminative pattern: the last backbone stage (a ResNet's <c>layer4</c>, a DenseNet's
        /// <c>denseblock4</c>, an EfficientNet's <c>conv_head</c>) at the base rate, each earlier stage
        /// <paramref name="decay"/> times lower (layer3 at lr/3, layer2 at lr/9...), the head at
        /// <paramref name="headFactor"/> times the base rate.
        /// </summary>
        /// <param name="decay">Ratio between consecutive stages; the default is 3.</param>
        /// <param name="headFactor">Multiplier of the head; the default is 10.</param>
        /// <returns>The multipliers.</returns>
        public static StageLearningRates Discriminative(double decay = 3, double headFactor = 10) =>
            new(new Dictionary<string, double>(StringComparer.Ordinal) { [Stages.Head] = headFactor }, decay);

        /// <summary>Explicit multipliers per stage name.</summary>
        /// <param name="factors">Stage name to multiplier of the base rate.</param>
        /// <returns>The multipliers.</returns>
        public static StageLearningRates Of(IReadOnlyDictionary<string, double> factors)
        {
            Internal.Guard.NotNull(factors);
            return new StageLearningRates(new Dictionary<string, double>(factors, StringComparer.Ordinal), null);
        }

        /// <summary>The multiplier of every stage with parameters of a backbone, in forward order.</summary>
        /// <param name="architecture">The model's architecture.</param>
        /// <returns>Stage name to multiplier.</returns>
        public IReadOnlyDictionary<string, double> FactorsFor(BackboneArchitecture architecture)
        {
            Internal.Guard.NotNull(architecture);
            return architecture.StageNames.Where(s => s != Stages.Pooling).ToDictionary(s => s, s => FactorOf(s, architecture), StringComparer.Ordinal);
        }

        /// <summary>The multiplier of a stage (1 when not listed).</summary>
        internal double FactorOf(string stage, BackboneArchitecture architecture)
        {
            if (Factors.TryGetValue(stage, out var f))
            {
                return f;
            }

            int index = architecture.BackboneStageNames.ToList().IndexOf(stage);
            return _decay is double decay && index >= 0 ? 1 / Math.Pow(decay, architecture.BackboneStageNames.Count - 1 - index) : 1.0;
        }

        /// <summary>Problems found without a model: non-positive factors, names that are no stage of any backbone.</summary>
        internal IEnumerable<string> Problems()
        {
            if (_decay is double decay && (!(decay > 0) || !double.IsFinite(decay)))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "StageLearningRates.Discriminative's decay must be a positive number; found {0}.", decay);
            }

            foreach (var (stage, factor) in Factors)
            {
                if (stage != Stages.Head && !BackboneCatalog.IsStageName(stage))
                {
                    yield return string.Format(CultureInfo.InvariantCulture, "StageLearningRates names '{0}', which is not a stage with parameters; use the backbone's stage names (for a ResNet stem, layer1..layer4) or head.", stage);
                }

                if (!(factor > 0) || !double.IsFinite(factor))
                {
                    yield return string.Format(CultureInfo.InvariantCulture, "StageLearningRates['{0}'] must be a positive number; found {1}.", stage, factor);
                }
            }
        }

        /// <summary>Names that are no stage of this model's backbone.</summary>
        internal IEnumerable<string> ProblemsFor(BackboneArchitecture architecture) =>
            Factors.Keys
                .Where(stage => stage != Stages.Head && BackboneCatalog.IsStageName(stage) && !architecture.BackboneStageNames.Contains(stage, StringComparer.Ordinal))
                .Select(stage => string.Format(CultureInfo.InvariantCulture, "StageLearningRates names '{0}', which is not a stage of {1}; its stages are {2} and head.", stage, architecture.Name, string.Join(", ", architecture.BackboneStageNames)));
    }

    /// <summary>
    /// Automatic front-to-back freezing in the spirit of AutoFreeze (Liu et al., 2021) and FreezeOut
    /// (Brock et al., 2017): after each epoch, the mean gradient norm of every trainable backbone stage is
    /// compared with the previous epoch's; the leading trainable stage freezes when its relative change
    /// falls below <see cref="Threshold"/>, then the next may follow in the same epoch. Only leading
    /// stages freeze (so the frozen prefix runs without autograd), and the head never does.
    /// </summary>
    public sealed record AutoFreezeOptions
    {
        /// <summary>Relative change of a stage's mean gradient norm between consecutive epochs below which it freezes.</summary>
        /// <value>The default is 0.1.</value>
        public double Threshold { get; init; } = 0.1;

        /// <summary>Epochs of a phase before the first freezing decision (at least 2: two epochs of norms are needed).</summary>
        /// <value>The default is 2.</value>
        public int WarmupEpochs { get; init; } = 2;

        /// <summary>
        /// The last backbone stage that may freeze; later stages and the head always train. <see langword="null"/>
        /// means the backbone's second-to-last stage: <c>layer3</c> for a ResNet, <c>denseblock3</c> for a DenseNet,
        /// <c>stage7</c> for an EfficientNet.
        /// </summary>
        /// <value>The default is <see langword="null"/> (the second-to-last backbone stage).</value>
        public string? LastFreezableStage { get; init; }

        /// <summary>Index of the last stage that may freeze, in the architecture's backbone stages.</summary>
        internal int LastFreezableIndex(BackboneArchitecture architecture) => LastFreezableStage is null
            ? architecture.BackboneStageNames.Count - 2
            : architecture.BackboneStageNames.ToList().IndexOf(LastFreezableStage);

        internal IEnumerable<string> Problems()
        {
            if (!(Threshold > 0) || !double.IsFinite(Threshold))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "AutoFreeze.Threshold must be a positive number; found {0}.", Threshold);
            }

            if (WarmupEpochs < 2)
            {
                yield return string.Format(CultureInfo.InvariantCulture, "AutoFreeze.WarmupEpochs must be at least 2; found {0}.", WarmupEpochs);
            }

            if (LastFreezableStage is not null && !BackboneCatalog.IsStageName(LastFreezableStage))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "AutoFreeze.LastFreezableStage must be a backbone stage (for a ResNet stem, layer1, layer2, layer3 or layer4; never the head) or null; found '{0}'.", LastFreezableStage);
            }
        }

        /// <summary>A problem with <see cref="LastFreezableStage"/> for this model's backbone, or null.</summary>
        internal string? ProblemFor(BackboneArchitecture architecture) =>
            LastFreezableStage is not null && BackboneCatalog.IsStageName(LastFreezableStage) && LastFreezableIndex(architecture) < 0
                ? string.Format(CultureInfo.InvariantCulture, "AutoFreeze.LastFreezableStage is '{0}', which is not a stage of {1}; its stages are {2}.", LastFreezableStage, architecture.Name, string.Join(", ", architecture.BackboneStageNames))
                : null;
    }
}
