using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Freezing;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace MedicalTransfer.Training
{
    /// <summary>Which units <see cref="LayerImportanceExtensions.RankLayerImportance"/> ablates.</summary>
    public enum ImportanceGranularity
    {
        /// <summary>Each backbone stage (a ResNet's stem and layer1..layer4), one at a time.</summary>
        Stages,

        /// <summary>Each block of every stage that has blocks (<c>layer3.1</c>, <c>denseblock2.denselayer4</c>, <c>stage6.0</c>...) and each stage that has none (the stem), one at a time.</summary>
        Blocks,
    }

    /// <summary>How much one unit matters to the task: the validation loss with its weights zeroed.</summary>
    /// <param name="Name">A stage name or block path, usable in <see cref="Layers.Only"/>.</param>
    /// <param name="AblatedLoss">The validation loss with the unit's parameters set to zero.</param>
    /// <param name="Increase"><paramref name="AblatedLoss"/> minus the baseline loss: the larger, the more task-relevant.</param>
    public sealed record LayerImportance(string Name, double AblatedLoss, double Increase);

    /// <summary>
    /// The ranking of an ablation study, most important first, and freezing policies derived from it. The
    /// policies keep the most task-relevant units trainable and freeze the least relevant (the reference
    /// article froze the most important ones instead).
    /// </summary>
    public sealed class LayerImportanceReport
    {
        internal LayerImportanceReport(double baselineLoss, IReadOnlyList<LayerImportance> ranking)
        {
            BaselineLoss = baselineLoss;
            Ranking = ranking;
        }

        /// <summary>The validation loss of the intact model.</summary>
        public double BaselineLoss { get; }

        /// <summary>Units by decreasing loss increase; ties keep forward order.</summary>
        public IReadOnlyList<LayerImportance> Ranking { get; }

        /// <summary>Freezes the <paramref name="count"/> least important units; the rest (and the head) stay trainable.</summary>
        /// <param name="count">How many units to freeze, 0 to the number of units.</param>
        /// <returns>The spec, for <see cref="TransferModel.Freeze"/> or a <see cref="TrainingPhase"/>.</returns>
        public FreezeSpec FreezeLeastImportant(int count)
        {
            Guard.InRange(count, 0, Ranking.Count);
            return count == 0 ? Layers.None : Layers.Only(Ranking.Skip(Ranking.Count - count).Select(r => r.Name).ToArray());
        }

        /// <summary>Keeps the <paramref name="count"/> most important units (and the head) trainable and freezes the others.</summary>
        /// <param name="count">How many units to keep trainable, 0 to the number of units.</param>
        /// <returns>The spec.</returns>
        public FreezeSpec KeepMostImportant(int count)
        {
            Guard.InRange(count, 0, Ranking.Count);
            return FreezeLeastImportant(Ranking.Count - count);
        }

        /// <summary>The ranking as a table.</summary>
        /// <returns>One line per unit.</returns>
        public override string ToString()
        {
            var text = new StringBuilder();
            text.AppendFormat(CultureInfo.InvariantCulture, "baseline validation loss {0:F4}\n", BaselineLoss);
            foreach (var r in Ranking)
            {
                text.AppendFormat(CultureInfo.InvariantCulture, "{0,-10} +{1:F4} ({2:F4})\n", r.Name, r.Increase, r.AblatedLoss);
            }

            return text.ToString();
        }
    }

    /// <summary>Layer importance by ablation, the reference article's adaptive freezer done right.</summary>
    public static class LayerImportanceExtensions
    {
        /// <summary>
        /// For each unit, zeroes its parameters, measures the validation loss (cross-entropy, evaluation mode),
        /// and restores the parameters bit-exactly. The model's weights, buffers and mode are unchanged afterwards.
        /// </summary>
        /// <param name="model">The model, trained or freshly built with pretrained weights.</param>
        /// <param name="validation">Validation batches (never the test set).</param>
        /// <param name="granularity">Stages or blocks.</param>
        /// <param name="logger">Receives one message per unit; <see langword="null"/> for none.</param>
        /// <param name="cancellationToken">Stops between batches; the current unit's weights are restored first.</param>
        /// <returns>The ranking, most important first.</returns>
        public static LayerImportanceReport RankLayerImportance(this TransferModel model, DataLoader validation, ImportanceGranularity granularity = ImportanceGranularity.Stages, ILogger? logger = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNull(validation);
            TransferModelDataExtensions.RequireModelNormalization(model, validation, nameof(validation), "validation");
            return Rank(model, new LoaderBatchSource(validation), granularity, logger ?? NullLogger.Instance, cancellationToken);
        }

        internal static LayerImportanceReport Rank(TransferModel model, IBatchSource validation, ImportanceGranularity granularity, ILogger logger, CancellationToken cancellationToken)
        {
            using var use = model.Use.Acquire("RankLayerImportance");
            var units = new List<(string Name, IReadOnlyList<string> Paths)>();
            foreach (var stage in model.Architecture.StageLayouts)
            {
                if (granularity == ImportanceGranularity.Stages || stage.Blocks.Count == 0)
                {
                    units.Add((stage.Name, stage.ModulePaths));
                }
                else
                {
                    units.AddRange(stage.Blocks.Select(b => (b.Name, (IReadOnlyList<string>)new[] { b.ModulePath })));
                }
            }

            bool wasTraining = model.training;
            model.eval();
            try
            {
                double baseline = Loss(model, validation, cancellationToken);
                var results = new List<LayerImportance>();
                foreach (var (name, paths) in units)
                {
                    var parameters = model.named_parameters().Where(p => FreezeSpec.IsInside(p.name, paths)).Select(p => p.parameter).ToList();
                    var saved = new List<Tensor>();
                    double loss;
                    using (no_grad())
                    {
                        foreach (var p in parameters)
                        {
                            saved.Add(p.detach().clone().DetachFromDisposeScope());
                            p.zero_();
                        }
                    }

                    try
                    {
                        loss = Loss(model, validation, cancellationToken);
                    }
                    finally
                    {
                        using (no_grad())
                        {
                            for (int i = 0; i < parameters.Count; i++)
                            {
                                parameters[i].copy_(saved[i]);
                                saved[i].Dispose();
                            }
                        }
                    }

                    results.Add(new LayerImportance(name, loss, loss - baseline));
                    Log.Importance(logger, name, loss - baseline);
                }

                // Stable sort: equal increases keep forward order, so the ranking is deterministic.
                var ranking = results.Select((r, i) => (r, i)).OrderByDescending(x => x.r.Increase).ThenBy(x => x.i).Select(x => x.r).ToArray();
                return new LayerImportanceReport(baseline, ranking);
            }
            finally
            {
                model.train(wasTraining);
            }
        }

        private static double Loss(TransferModel model, IBatchSource validation, CancellationToken cancellationToken)
        {
            using var noGrad = no_grad();
            double sum = 0;
            long count = 0;
            var device = model.Device;
            foreach (var batch in validation.GetBatches(0, cancellationToken))
            {
                using (batch)
                {
                    using var scope = NewDisposeScope();
                    var images = batch.Images.device == device ? batch.Images : batch.Images.to(device);
                    if (model.IsMultiLabel)
                    {
                        // The masked binary cross-entropy, summed over observed labels: the trainer's validation loss.
                        var mask = batch.TargetMask.to(device);
                        long observed = (long)mask.sum().item<float>();
                        sum += MultiLabelLoss.Masked(model.forward(images), batch.Targets.to(device), mask, null, 0).item<float>() * (double)observed;
                        count += observed;
                        continue;
                    }

                    var labels = batch.Labels.device == device ? batch.Labels : batch.Labels.to(device);
                    sum += nn.functional.cross_entropy(model.forward(images), labels, reduction: nn.Reduction.Sum).item<float>();
                    count += batch.Count;
                }
            }

            return count == 0 ? double.NaN : sum / count;
        }
    }
}
