using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Ensembles
{
    /// <summary>How an <see cref="Ensemble"/> combines its members.</summary>
    public enum Voting
    {
        /// <summary>Mean of the members' probabilities; the predicted class is its argmax.</summary>
        Soft,

        /// <summary>
        /// Each member votes for its most probable class; the class with the most votes wins, and a
        /// tie goes to the tied class with the highest mean probability (not to the first class).
        /// The mean probabilities remain the scores of ROC and PR curves. Multi-label ensembles vote per finding
        /// with <see cref="Ensemble.VoteFindings"/> (each member at its own threshold; majority; ties by the soft rule).
        /// </summary>
        Hard,

        /// <summary>Weighted mean of the members' probabilities (weights normalised to sum to 1).</summary>
        WeightedSoft,
    }

    /// <summary>
    /// Several models that answer together. Members may differ in depth, head and preprocessing:
    /// each one is fed the image through its own <see cref="TransferModel.Preprocessing"/>. They must
    /// share class names in the same order. An ensemble is evaluated with
    /// <see cref="Evaluator"/> and explained with <see cref="Explainability.ClassActivationMap"/> (<c>Explain(ensemble, imagePaths)</c>)
    /// exactly like a single model. The ensemble does not own its members: dispose them yourself.
    /// <code>
    /// var ensemble = Ensemble.Of(resnet18, resnet50).WithVoting(Voting.Hard);
    /// var report = Evaluator.Evaluate(ensemble, splits.Test, new EvaluationOptions { PositiveClass = "PNEUMONIA" });
    /// </code>
    /// </summary>
    public sealed partial class Ensemble
    {
        private readonly TransferModel[] members;
        private readonly double[] weights;

        private Ensemble(TransferModel[] members, Voting voting, double[] weights)
        {
            this.members = members;
            Voting = voting;
            this.weights = weights;
        }

        /// <summary>The members, in the order given.</summary>
        public IReadOnlyList<TransferModel> Members => Array.AsReadOnly(members);

        /// <summary>The shared class names.</summary>
        public IReadOnlyList<string> ClassNames => members[0].ClassNames;

        /// <summary>How members are combined.</summary>
        public Voting Voting { get; }

        /// <summary>Each member's weight (summing to 1); equal unless <see cref="WithWeights"/> set them.</summary>
        public IReadOnlyList<double> Weights => Array.AsReadOnly(weights);

        /// <summary>An ensemble of the given models with soft voting.</summary>
        /// <param name="models">At least two models with the same class names in the same order.</param>
        /// <returns>The ensemble.</returns>
        /// <exception cref="ArgumentException">Fewer than two models, a model given twice, or class names that differ; the message names the member.</exception>
        public static Ensemble Of(params TransferModel[] models)
        {
            Guard.NotNull(models);
            if (models.Length < 2)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "An ensemble needs at least 2 models; found {0}.", models.Length), nameof(models));
            }

            for (int i = 0; i < models.Length; i++)
            {
                if (models[i] is null)
                {
                    throw new ArgumentNullException(nameof(models), string.Format(CultureInfo.InvariantCulture, "Member {0} is null.", i));
                }

                if (Array.IndexOf(models, models[i]) != i)
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Member {0} is the same model as member {1}; give it a weight with WithWeights instead.", i, Array.IndexOf(models, models[i])), nameof(models));
                }

                if (models[i].IsMultiLabel || models[0].IsMultiLabel)
                {
                    CheckSameFindings(models, i);
                    continue;
                }

                if (!models[i].ClassNames.SequenceEqual(models[0].ClassNames, StringComparer.Ordinal))
                {
                    throw new ArgumentException(
                        string.Format(
                            CultureInfo.InvariantCulture,
                            "Member {0} ({1}) has classes [{2}] but member 0 ({3}) has [{4}]; members must share class names in the same order, or their probabilities would be averaged across different classes. Rebuild the member with ForClasses({5}).",
                            i, models[i].Architecture.Name, string.Join(", ", models[i].ClassNames), models[0].Architecture.Name, string.Join(", ", models[0].ClassNames),
                            string.Join(", ", models[0].ClassNames.Select(n => "\"" + n + "\""))),
                        nameof(models));
                }
            }

            return new Ensemble(models.ToArray(), Voting.Soft, Enumerable.Repeat(1.0 / models.Length, models.Length).ToArray());
        }

        /// <summary>The same members with another voting rule (weights are kept for <see cref="Voting.WeightedSoft"/>).</summary>
        /// <param name="voting">The rule.</param>
        /// <returns>A new ensemble.</returns>
        public Ensemble WithVoting(Voting voting)
        {
            if (!Enum.IsDefined(voting))
            {
                throw new ArgumentOutOfRangeException(nameof(voting), voting, "Expected Soft, Hard or WeightedSoft.");
            }

            return new Ensemble(members, voting, voting == Voting.WeightedSoft ? weights : Enumerable.Repeat(1.0 / members.Length, members.Length).ToArray());
        }

        /// <summary>Weighted soft voting with one non-negative weight per member (normalised to sum to 1).</summary>
        /// <param name="weights">Member weights, for example validation AUCs.</param>
        /// <returns>A new ensemble.</returns>
        /// <exception cref="ArgumentException">The count differs from the members', a weight is negative or not finite, or all are 0.</exception>
        public Ensemble WithWeights(params double[] weights)
        {
            Guard.NotNull(weights);
            if (weights.Length != members.Length)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one weight per member ({0}); found {1}.", members.Length, weights.Length), nameof(weights));
            }

            if (weights.Any(w => !(w >= 0) || double.IsInfinity(w)) || weights.Sum() <= 0)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Weights must be finite, non-negative and not all 0; found [{0}].", string.Join(", ", weights.Select(w => w.ToString(CultureInfo.InvariantCulture)))), nameof(weights));
            }

            double total = weights.Sum();
            return new Ensemble(members, Voting.WeightedSoft, weights.Select(w => w / total).ToArray());
        }

        /// <summary>
        /// Combines the members' predictions on the same images (as returned by
        /// <see cref="Evaluator.Predict(TransferModel, Data.ImageDataset, PredictionOptions?, System.Threading.CancellationToken)"/>, one per member, in member order).
        /// </summary>
        /// <param name="memberPredictions">One per member.</param>
        /// <returns>The ensemble's predictions.</returns>
        /// <exception cref="ArgumentException">The count, classes, image count or labels differ.</exception>
        public Predictions Combine(IReadOnlyList<Predictions> memberPredictions)
        {
            Guard.NotNull(memberPredictions);
            if (memberPredictions.Count != members.Length)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected predictions of each of the {0} members; found {1}.", members.Length, memberPredictions.Count), nameof(memberPredictions));
            }

            var first = memberPredictions[0];
            for (int m = 0; m < memberPredictions.Count; m++)
            {
                var p = memberPredictions[m];
                if (!p.ClassNames.SequenceEqual(ClassNames, StringComparer.Ordinal) || p.Count != first.Count || !p.Labels.SequenceEqual(first.Labels))
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Predictions of member {0} are not of the same images (classes, image count or labels differ from member 0's); a file skipped by one member's loader can cause this: use BadImagePolicy.Throw for ensembles.", m),
                        nameof(memberPredictions));
                }
            }

            int k = ClassNames.Count;
            var mean = new double[first.Count * k];
            for (int m = 0; m < members.Length; m++)
            {
                var raw = memberPredictions[m].RawProbabilities;
                for (int i = 0; i < mean.Length; i++)
                {
                    mean[i] += weights[m] * raw[i];
                }
            }

            for (int i = 0; i < mean.Length; i++)
            {
                mean[i] = Math.Clamp(mean[i], 0, 1);
            }

            int[]? votes = Voting == Voting.Hard ? HardVote(memberPredictions, mean, k) : null;
            return new Predictions(ClassNames.ToArray(), first.RawLabels, mean, votes);
        }

        /// <summary>Majority of the members' argmax; ties go to the tied class with the highest mean probability (then the lowest index).</summary>
        internal static int[] HardVote(IReadOnlyList<Predictions> memberPredictions, double[] meanProbabilities, int classes)
        {
            int n = memberPredictions[0].Count;
            var result = new int[n];
            var counts = new int[classes];
            for (int i = 0; i < n; i++)
            {
                Array.Clear(counts);
                foreach (var p in memberPredictions)
                {
                    counts[p.PredictedLabels[i]]++;
                }

                int best = 0;
                for (int c = 1; c < classes; c++)
                {
                    if (counts[c] > counts[best] || (counts[c] == counts[best] && meanProbabilities[(i * classes) + c] > meanProbabilities[(i * classes) + best]))
                    {
                        best = c;
                    }
                }

                result[i] = best;
            }

            return result;
        }

        /// <inheritdoc />
        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture,
            "{0} voting over {1}",
            Voting,
            string.Join(", ", members.Select((m, i) => string.Format(CultureInfo.InvariantCulture, "{0} ({1:0.###})", m.Architecture.Name, weights[i]))));
    }
}
