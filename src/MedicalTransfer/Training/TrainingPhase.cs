using System;
using System.Collections.Generic;
using System.Globalization;
using MedicalTransfer.Freezing;
using MedicalTransfer.Models;

namespace MedicalTransfer.Training
{
    /// <summary>
    /// One phase of progressive fine-tuning: what is frozen, at which learning rate, for how many epochs.
    /// Every phase gets a fresh optimizer and schedule over exactly its trainable parameters.
    /// </summary>
    public sealed record TrainingPhase
    {
        /// <summary>Creates a phase.</summary>
        /// <param name="name">A name for logs and history, for example <c>"head"</c>.</param>
        /// <param name="freeze">What is frozen during the phase.</param>
        /// <param name="learningRate">The base learning rate.</param>
        /// <param name="epochs">Maximum epochs.</param>
        public TrainingPhase(string name, FreezeSpec freeze, double learningRate, int epochs)
        {
            Name = name;
            Freeze = freeze;
            LearningRate = learningRate;
            Epochs = epochs;
        }

        /// <summary>The phase's name.</summary>
        public string Name { get; init; }

        /// <summary>What is frozen (see <see cref="Layers"/>).</summary>
        public FreezeSpec Freeze { get; init; }

        /// <summary>The base learning rate.</summary>
        public double LearningRate { get; init; }

        /// <summary>Maximum epochs.</summary>
        public int Epochs { get; init; }

        /// <summary>Per-stage multipliers of <see cref="LearningRate"/>, or <see langword="null"/> to use <see cref="TrainingOptions.StageLearningRates"/>.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public StageLearningRates? StageLearningRates { get; init; }

        /// <summary>The schedule of this phase, or <see langword="null"/> to use <see cref="TrainingOptions.Schedule"/>.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public LearningRateSchedule? Schedule { get; init; }

        /// <summary>Ends this phase (not the run) early when the validation loss stops improving, or <see langword="null"/> to run all epochs.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public EarlyStoppingOptions? EarlyStopping { get; init; }

        /// <summary>Whether frozen stages' BatchNorm layers keep updating their running statistics.</summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool TrainBatchNorm { get; init; }

        internal IEnumerable<string> Problems(int index)
        {
            string where = string.Format(CultureInfo.InvariantCulture, "Phase {0} ('{1}')", index + 1, Name);
            if (string.IsNullOrWhiteSpace(Name))
            {
                yield return where + ": Name must not be empty.";
            }

            if (Freeze is null)
            {
                yield return where + ": Freeze must not be null; use Layers.None to train everything.";
            }

            if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "{0}: LearningRate must be a positive number; found {1}.", where, LearningRate);
            }

            if (Epochs < 1)
            {
                yield return string.Format(CultureInfo.InvariantCulture, "{0}: Epochs must be at least 1; found {1}.", where, Epochs);
            }

            if (Schedule is not null)
            {
                foreach (var p in Schedule.Problems())
                {
                    yield return where + ": " + p;
                }
            }

            if (StageLearningRates is not null)
            {
                foreach (var p in StageLearningRates.Problems())
                {
                    yield return where + ": " + p;
                }
            }

            if (EarlyStopping is not null && EarlyStopping.Patience < 1)
            {
                yield return where + ": EarlyStopping.Patience must be at least 1.";
            }
        }

        /// <summary>What a checkpoint records of the phase, with the freeze spec's stages for the model's backbone.</summary>
        internal string SignatureFor(BackboneArchitecture architecture) => string.Format(CultureInfo.InvariantCulture, "{0}|{1}|{2:R}|{3}", Name, string.Join(",", Freeze.For(architecture).Targets), LearningRate, Epochs);
    }

    /// <summary>Ready-made progressive fine-tuning plans.</summary>
    public static class TrainingPhases
    {
        /// <summary>
        /// The reference article's three phases: the head alone at 1e-3 (<see cref="Layers.All"/> frozen),
        /// then layer3, layer4 and the head at 1e-4 (<see cref="Layers.UpTo"/>(2) frozen), then everything at 1e-5.
        /// On other backbones the second phase freezes their stem and first two stages (a DenseNet's denseblock1 and
        /// denseblock2); its name stays "layer3-layer4-head", which training checkpoints record.
        /// </summary>
        /// <param name="headEpochs">Epochs of the first phase; the default is 5.</param>
        /// <param name="partialEpochs">Epochs of the second phase; the default is 10.</param>
        /// <param name="fullEpochs">Epochs of the third phase; the default is 5.</param>
        /// <returns>The three phases.</returns>
        public static IReadOnlyList<TrainingPhase> Article(int headEpochs = 5, int partialEpochs = 10, int fullEpochs = 5) => new[]
        {
            new TrainingPhase("head", Layers.All, 1e-3, headEpochs),
            new TrainingPhase("layer3-layer4-head", Layers.UpTo(2), 1e-4, partialEpochs),
            new TrainingPhase("all", Layers.None, 1e-5, fullEpochs),
        };
    }
}
