using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Ensembles
{
    /// <summary>
    /// Ensembles of multi-label models (issue 13): the members' sigmoid probabilities are averaged per finding, as the
    /// single-label ensemble averages its members' softmax probabilities (never logits), so an ensemble's probability
    /// stays a mean of calibrated-or-not member probabilities in [0, 1] on both tasks.
    /// </summary>
    public sealed partial class Ensemble
    {
        /// <summary>Whether the members are multi-label models (<see cref="TaskKind.MultiLabel"/>); all members share the task.</summary>
        public bool IsMultiLabel => members[0].IsMultiLabel;

        /// <summary>The shared findings of a multi-label ensemble, in logit order; empty for a single-label one.</summary>
        public IReadOnlyList<string> Findings => members[0].Findings;

        /// <summary>
        /// Predicts every image of a multi-label dataset with every member (each through its own preprocessing and the
        /// same test-time augmentation, which each member averages per finding over the views) and combines them with
        /// <see cref="CombineFindings"/>.
        /// </summary>
        /// <param name="dataset">A multi-label dataset with the members' findings.</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The ensemble's per-finding probabilities with the dataset's labels.</returns>
        /// <exception cref="ArgumentException">The dataset is not multi-label or its findings differ from the members'.</exception>
        /// <exception cref="InvalidOperationException">The ensemble is single-label, or <see cref="Voting.Hard"/> is set.</exception>
        public MultiLabelPredictions PredictFindings(ImageDataset dataset, PredictionOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(dataset);
            RequireMultiLabel();
            return CombineFindings(members.Select(m => m.PredictFindings(dataset, options, cancellationToken)).ToArray());
        }

        /// <summary>Predicts the held-out test split; see <see cref="PredictFindings(ImageDataset, PredictionOptions?, CancellationToken)"/>.</summary>
        /// <param name="testSet">The test split.</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The ensemble's per-finding probabilities.</returns>
        public MultiLabelPredictions PredictFindings(TestSet testSet, PredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            PredictFindings(Guard.NotNull(testSet).Images, options, cancellationToken);

        /// <summary>
        /// The per-finding report of the test split at <paramref name="thresholds"/>. An ensemble has no thresholds of its
        /// own: choose them on the ENSEMBLE's validation predictions
        /// (<c>FindingThresholds.Choose(ensemble.PredictFindings(splits.Validation), rule)</c>), not on a member's.
        /// </summary>
        /// <param name="testSet">The test split.</param>
        /// <param name="thresholds">Per-finding thresholds; <see langword="null"/> for 0.5 each.</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The report.</returns>
        public MultiLabelReport EvaluateFindings(TestSet testSet, FindingThresholds? thresholds = null, PredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            MultiLabelReport.Compute(PredictFindings(testSet, options, cancellationToken), thresholds);

        /// <summary>
        /// Combines the members' per-finding predictions on the same images (from <c>member.PredictFindings</c>, one per member,
        /// in member order): each probability is the weighted mean of the members' probabilities of that finding for that
        /// image (equal weights for <see cref="Voting.Soft"/>, <see cref="Weights"/> for <see cref="Voting.WeightedSoft"/>).
        /// </summary>
        /// <param name="memberPredictions">One per member.</param>
        /// <returns>The ensemble's predictions, with the members' (shared) labels.</returns>
        /// <exception cref="ArgumentException">The count, findings, image count or labels differ.</exception>
        /// <exception cref="InvalidOperationException">The ensemble is single-label, or <see cref="Voting.Hard"/> is set.</exception>
        public MultiLabelPredictions CombineFindings(IReadOnlyList<MultiLabelPredictions> memberPredictions)
        {
            Guard.NotNull(memberPredictions);
            RequireMultiLabel();
            var first = CheckMemberPredictions(memberPredictions);
            int n = first.Count, f = Findings.Count;
            var mean = new double[n * f];
            var positive = new bool[n * f];
            var observed = new bool[n * f];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < f; j++)
                {
                    double sum = 0;
                    for (int m = 0; m < members.Length; m++)
                    {
                        sum += weights[m] * memberPredictions[m].Probability(i, j);
                    }

                    // Weights sum to 1 only up to rounding: keep the mean a probability.
                    mean[(i * f) + j] = Math.Clamp(sum, 0, 1);
                    positive[(i * f) + j] = first.IsPositive(i, j);
                    observed[(i * f) + j] = first.IsObserved(i, j);
                }
            }

            return new MultiLabelPredictions(Findings, mean, positive, observed);
        }

        /// <summary>
        /// Hard voting per finding. Member m calls finding j present in an image when its probability is at least its
        /// threshold for j (<paramref name="memberThresholds"/>[m]; by default the member's own
        /// <see cref="TransferModel.FindingThresholds"/>, or 0.5 where it has none); the ensemble calls the finding present
        /// when more than half of the members do. Ties (an even number of members, exactly half of them for present) are
        /// decided by the soft rule: present when the members' mean probability is at least the mean of their thresholds.
        /// Every member counts once (weights are for soft voting). The mean probabilities (<see cref="CombineFindings"/>
        /// with <see cref="Voting.Soft"/>) remain the scores of ROC and PR curves, as for single-label hard voting.
        /// </summary>
        /// <param name="memberPredictions">One per member, in member order (each member's <c>PredictFindings</c> on the same images).</param>
        /// <param name="memberThresholds">One per member; <see langword="null"/> for each member's own thresholds.</param>
        /// <returns>The votes and decisions per image and finding.</returns>
        /// <exception cref="ArgumentException">The counts, findings, images or labels differ, or a member's thresholds are of other findings.</exception>
        /// <exception cref="InvalidOperationException">The ensemble is single-label.</exception>
        public FindingVotes VoteFindings(IReadOnlyList<MultiLabelPredictions> memberPredictions, IReadOnlyList<FindingThresholds>? memberThresholds = null)
        {
            Guard.NotNull(memberPredictions);
            RequireMultiLabelMembers();
            var first = CheckMemberPredictions(memberPredictions);
            if (memberThresholds is not null && memberThresholds.Count != members.Length)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected thresholds of each of the {0} members; found {1}.", members.Length, memberThresholds.Count), nameof(memberThresholds));
            }

            int n = first.Count, f = Findings.Count;
            var thresholds = new double[members.Length][];
            for (int m = 0; m < members.Length; m++)
            {
                var t = memberThresholds?[m] ?? members[m].FindingThresholds ?? FindingThresholds.Fixed(Findings);
                if (t is null || !t.Findings.SequenceEqual(Findings, StringComparer.Ordinal))
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "The thresholds of member {0} are of findings [{1}] but the ensemble's are [{2}]; choose them on that member's validation predictions.", m, t is null ? "none" : string.Join(", ", t.Findings), string.Join(", ", Findings)),
                        nameof(memberThresholds));
                }

                thresholds[m] = t.Values.ToArray();
            }

            var votes = new int[n * f];
            var present = new bool[n * f];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < f; j++)
                {
                    int count = 0;
                    double probability = 0, threshold = 0;
                    for (int m = 0; m < members.Length; m++)
                    {
                        double p = memberPredictions[m].Probability(i, j);
                        count += p >= thresholds[m][j] ? 1 : 0;
                        probability += p;
                        threshold += thresholds[m][j];
                    }

                    votes[(i * f) + j] = count;
                    present[(i * f) + j] = 2 * count > members.Length || (2 * count == members.Length && probability >= threshold);
                }
            }

            return new FindingVotes(Findings, members.Length, votes, present);
        }

        private MultiLabelPredictions CheckMemberPredictions(IReadOnlyList<MultiLabelPredictions> memberPredictions)
        {
            if (memberPredictions.Count != members.Length)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected predictions of each of the {0} members; found {1}.", members.Length, memberPredictions.Count), nameof(memberPredictions));
            }

            var first = Guard.NotNull(memberPredictions[0], nameof(memberPredictions));
            int n = first.Count;
            for (int m = 0; m < memberPredictions.Count; m++)
            {
                var p = memberPredictions[m] ?? throw new ArgumentNullException(nameof(memberPredictions), string.Format(CultureInfo.InvariantCulture, "Predictions of member {0} are null.", m));
                if (!p.Findings.SequenceEqual(Findings, StringComparer.Ordinal))
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Predictions of member {0} are of findings [{1}] but the ensemble's are [{2}]; pass each member's own PredictFindings, in member order.", m, string.Join(", ", p.Findings), string.Join(", ", Findings)),
                        nameof(memberPredictions));
                }

                if (p.Count != n || !SameLabels(p, first))
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Predictions of member {0} are not of the same images (image count or labels differ from member 0's: {1} and {2} images); a file skipped by one member's loader can cause this: use BadImagePolicy.Throw for ensembles.", m, p.Count, n),
                        nameof(memberPredictions));
                }
            }

            return first;
        }

        private static bool SameLabels(MultiLabelPredictions a, MultiLabelPredictions b)
        {
            for (int i = 0; i < a.Count; i++)
            {
                for (int j = 0; j < a.Findings.Count; j++)
                {
                    if (a.IsObserved(i, j) != b.IsObserved(i, j) || (a.IsObserved(i, j) && a.IsPositive(i, j) != b.IsPositive(i, j)))
                    {
                        return false;
                    }
                }
            }

            return true;
        }

        /// <summary>Members agree on the task, and multi-label members on their findings in the same order; the message names both.</summary>
        private static void CheckSameFindings(TransferModel[] models, int i)
        {
            var model = models[i];
            var reference = models[0];
            if (model.IsMultiLabel != reference.IsMultiLabel)
            {
                var (multi, multiIndex, single, singleIndex) = model.IsMultiLabel ? (model, i, reference, 0) : (reference, 0, model, i);
                throw new ArgumentException(
                    string.Format(
                        CultureInfo.InvariantCulture,
                        "Member {0} ({1}) is multi-label with findings [{2}] but member {3} ({4}) is single-label with classes [{5}]; an ensemble cannot average sigmoid probabilities of findings with softmax probabilities of classes. Build every member with ForFindings or every member with ForClasses.",
                        multiIndex, multi.Architecture.Name, string.Join(", ", multi.Findings), singleIndex, single.Architecture.Name, string.Join(", ", single.ClassNames)),
                    nameof(models));
            }

            if (!model.Findings.SequenceEqual(reference.Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException(
                    string.Format(
                        CultureInfo.InvariantCulture,
                        "Member {0} ({1}) has findings [{2}] but member 0 ({3}) has [{4}]; members must share findings in the same order, or their probabilities would be averaged across different findings. Rebuild the member with ForFindings({5}).",
                        i, model.Architecture.Name, string.Join(", ", model.Findings), reference.Architecture.Name, string.Join(", ", reference.Findings),
                        string.Join(", ", reference.Findings.Select(n => "\"" + n + "\""))),
                    nameof(models));
            }
        }

        private void RequireMultiLabel()
        {
            RequireMultiLabelMembers();
            if (Voting == Voting.Hard)
            {
                throw new InvalidOperationException("A hard-voting multi-label ensemble has no probabilities of its own: use WithVoting(Voting.Soft) (or WithWeights(...)) for PredictFindings and CombineFindings, which give the mean probabilities (the scores of ROC and PR curves), and VoteFindings for the per-finding majority decisions.");
            }
        }

        private void RequireMultiLabelMembers()
        {
            if (!IsMultiLabel)
            {
                throw new InvalidOperationException("The ensemble's members are single-label (classes " + string.Join(", ", ClassNames) + "); per-finding prediction needs members built with ForFindings(...). Use Evaluator.Predict(ensemble, ...) for single-label ensembles.");
            }

        }
    }
}
