using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Threading;
using MedicalTransfer.Freezing;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Training
{
    /// <summary>
    /// The training engine behind <see cref="TransferModelTrainingExtensions"/>: runs phases of epochs of
    /// steps, each step inside its own DisposeScope, validates after every epoch, drives schedules,
    /// callbacks, automatic freezing and resumable checkpoints.
    /// </summary>
    internal sealed class Trainer
    {
        private readonly TransferModel model;
        private readonly IReadOnlyList<string> backboneStages;
        private readonly IBatchSource train;
        private readonly IBatchSource validation;
        private readonly IReadOnlyList<TrainingPhase> phases;
        private readonly TrainingOptions options;
        private readonly TrainingHistory history = new();
        private readonly TrainingContext context;
        private readonly Device device;
        private readonly bool multiLabel;
        private Tensor? classWeights;
        private Tensor? positiveWeights;
        private int phaseIndex;
        private int phaseEpochsDone;
        private int epochsDone;
        private long step;
        private long phaseStep;
        private bool phaseStopped;
        private bool trainingStopped;
        private PlateauState plateau = new();
        private double[]? previousNorms;
        private EarlyStopping? phaseEarlyStopping;
        private FeatureCache? trainCache;
        private FeatureCache? validationCache;

        public Trainer(TransferModel model, IBatchSource train, IBatchSource validation, IReadOnlyList<TrainingPhase> phases, TrainingOptions options)
        {
            this.model = model;
            this.train = train;
            this.validation = validation;
            this.phases = phases;
            this.options = options.Validate(model.ClassNames.Count);
            backboneStages = model.Architecture.BackboneStageNames;
            var problems = phases.SelectMany((p, i) => p is null ? new[] { "Phase " + (i + 1).ToString(CultureInfo.InvariantCulture) + " is null." } : p.Problems(i)).ToList();
            problems.AddRange(options.StageLearningRates?.ProblemsFor(model.Architecture) ?? Enumerable.Empty<string>());
            problems.AddRange(phases.Where(p => p?.StageLearningRates is not null).SelectMany(p => p.StageLearningRates!.ProblemsFor(model.Architecture).Select(m => "Phase '" + p.Name + "': " + m)));
            if (options.AutoFreeze is { } autoFreeze && autoFreeze.ProblemFor(model.Architecture) is { } autoFreezeProblem)
            {
                problems.Add(autoFreezeProblem);
            }

            if (phases.Count == 0)
            {
                problems.Add("There are no phases; give at least one.");
            }

            foreach (var phase in phases.Where(p => p?.Freeze is not null))
            {
                try
                {
                    phase.Freeze.ResolveModulePaths(model.Architecture);
                }
                catch (ArgumentException ex)
                {
                    problems.Add(ex.Message);
                }
            }

            multiLabel = model.IsMultiLabel;
            problems.AddRange(TaskProblems(model, train, validation, options));
            if (train.BatchesPerEpoch == 0)
            {
                problems.Add("The training loader yields no batches: it has no images (or fewer than one batch with DropLast).");
            }

            if (problems.Count > 0)
            {
                throw new ArgumentException("The training phases are invalid:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)), nameof(phases));
            }

            device = model.Device;
            context = new TrainingContext(model, history, phases);
        }

        private int TotalEpochs => phases.Sum(p => p.Epochs);

        public TrainingResult Run(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var use = model.Use.Acquire(phases.Count == 1 && phases[0].Name == "fit" ? "training (Fit)" : "training (FitProgressive)");
            var log = options.Logger;
            using var precision = Models.PrecisionChoice.ForFrozenPrefix(model, options.FrozenPrefixPrecision, "TrainingOptions.FrozenPrefixPrecision", log);
            TrainingCheckpoint? resume = options.ResumeFrom is null ? null : TrainingCheckpoint.ReadFor(options.ResumeFrom, model);
            ParameterOptimizer? optimizer = null;
            try
            {
                if (resume is not null)
                {
                    optimizer = Resume(resume);
                }
                else if (options.Seed is long seed)
                {
                    random.manual_seed(seed);
                }

                classWeights = options.ClassWeights is null ? null : tensor(options.ClassWeights.ToArray()).to(device).DetachFromDisposeScope();
                positiveWeights = options.PositiveWeights is null ? null : tensor(options.PositiveWeights.ToArray()).to(device).DetachFromDisposeScope();
                if (multiLabel && resume is null)
                {
                    history.Add(new TrainingEvent(0, "task", string.Format(CultureInfo.InvariantCulture, "multi-label ({0} findings): masked binary cross-entropy with logits; uncertain labels {1}; positive weights {2}; label smoothing {3}", model.Findings.Count, train.Uncertainty, options.PositiveWeights is null ? "none" : string.Join(", ", model.Findings.Zip(options.PositiveWeights, (f, w) => f + " " + w.ToString("G4", CultureInfo.InvariantCulture))), options.LabelSmoothing)));
                }

                if (multiLabel)
                {
                    model.UncertaintyPolicy = train.Uncertainty;
                }
                Log.TrainingStarted(log, model.Architecture.Name, device.ToString(), phases.Count, TotalEpochs, train.BatchesPerEpoch);
                TuneAllocator();
                foreach (var callback in options.Callbacks)
                {
                    callback.OnTrainingBegin(context);
                }

                while (!trainingStopped && phaseIndex < phases.Count)
                {
                    var phase = phases[phaseIndex];
                    if (phaseStopped || phaseEpochsDone >= phase.Epochs)
                    {
                        NextPhase(ref optimizer);
                        continue;
                    }

                    if (optimizer is null)
                    {
                        optimizer = StartPhase(phase);
                    }

                    context.PhaseIndex = phaseIndex;
                    RunEpoch(phase, optimizer, cancellationToken);
                }

                foreach (var callback in options.Callbacks)
                {
                    callback.OnTrainingEnd(context);
                }

                model.eval();
                return new TrainingResult(history, trainingStopped, model.FreezeSpec, train.Quality, validation.Quality);
            }
            catch (OperationCanceledException)
            {
                Log.Cancelled(log, epochsDone + 1, options.CheckpointPath ?? "(none)");
                throw;
            }
            finally
            {
                // The gradient buffers kept between steps are not the caller's to hold (100 MB for a ResNet-50).
                model.zero_grad();
                optimizer?.Dispose();
                resume?.Dispose();
                classWeights?.Dispose();
                positiveWeights?.Dispose();
                trainCache?.Dispose();
                validationCache?.Dispose();
            }
        }

        /// <summary>Applies <see cref="TrainingOptions.RetainFreedMemory"/> (CPU training only) and logs the outcome.</summary>
        private void TuneAllocator()
        {
            if (!options.RetainFreedMemory)
            {
                Log.AllocatorUnchanged(options.Logger, "TrainingOptions.RetainFreedMemory is false");
                return;
            }

            if (device.type != DeviceType.CPU)
            {
                Log.AllocatorUnchanged(options.Logger, "training on " + device.ToString());
                return;
            }

            var outcome = NativeAllocator.RetainFreedMemory();
            if (outcome == AllocatorTuning.Applied)
            {
                Log.AllocatorRetaining(options.Logger);
            }
            else
            {
                Log.AllocatorUnchanged(options.Logger, outcome == AllocatorTuning.AlreadyApplied ? "already keeping freed memory" : "not Linux with glibc, or glibc refused the settings");
            }
        }

        private void NextPhase(ref ParameterOptimizer? optimizer)
        {
            optimizer?.Dispose();
            optimizer = null;
            phaseIndex++;
            phaseEpochsDone = 0;
            phaseStep = 0;
            phaseStopped = false;
            plateau = new PlateauState();
            previousNorms = null;
            phaseEarlyStopping = null;
        }

        private ParameterOptimizer StartPhase(TrainingPhase phase)
        {
            model.Freeze(phase.Freeze, phase.TrainBatchNorm);
            var optimizer = BuildOptimizer(phase);
            phaseEarlyStopping = phase.EarlyStopping is null ? null : new EarlyStopping(phase.EarlyStopping, phaseOnly: true);
            history.Add(new TrainingEvent(epochsDone, "phase", string.Format(CultureInfo.InvariantCulture, "phase {0} '{1}' begins: freeze {2}, learning rate {3:G4}, {4} epoch(s)", phaseIndex + 1, phase.Name, model.FreezeSpec, phase.LearningRate, phase.Epochs)));
            BeginPhase(phase, optimizer);
            return optimizer;
        }

        private void BeginPhase(TrainingPhase phase, ParameterOptimizer optimizer)
        {
            model.zero_grad();
            trainCache?.Dispose();
            validationCache?.Dispose();
            trainCache = validationCache = null;
            if (options.CacheFrozenFeatures && !model.TrainBatchNorm && model.FreezeSpec.WholeStages(model.Architecture).Count() == backboneStages.Count)
            {
                trainCache = new FeatureCache();
                validationCache = new FeatureCache();
            }

            Log.PhaseStarted(options.Logger, phaseIndex + 1, phase.Name, model.FreezeSpec.ToString(), optimizer.AllParameters.Sum(p => p.numel()), optimizer.Groups.Count, phase.LearningRate);
            context.PhaseIndex = phaseIndex;
            foreach (var callback in options.Callbacks)
            {
                callback.OnPhaseBegin(context);
            }
        }

        /// <summary>Parameter groups over exactly the parameters the phase's freeze spec leaves trainable (computed from the spec, so it can be checked before anything is applied).</summary>
        private ParameterOptimizer BuildOptimizer(TrainingPhase phase)
        {
            var frozen = phase.Freeze.ResolveModulePaths(model.Architecture);
            var trainable = model.named_parameters().Where(p => !FreezeSpec.IsInside(p.name, frozen)).ToList();
            var rates = phase.StageLearningRates ?? options.StageLearningRates;
            var groups = new List<ParameterGroup>();
            if (rates is null)
            {
                groups.Add(new ParameterGroup("all", trainable, phase.LearningRate));
            }
            else
            {
                foreach (var stage in model.Architecture.StageNames)
                {
                    var paths = model.Architecture.StageModulePaths(stage);
                    var members = trainable.Where(p => FreezeSpec.IsInside(p.name, paths)).ToList();
                    if (members.Count > 0)
                    {
                        groups.Add(new ParameterGroup(stage, members, phase.LearningRate * rates.FactorOf(stage, model.Architecture)));
                    }
                }
            }

            if (groups.Sum(g => g.Parameters.Count) == 0)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Phase {0} ('{1}') freezes every parameter ({2}): nothing would train. Leave at least the head trainable.", phaseIndex + 1, phase.Name, phase.Freeze));
            }

            return ParameterOptimizer.Create(options, groups);
        }

        private ParameterOptimizer? Resume(TrainingCheckpoint checkpoint)
        {
            var state = checkpoint.State;
            string path = checkpoint.Path;
            var problems = new List<string>();
            var signatures = phases.Select(p => p.SignatureFor(model.Architecture)).ToArray();
            if (state.Phases.Length != signatures.Length || state.Phases.Zip(signatures).Any(p => WithoutEpochs(p.First) != WithoutEpochs(p.Second)))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "it was written for the phases [{0}], this run has [{1}] (only epoch counts may change)", string.Join("; ", state.Phases), string.Join("; ", signatures)));
            }

            if (state.DataSeed != train.Seed)
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "it was trained with data-order seed {0}, the training loader's seed is {1}", state.DataSeed, train.Seed));
            }

            string kind = options.Optimizer == OptimizerKind.Sgd ? "SGD" : "AdamW";
            if (state.PhaseEpochsDone > 0 && state.Optimizer != kind)
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "its optimizer state is {0}, these options use {1}", state.Optimizer, kind));
            }

            if (state.Callbacks.Length != options.Callbacks.Count)
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "it holds the state of {0} callback(s), these options have {1}", state.Callbacks.Length, options.Callbacks.Count));
            }

            if (problems.Count > 0)
            {
                throw new ArgumentException($"Cannot resume from '{path}': {string.Join("; ", problems)}. Resume with the same phases, optimizer, callbacks and training loader seed that wrote the checkpoint.");
            }

            // Build and fill the optimizer before touching the model: a state that does not fit fails here.
            ParameterOptimizer? optimizer = null;
            bool midPhase = state.PhaseIndex < phases.Count && state.PhaseEpochsDone > 0 && !state.PhaseStopped && !state.TrainingStopped;
            if (midPhase)
            {
                phaseIndex = state.PhaseIndex;
                optimizer = BuildOptimizer(phases[state.PhaseIndex]);
                try
                {
                    optimizer.LoadState(checkpoint.OptimizerTensors, state.OptimizerSteps, path);
                }
                catch
                {
                    optimizer.Dispose();
                    throw;
                }
            }

            TrainingHistory restored;
            try
            {
                restored = TrainingHistory.FromJson(state.History);
            }
            catch (JsonException ex)
            {
                optimizer?.Dispose();
                throw new WeightsFormatException($"The checkpoint '{path}' has a damaged history: {ex.Message}", ex);
            }

            checkpoint.ApplyModel(model);
            model.Freeze(state.Freeze.Length == 0 ? Layers.None : state.FreezeDescription is { } written ? new FreezeSpec(state.Freeze, written) : Layers.Only(state.Freeze), state.TrainBatchNorm);
            if (checkpoint.RngState is { } rng)
            {
                random.set_rng_state(rng);
            }

            foreach (var e in restored.Epochs)
            {
                history.Add(e);
            }

            foreach (var e in restored.Events)
            {
                history.Add(e);
            }

            phaseIndex = state.PhaseIndex;
            phaseEpochsDone = state.PhaseEpochsDone;
            epochsDone = state.EpochsDone;
            step = state.Step;
            phaseStep = state.PhaseStep;
            phaseStopped = state.PhaseStopped;
            trainingStopped = state.TrainingStopped;
            plateau = new PlateauState { Best = state.PlateauBest, BadEpochs = state.PlateauBadEpochs, Scale = state.PlateauScale };
            previousNorms = state.PreviousGradientNorms;
            context.Step = step;
            for (int i = 0; i < options.Callbacks.Count; i++)
            {
                if (options.Callbacks[i] is IResumableCallback resumable && state.Callbacks[i] is { } saved)
                {
                    resumable.RestoreState(saved);
                }
            }

            history.Add(new TrainingEvent(epochsDone, "resume", "resumed from " + path));
            Log.Resumed(options.Logger, path, epochsDone, step, phaseIndex + 1);
            if (midPhase)
            {
                var phase = phases[phaseIndex];
                phaseEarlyStopping = phase.EarlyStopping is null ? null : new EarlyStopping(phase.EarlyStopping, phaseOnly: true);
                if (phaseEarlyStopping is not null && state.PhaseEarlyStopping is { } es)
                {
                    ((IResumableCallback)phaseEarlyStopping).RestoreState(es);
                }

                BeginPhase(phase, optimizer!);
            }

            return optimizer;
        }

        private static string WithoutEpochs(string signature) => signature[..signature.LastIndexOf('|')];

        private void RunEpoch(TrainingPhase phase, ParameterOptimizer optimizer, CancellationToken cancellationToken)
        {
            var schedule = phase.Schedule ?? options.Schedule;
            long phaseSteps = (long)phase.Epochs * train.BatchesPerEpoch;
            int epoch = epochsDone + 1;
            int batches = train.BatchesPerEpoch;
            var clock = Stopwatch.StartNew();
            var trainClock = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0;
            long seen = 0;
            long seenLabels = 0;
            int batchNumber = 0;
            var stageParameters = options.AutoFreeze is null ? null : StageParameters(optimizer);
            var normSums = new double[backboneStages.Count];
            model.train();
            foreach (var batch in train.GetBatches(epochsDone, cancellationToken))
            {
                using (batch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    batchNumber++;
                    using var scope = NewDisposeScope();
                    double factor = schedule.Factor(phaseStep, phaseSteps) * plateau.Scale;
                    double minRate = schedule is PlateauSchedule p ? p.MinLearningRate : 0;
                    for (int g = 0; g < optimizer.Groups.Count; g++)
                    {
                        optimizer.LearningRates[g] = Math.Max(optimizer.Groups[g].BaseLearningRate * factor, minRate);
                    }

                    var logits = Forward(batch, trainCache);
                    var (loss, hits, counted) = LossAndHits(logits, batch);
                    float lossValue = loss.item<float>();
                    if (!float.IsFinite(lossValue))
                    {
                        Log.Diverged(options.Logger, epoch, batchNumber, lossValue);
                        throw new TrainingDivergedException(
                            string.Format(CultureInfo.InvariantCulture, "The training loss became {0} in phase {1} ('{2}'), epoch {3}, batch {4} of {5}. The step was not applied and the last checkpoint ({6}) is intact. Lower the learning rate (now {7:G4}), set TrainingOptions.GradientClipNorm, or check the images and labels of that batch.", lossValue, phaseIndex + 1, phase.Name, epoch, batchNumber, batches, options.CheckpointPath ?? "none configured", optimizer.LearningRates[0]),
                            epoch,
                            batchNumber);
                    }

                    loss.backward();
                    if (options.GradientClipNorm is double clip)
                    {
                        nn.utils.clip_grad_norm_(optimizer.AllParameters.Where(q => q.requires_grad), clip);
                    }

                    if (stageParameters is not null)
                    {
                        AccumulateNorms(stageParameters, normSums);
                    }

                    optimizer.Step();
                    optimizer.ZeroGradients();
                    correct += hits.item<long>();
                    lossSum += (double)lossValue * batch.Count;
                    seen += batch.Count;
                    seenLabels += counted;
                    step++;
                    phaseStep++;
                    context.Step = step;
                    options.Progress?.Report(new TrainingProgress(TrainingProgressKind.Batch, phaseIndex + 1, phase.Name, epoch, TotalEpochs, batchNumber, batches, lossSum / seen, optimizer.LearningRates[0], seen / trainClock.Elapsed.TotalSeconds, null));
                }
            }

            trainClock.Stop();
            var (valLoss, valAccuracy, valAuc) = Validate(cancellationToken);
            clock.Stop();
            phaseEpochsDone++;
            epochsDone++;
            var record = new EpochRecord(
                epoch,
                phaseIndex + 1,
                phase.Name,
                phaseEpochsDone,
                seen == 0 ? double.NaN : lossSum / seen,
                seenLabels == 0 ? double.NaN : correct / (double)seenLabels,
                valLoss,
                valAccuracy,
                valAuc,
                optimizer.LearningRates.ToArray(),
                clock.Elapsed.TotalSeconds,
                seen / Math.Max(1e-9, trainClock.Elapsed.TotalSeconds),
                model.FreezeSpec.Targets.ToArray());
            history.Add(record);
            Log.EpochCompleted(options.Logger, epoch, record.TrainLoss, record.TrainAccuracy, valLoss, valAccuracy, record.Seconds, record.ImagesPerSecond);
            if (schedule is PlateauSchedule plateauSchedule && plateau.Observe(plateauSchedule, valLoss))
            {
                history.Add(new TrainingEvent(epochsDone, "plateau", string.Format(CultureInfo.InvariantCulture, "validation loss plateaued; learning rate now {0:G4} of the phase's base rate", plateau.Scale)));
                Log.PlateauReduced(options.Logger, epoch, plateau.Scale);
            }

            context.StopPhaseRequested = context.StopTrainingRequested = false;
            foreach (var callback in options.Callbacks)
            {
                callback.OnEpochEnd(context);
            }

            phaseEarlyStopping?.OnEpochEnd(context);
            trainingStopped = context.StopTrainingRequested;
            phaseStopped = context.StopPhaseRequested;
            if (stageParameters is not null)
            {
                AutoFreeze(normSums.Select(s => s / Math.Max(1, batchNumber)).ToArray(), epoch);
            }

            if (options.CheckpointPath is { } path)
            {
                TrainingCheckpoint.Write(path, model, optimizer, CaptureState(optimizer));
                Log.CheckpointWritten(options.Logger, path, epoch);
            }

            options.Progress?.Report(new TrainingProgress(TrainingProgressKind.Epoch, phaseIndex + 1, phase.Name, epoch, TotalEpochs, batches, batches, record.TrainLoss, optimizer.LearningRates[0], record.ImagesPerSecond, record));
        }

        private (double Loss, double Accuracy, double? Auc) Validate(CancellationToken cancellationToken)
        {
            model.eval();
            using var noGrad = no_grad();
            double lossSum = 0;
            long correct = 0;
            long seen = 0;
            long seenLabels = 0;
            bool binary = !multiLabel && model.ClassNames.Count == 2;
            var scores = new List<float>();
            var truth = new List<int>();
            var probabilities = new List<double>();
            var targets = new List<float>();
            var masks = new List<float>();
            foreach (var batch in validation.GetBatches(0, cancellationToken))
            {
                using (batch)
                {
                    using var scope = NewDisposeScope();
                    var logits = Forward(batch, validationCache);
                    var (loss, hits, counted) = LossAndHits(logits, batch);

                    // Multi-label: weighted by observed labels, so the epoch's value is the mean over every observed label.
                    lossSum += loss.item<float>() * (double)(multiLabel ? counted : batch.Count);
                    correct += hits.item<long>();
                    seen += batch.Count;
                    seenLabels += counted;
                    if (multiLabel)
                    {
                        probabilities.AddRange(sigmoid(logits.to(ScalarType.Float64)).cpu().data<double>().ToArray());
                        targets.AddRange(OnDevice(batch.Targets).cpu().data<float>().ToArray());
                        masks.AddRange(OnDevice(batch.TargetMask).cpu().data<float>().ToArray());
                    }
                    else if (binary)
                    {
                        scores.AddRange(nn.functional.softmax(logits, 1).select(1, 1).cpu().data<float>().ToArray());
                        truth.AddRange(batch.Labels.cpu().data<long>().ToArray().Select(l => (int)l));
                    }
                }
            }

            model.train();
            if (seen == 0)
            {
                return (double.NaN, double.NaN, null);
            }

            if (multiLabel)
            {
                return (seenLabels == 0 ? double.NaN : lossSum / seenLabels, seenLabels == 0 ? double.NaN : correct / (double)seenLabels, Evaluation.MultiLabelMetrics.MeanAuroc(probabilities.ToArray(), targets.ToArray(), masks.ToArray(), model.Findings.Count));
            }

            return (lossSum / seen, correct / (double)seen, binary ? Metrics.BinaryAuc(scores.ToArray(), truth.ToArray()) : null);
        }

        private Tensor Forward(ITrainingBatch batch, FeatureCache? cache)
        {
            if (cache is null)
            {
                return model.forward(OnDevice(batch.Images));
            }

            var features = cache.Get(batch.Indices, () =>
            {
                using var noGrad = no_grad();
                return model.ForwardTo(OnDevice(batch.Images), Stages.Pooling);
            });
            return model.ForwardFrom(features, Stages.Pooling);
        }

        /// <summary>
        /// The loss, the correct calls and how many calls were counted: single-label, cross-entropy and argmax hits per image;
        /// multi-label, the masked binary cross-entropy and sigmoid-at-0.5 hits per observed label.
        /// </summary>
        private (Tensor Loss, Tensor Hits, long Counted) LossAndHits(Tensor logits, ITrainingBatch batch)
        {
            if (!multiLabel)
            {
                var labels = OnDevice(batch.Labels);
                return (nn.functional.cross_entropy(logits, labels, weight: classWeights, label_smoothing: options.LabelSmoothing), logits.argmax(1).eq(labels).sum(), batch.Count);
            }

            var targets = OnDevice(batch.Targets);
            var mask = OnDevice(batch.TargetMask);
            var loss = MultiLabelLoss.Masked(logits, targets, mask, positiveWeights, options.LabelSmoothing);
            var hits = (logits.gt(0).eq(targets.gt(0.5f)).to(ScalarType.Float32) * mask).sum().to(ScalarType.Int64);
            return (loss, hits, (long)mask.sum().item<float>());
        }

        /// <summary>The model's task must be the data's: a multi-label model trains on multi-label loaders with its findings, in its order.</summary>
        private static IEnumerable<string> TaskProblems(TransferModel model, IBatchSource train, IBatchSource validation, TrainingOptions options)
        {
            foreach (var (source, role) in new[] { (train, "training"), (validation, "validation") })
            {
                if (model.IsMultiLabel && !source.Findings.SequenceEqual(model.Findings, StringComparer.Ordinal))
                {
                    yield return source.Findings.Count == 0
                        ? string.Format(CultureInfo.InvariantCulture, "The model is multi-label (findings {0}) but the {1} loader is single-label: load a table with finding columns (ImageTable) for it.", string.Join(", ", model.Findings), role)
                        : string.Format(CultureInfo.InvariantCulture, "The model's findings ({0}) differ from the {1} loader's ({2}); targets would be compared with the wrong outputs. Build the model with ForFindings(dataset.Findings).", string.Join(", ", model.Findings), role, string.Join(", ", source.Findings));
                }
                else if (!model.IsMultiLabel && source.Findings.Count > 0)
                {
                    yield return string.Format(CultureInfo.InvariantCulture, "The {0} loader is multi-label (findings {1}) but the model is single-label: build it with ForFindings(dataset.Findings), or take one finding with dataset.ForFinding(...).", role, string.Join(", ", source.Findings));
                }
            }

            if (model.IsMultiLabel && options.ClassWeights is not null)
            {
                yield return "ClassWeights weight classes of a single-label model; this model is multi-label: give TrainingOptions.PositiveWeights (for example trainLoader.PositiveWeights()) instead.";
            }

            if (!model.IsMultiLabel && options.PositiveWeights is not null)
            {
                yield return "PositiveWeights are for multi-label models; this model is single-label: give TrainingOptions.ClassWeights instead.";
            }
        }

        private Tensor OnDevice(Tensor t) => t.device == device ? t : t.to(device);

        private CheckpointState CaptureState(ParameterOptimizer optimizer) => new()
        {
            PhaseIndex = phaseIndex,
            PhaseEpochsDone = phaseEpochsDone,
            EpochsDone = epochsDone,
            Step = step,
            PhaseStep = phaseStep,
            Freeze = model.FreezeSpec.Targets.ToArray(),
            FreezeDescription = model.FreezeSpec.Description,
            TrainBatchNorm = model.TrainBatchNorm,
            DataSeed = train.Seed,
            Optimizer = optimizer.Kind,
            OptimizerSteps = new Dictionary<string, long>(optimizer.StepCounts, StringComparer.Ordinal),
            PlateauBest = plateau.Best,
            PlateauBadEpochs = plateau.BadEpochs,
            PlateauScale = plateau.Scale,
            PreviousGradientNorms = previousNorms,
            Callbacks = options.Callbacks.Select(c => c is IResumableCallback r ? r.CaptureState() : null).ToArray(),
            PhaseEarlyStopping = (phaseEarlyStopping as IResumableCallback)?.CaptureState(),
            PhaseStopped = phaseStopped,
            TrainingStopped = trainingStopped,
            Phases = phases.Select(p => p.SignatureFor(model.Architecture)).ToArray(),
            History = history.ToJson(),
        };

        private List<Parameter>[] StageParameters(ParameterOptimizer optimizer)
        {
            var named = optimizer.Groups.SelectMany(g => g.Parameters).ToList();
            return backboneStages.Select(stage => named.Where(p => FreezeSpec.IsInside(p.Name, model.Architecture.StageModulePaths(stage))).Select(p => p.Parameter).ToList()).ToArray();
        }

        private static void AccumulateNorms(List<Parameter>[] stages, double[] sums)
        {
            for (int s = 0; s < stages.Length; s++)
            {
                var squares = stages[s].Select(p => p.grad).Where(g => g is not null).Select(g => g!.square().sum()).ToList();
                if (squares.Count > 0)
                {
                    sums[s] += stack(squares).sum().sqrt().item<float>();
                }
            }
        }

        /// <summary>Freezes leading stages whose gradient-norm change rate fell below the threshold (front to back; never the head).</summary>
        private void AutoFreeze(double[] norms, int epoch)
        {
            var settings = options.AutoFreeze!;
            if (previousNorms is not null && phaseEpochsDone >= settings.WarmupEpochs)
            {
                var frozen = model.FreezeSpec.WholeStages(model.Architecture).ToHashSet(StringComparer.Ordinal);
                var newlyFrozen = new List<string>();
                int last = settings.LastFreezableIndex(model.Architecture);
                for (int s = 0; s <= last && s < backboneStages.Count; s++)
                {
                    if (frozen.Contains(backboneStages[s]))
                    {
                        continue;
                    }

                    double previous = previousNorms[s];
                    double rate = previous > 0 ? Math.Abs(norms[s] - previous) / previous : double.PositiveInfinity;
                    if (!(rate < settings.Threshold))
                    {
                        break;
                    }

                    newlyFrozen.Add(backboneStages[s]);
                    frozen.Add(backboneStages[s]);
                    history.Add(new TrainingEvent(epochsDone, "auto-freeze", string.Format(CultureInfo.InvariantCulture, "froze {0}: gradient-norm change rate {1:G4} < {2:G4}", backboneStages[s], rate, settings.Threshold)));
                    Log.AutoFroze(options.Logger, backboneStages[s], epoch, rate, settings.Threshold);
                }

                if (newlyFrozen.Count > 0)
                {
                    model.Freeze(Layers.Only(model.FreezeSpec.Targets.Concat(newlyFrozen).ToArray()), model.TrainBatchNorm);
                }
            }

            previousNorms = norms;
        }
    }

    /// <summary>Pooled backbone features per dataset index, for a fully frozen backbone without augmentation.</summary>
    internal sealed class FeatureCache : IDisposable
    {
        private readonly Dictionary<int, Tensor> rows = new();

        public int Count => rows.Count;

        public Tensor Get(IReadOnlyList<int> indices, Func<Tensor> compute)
        {
            if (!indices.All(rows.ContainsKey))
            {
                var features = compute();
                for (int i = 0; i < indices.Count; i++)
                {
                    if (!rows.ContainsKey(indices[i]))
                    {
                        rows[indices[i]] = features[i].clone().DetachFromDisposeScope();
                    }
                }
            }

            return stack(indices.Select(i => rows[i]).ToArray());
        }

        public void Dispose()
        {
            foreach (var t in rows.Values)
            {
                t.Dispose();
            }

            rows.Clear();
        }
    }
}
