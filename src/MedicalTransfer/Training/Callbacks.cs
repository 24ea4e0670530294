using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Training
{
    /// <summary>
    /// Observes training. Implement only what you need: every method has an empty default. Callbacks run
    /// on the training thread, in the order given in <see cref="TrainingOptions.Callbacks"/>.
    /// </summary>
    public interface ITrainingCallback
    {
        /// <summary>Called once before the first epoch (also when resuming).</summary>
        /// <param name="context">The run.</param>
        void OnTrainingBegin(TrainingContext context)
        {
        }

        /// <summary>Called when a phase begins, after its freeze spec is applied and its optimizer built.</summary>
        /// <param name="context">The run.</param>
        void OnPhaseBegin(TrainingContext context)
        {
        }

        /// <summary>Called after each epoch's validation; <see cref="TrainingContext.LastEpoch"/> holds its record. Call <see cref="TrainingContext.StopTraining"/> or <see cref="TrainingContext.StopPhase"/> to end early.</summary>
        /// <param name="context">The run.</param>
        void OnEpochEnd(TrainingContext context)
        {
        }

        /// <summary>Called once after the last epoch (not after a failure or cancellation).</summary>
        /// <param name="context">The run.</param>
        void OnTrainingEnd(TrainingContext context)
        {
        }
    }

    /// <summary>The state of a run, as callbacks see it.</summary>
    public sealed class TrainingContext
    {
        internal TrainingContext(TransferModel model, TrainingHistory history, IReadOnlyList<TrainingPhase> phases)
        {
            Model = model;
            History = history;
            Phases = phases;
        }

        /// <summary>The model being trained.</summary>
        public TransferModel Model { get; }

        /// <summary>The history so far.</summary>
        public TrainingHistory History { get; }

        /// <summary>All phases of the run (one for a plain fit).</summary>
        public IReadOnlyList<TrainingPhase> Phases { get; }

        /// <summary>0-based index of the current phase.</summary>
        public int PhaseIndex { get; internal set; }

        /// <summary>The current phase.</summary>
        public TrainingPhase Phase => Phases[PhaseIndex];

        /// <summary>The last completed epoch, or <see langword="null"/> before the first.</summary>
        public EpochRecord? LastEpoch => History.Epochs.Count == 0 ? null : History.Epochs[^1];

        /// <summary>Optimizer steps taken so far, across phases.</summary>
        public long Step { get; internal set; }

        internal bool StopTrainingRequested { get; set; }

        internal bool StopPhaseRequested { get; set; }

        /// <summary>Ends the whole run after the current epoch.</summary>
        public void StopTraining() => StopTrainingRequested = true;

        /// <summary>Ends the current phase after the current epoch; the next phase (if any) starts.</summary>
        public void StopPhase() => StopPhaseRequested = true;
    }

    /// <summary>A metric a callback can monitor.</summary>
    public enum TrainingMetric
    {
        /// <summary><see cref="EpochRecord.ValidationLoss"/> (lower is better).</summary>
        ValidationLoss,

        /// <summary><see cref="EpochRecord.ValidationAccuracy"/> (higher is better).</summary>
        ValidationAccuracy,

        /// <summary><see cref="EpochRecord.ValidationAuc"/> (higher is better; two-class tasks only).</summary>
        ValidationAuc,

        /// <summary><see cref="EpochRecord.TrainLoss"/> (lower is better).</summary>
        TrainLoss,
    }

    /// <summary>Whether a monitored metric improves by going down or up.</summary>
    public enum MonitorMode
    {
        /// <summary>Lower for losses, higher for accuracy and AUC.</summary>
        Auto,

        /// <summary>Lower is better.</summary>
        Min,

        /// <summary>Higher is better.</summary>
        Max,
    }

    /// <summary>Tracks the best value of a metric; shared by early stopping and best checkpoints.</summary>
    internal sealed class MetricTracker
    {
        public MetricTracker(TrainingMetric metric, MonitorMode mode, double minDelta)
        {
            Metric = metric;
            Maximize = mode == MonitorMode.Max || (mode == MonitorMode.Auto && metric is TrainingMetric.ValidationAccuracy or TrainingMetric.ValidationAuc);
            MinDelta = minDelta;
        }

        public TrainingMetric Metric { get; }

        public bool Maximize { get; }

        public double MinDelta { get; }

        public double Best { get; set; } = double.NaN;

        public int BestEpoch { get; set; }

        public int Wait { get; set; }

        public static double Read(EpochRecord record, TrainingMetric metric) => metric switch
        {
            TrainingMetric.ValidationLoss => record.ValidationLoss,
            TrainingMetric.ValidationAccuracy => record.ValidationAccuracy,
            TrainingMetric.ValidationAuc => record.ValidationAuc ?? throw new InvalidOperationException(
                string.Format(CultureInfo.InvariantCulture, "ValidationAuc is monitored but epoch {0} has no AUC: it exists only for two-class tasks whose validation set holds both classes, and for multi-label models with a finding whose observed validation labels hold both. Monitor ValidationLoss or ValidationAccuracy instead.", record.Epoch)),
            _ => record.TrainLoss,
        };

        /// <summary>Records an epoch; returns whether it improved on the best so far.</summary>
        public bool Observe(EpochRecord record)
        {
            double value = Read(record, Metric);
            bool improved = double.IsNaN(Best) || (Maximize ? value > Best + MinDelta : value < Best - MinDelta);
            if (improved && !double.IsNaN(value))
            {
                Best = value;
                BestEpoch = record.Epoch;
                Wait = 0;
                return true;
            }

            Wait++;
            return false;
        }

        private static readonly JsonSerializerOptions StateJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

        public string Capture() => JsonSerializer.Serialize(new[] { Best, BestEpoch, Wait }, StateJson);

        public void Restore(string state)
        {
            var values = JsonSerializer.Deserialize<double[]>(state, StateJson) ?? throw new JsonException("empty callback state");
            Best = values[0];
            BestEpoch = (int)values[1];
            Wait = (int)values[2];
        }
    }

    /// <summary>A callback whose state is saved in checkpoints, so a resumed run behaves as an uninterrupted one.</summary>
    internal interface IResumableCallback
    {
        string CaptureState();

        void RestoreState(string state);
    }

    /// <summary>When to stop: a metric that has not improved for a number of epochs.</summary>
    public sealed record EarlyStoppingOptions
    {
        /// <summary>The metric watched.</summary>
        /// <value>The default is <see cref="TrainingMetric.ValidationLoss"/>.</value>
        public TrainingMetric Monitor { get; init; } = TrainingMetric.ValidationLoss;

        /// <summary>Whether lower or higher is better.</summary>
        /// <value>The default is <see cref="MonitorMode.Auto"/>.</value>
        public MonitorMode Mode { get; init; } = MonitorMode.Auto;

        /// <summary>Epochs without improvement before stopping.</summary>
        /// <value>The default is 5.</value>
        public int Patience { get; init; } = 5;

        /// <summary>Smallest change that counts as an improvement.</summary>
        /// <value>The default is 0.</value>
        public double MinDelta { get; init; }
    }

    /// <summary>Stops the run when the monitored metric has not improved for <see cref="EarlyStoppingOptions.Patience"/> epochs.</summary>
    public sealed class EarlyStopping : ITrainingCallback, IResumableCallback
    {
        private readonly MetricTracker tracker;
        private readonly bool phaseOnly;

        /// <summary>Creates the callback.</summary>
        /// <param name="options">Metric, mode, patience and minimum change; <see langword="null"/> for the defaults.</param>
        public EarlyStopping(EarlyStoppingOptions? options = null)
            : this(options ?? new EarlyStoppingOptions(), phaseOnly: false)
        {
        }

        internal EarlyStopping(EarlyStoppingOptions options, bool phaseOnly)
        {
            Options = options;
            Guard.Positive(options.Patience, "options.Patience");
            Guard.InRange(options.MinDelta, 0, double.MaxValue, "options.MinDelta");
            tracker = new MetricTracker(options.Monitor, options.Mode, options.MinDelta);
            this.phaseOnly = phaseOnly;
        }

        /// <summary>The settings.</summary>
        public EarlyStoppingOptions Options { get; }

        /// <summary>The epoch (1-based, across phases) at which training was stopped, or 0 if it was not.</summary>
        public int StoppedEpoch { get; private set; }

        /// <summary>The best value seen (NaN before the first epoch).</summary>
        public double Best => tracker.Best;

        /// <inheritdoc />
        public void OnEpochEnd(TrainingContext context)
        {
            Guard.NotNull(context);
            var record = context.LastEpoch!;
            tracker.Observe(record);
            if (tracker.Wait >= Options.Patience)
            {
                StoppedEpoch = record.Epoch;
                if (phaseOnly)
                {
                    context.StopPhase();
                }
                else
                {
                    context.StopTraining();
                }

                context.History.Add(new TrainingEvent(record.Epoch, "early-stop", string.Format(CultureInfo.InvariantCulture, "{0} did not improve for {1} epoch(s); best {2:G6} at epoch {3}{4}", Options.Monitor, Options.Patience, tracker.Best, tracker.BestEpoch, phaseOnly ? " (phase ends)" : string.Empty)));
            }
        }

        string IResumableCallback.CaptureState() => tracker.Capture() + "|" + StoppedEpoch.ToString(CultureInfo.InvariantCulture);

        void IResumableCallback.RestoreState(string state)
        {
            int bar = state.LastIndexOf('|');
            tracker.Restore(state[..bar]);
            StoppedEpoch = int.Parse(state[(bar + 1)..], CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// Saves the model (<see cref="TransferModel.Save"/>, atomically) whenever the monitored metric improves,
    /// across all phases of a run; load the best model afterwards with <see cref="TransferModel.Load"/>.
    /// </summary>
    public sealed class BestCheckpoint : ITrainingCallback, IResumableCallback
    {
        private readonly MetricTracker tracker;

        /// <summary>Creates the callback.</summary>
        /// <param name="path">The model file to write (conventionally <c>.safetensors</c>); its folder must exist.</param>
        /// <param name="monitor">The metric; the default is the validation loss.</param>
        /// <param name="mode">Whether lower or higher is better; the default follows the metric.</param>
        public BestCheckpoint(string path, TrainingMetric monitor = TrainingMetric.ValidationLoss, MonitorMode mode = MonitorMode.Auto)
        {
            Path = Guard.NotNullOrWhiteSpace(path);
            tracker = new MetricTracker(monitor, mode, 0);
        }

        /// <summary>The model file.</summary>
        public string Path { get; }

        /// <summary>The best value so far (NaN before the first epoch).</summary>
        public double BestValue => tracker.Best;

        /// <summary>The epoch (1-based, across phases) whose weights are in <see cref="Path"/>, or 0.</summary>
        public int BestEpoch => tracker.BestEpoch;

        /// <inheritdoc />
        public void OnEpochEnd(TrainingContext context)
        {
            Guard.NotNull(context);
            if (tracker.Observe(context.LastEpoch!))
            {
                context.Model.Save(Path);
            }
        }

        string IResumableCallback.CaptureState() => tracker.Capture();

        void IResumableCallback.RestoreState(string state) => tracker.Restore(state);
    }
}
