using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Training
{
    /// <summary>Settings of the learning-rate range test (<see cref="TransferModelLearningRateExtensions.FindLearningRate"/>).</summary>
    public sealed record LearningRateFinderOptions
    {
        /// <summary>The rate of the first batch.</summary>
        /// <value>The default is 1e-7 (fastai's <c>start_lr</c>).</value>
        public double StartLearningRate { get; init; } = 1e-7;

        /// <summary>The rate the last batch would reach; the rate grows exponentially from <see cref="StartLearningRate"/> to it.</summary>
        /// <value>The default is 10 (fastai's <c>end_lr</c>).</value>
        public double EndLearningRate { get; init; } = 10;

        /// <summary>The most batches (optimizer steps) the test runs; the training loader is read again from its start when it has fewer.</summary>
        /// <value>The default is 100 (fastai's <c>num_it</c>).</value>
        public int MaxBatches { get; init; } = 100;

        /// <summary>The weight of the running average of the loss (an exponential moving average, bias-corrected as in fastai).</summary>
        /// <value>The default is 0.98.</value>
        public double Smoothing { get; init; } = 0.98;

        /// <summary>The test stops once the smoothed loss exceeds this multiple of the lowest smoothed loss so far (divergence), or is not finite.</summary>
        /// <value>The default is 4 (fastai's <c>stop_div</c> threshold).</value>
        public double DivergenceFactor { get; init; } = 4;

        /// <summary>The optimizer's weight decay (AdamW, the trainer's default optimizer, with its default betas).</summary>
        /// <value>The default is 1e-4, <see cref="TrainingOptions.WeightDecay"/>'s default.</value>
        public double WeightDecay { get; init; } = 1e-4;

        /// <summary>Per-class loss weights, as <see cref="TrainingOptions.ClassWeights"/>; <see langword="null"/> for none.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IReadOnlyList<float>? ClassWeights { get; init; }

        internal LearningRateFinderOptions Validate()
        {
            var problems = new List<string>();
            if (!(StartLearningRate > 0) || double.IsInfinity(StartLearningRate))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "StartLearningRate must be positive and finite; found {0}.", StartLearningRate));
            }

            if (!(EndLearningRate > StartLearningRate) || double.IsInfinity(EndLearningRate))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "EndLearningRate must be finite and above StartLearningRate ({0}); found {1}.", StartLearningRate, EndLearningRate));
            }

            if (MaxBatches < 10)
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "MaxBatches must be at least 10 (the suggestions need a curve); found {0}.", MaxBatches));
            }

            if (!(Smoothing >= 0 && Smoothing < 1))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "Smoothing must be in [0, 1); found {0}.", Smoothing));
            }

            if (!(DivergenceFactor > 1) || double.IsInfinity(DivergenceFactor))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "DivergenceFactor must be finite and above 1; found {0}.", DivergenceFactor));
            }

            if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "WeightDecay must be zero or positive and finite; found {0}.", WeightDecay));
            }

            if (problems.Count > 0)
            {
                throw new ArgumentException("LearningRateFinderOptions are invalid:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)));
            }

            return this;
        }
    }

    /// <summary>One batch of the range test.</summary>
    /// <param name="LearningRate">The rate of the step.</param>
    /// <param name="Loss">The batch's training loss before the step.</param>
    /// <param name="SmoothedLoss">The bias-corrected running average of the losses so far (what the suggestions and the plot use).</param>
    public sealed record LearningRatePoint(double LearningRate, double Loss, double SmoothedLoss);

    /// <summary>The curve of a learning-rate range test and the rates it suggests.</summary>
    public sealed class LearningRateFinderResult
    {
        internal LearningRateFinderResult(IReadOnlyList<LearningRatePoint> points, bool diverged, int steepestIndex, int valleyIndex)
        {
            Points = points;
            Diverged = diverged;
            SteepestIndex = steepestIndex;
            ValleyIndex = valleyIndex;
        }

        /// <summary>One point per batch, in order of increasing rate.</summary>
        public IReadOnlyList<LearningRatePoint> Points { get; }

        /// <summary>Whether the test stopped because the loss diverged (rather than after <see cref="LearningRateFinderOptions.MaxBatches"/>).</summary>
        public bool Diverged { get; }

        /// <summary>The index in <see cref="Points"/> of <see cref="Steepest"/>.</summary>
        public int SteepestIndex { get; }

        /// <summary>The index in <see cref="Points"/> of <see cref="Valley"/>.</summary>
        public int ValleyIndex { get; }

        /// <summary>The rate where the smoothed loss falls fastest per decade of rate (fastai's <c>steep</c>).</summary>
        public double Steepest => Points[SteepestIndex].LearningRate;

        /// <summary>
        /// The rate a little past the start of the longest descent of the smoothed loss (fastai's <c>valley</c>, its default
        /// suggestion): usually a safe choice for <see cref="TrainingOptions.LearningRate"/>.
        /// </summary>
        public double Valley => Points[ValleyIndex].LearningRate;

        /// <inheritdoc />
        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture,
            "learning-rate range test: {0} batches from {1:G3} to {2:G3}{3}; suggested {4:G3} (valley), steepest descent at {5:G3}",
            Points.Count,
            Points[0].LearningRate,
            Points[^1].LearningRate,
            Diverged ? ", stopped at divergence" : string.Empty,
            Valley,
            Steepest);

        /// <summary>fastai's suggestions, on the curve without its first tenth and its last five points (as <c>lr_find</c> plots it).</summary>
        internal static LearningRateFinderResult Create(IReadOnlyList<LearningRatePoint> points, int plannedBatches, bool diverged)
        {
            int skipStart = plannedBatches / 10;
            int end = points.Count - 5;
            if (end - skipStart < 3)
            {
                skipStart = 0;
                end = points.Count;
            }

            var lrs = points.Skip(skipStart).Take(end - skipStart).Select(p => p.LearningRate).ToArray();
            var losses = points.Skip(skipStart).Take(end - skipStart).Select(p => p.SmoothedLoss).ToArray();
            return new LearningRateFinderResult(points, diverged, skipStart + SteepestOf(lrs, losses), skipStart + ValleyOf(losses));
        }

        private static int SteepestOf(double[] lrs, double[] losses)
        {
            int best = 0;
            double bestSlope = double.PositiveInfinity;
            for (int i = 0; i + 1 < lrs.Length; i++)
            {
                double slope = (losses[i + 1] - losses[i]) / (Math.Log(lrs[i + 1]) - Math.Log(lrs[i]));
                if (slope < bestSlope)
                {
                    bestSlope = slope;
                    best = i;
                }
            }

            return best;
        }

        // fastai's valley: the longest decreasing run (subsequence) of the smoothed losses, and the point half-way into it
        // (a third plus a sixth of its length from its start), as fastai 2.7's callback/schedule.py computes it.
        private static int ValleyOf(double[] losses)
        {
            int n = losses.Length;
            var lds = Enumerable.Repeat(1, n).ToArray();
            int maxStart = 0, maxEnd = 0;
            for (int i = 1; i < n; i++)
            {
                for (int j = 0; j < i; j++)
                {
                    if (losses[i] < losses[j] && lds[i] < lds[j] + 1)
                    {
                        lds[i] = lds[j] + 1;
                    }

                    if (lds[maxEnd] < lds[i])
                    {
                        maxEnd = i;
                        maxStart = maxEnd - lds[maxEnd];
                    }
                }
            }

            double sections = (maxEnd - maxStart) / 3.0;
            return Math.Clamp(maxStart + (int)sections + (int)(sections / 2), 0, n - 1);
        }
    }

    /// <summary>The learning-rate range test as a verb on <see cref="TransferModel"/>.</summary>
    public static class TransferModelLearningRateExtensions
    {
        /// <summary>
        /// The learning-rate range test (Smith 2015, "Cyclical Learning Rates for Training Neural Networks"; fastai's
        /// <c>lr_find</c>): trains on up to <see cref="LearningRateFinderOptions.MaxBatches"/> batches of
        /// <paramref name="train"/> with a rate that grows exponentially from
        /// <see cref="LearningRateFinderOptions.StartLearningRate"/> to <see cref="LearningRateFinderOptions.EndLearningRate"/>,
        /// records the smoothed loss, stops when it diverges, and suggests rates. Only what the model's freeze spec leaves
        /// trainable is updated. Afterwards the model is exactly as before, bit for bit: every parameter and buffer
        /// (BatchNorm running statistics and batch counters included), training or evaluation mode, and TorchSharp's
        /// global random generator state.
        /// </summary>
        /// <param name="model">The model, frozen as it will be trained.</param>
        /// <param name="train">The training loader (augmented, as for <c>Fit</c>).</param>
        /// <param name="options">Rates, batches, smoothing, divergence; <see langword="null"/> for fastai's defaults.</param>
        /// <param name="cancellationToken">Stops before the next batch; the model is restored.</param>
        /// <returns>The curve and the suggestions; draw it with <c>MedicalTransfer.Reporting</c>'s <c>LearningRateFinderChart</c>.</returns>
        /// <exception cref="ArgumentException">An option is invalid (every problem is listed), or the loader normalises differently from the model.</exception>
        /// <exception cref="InvalidOperationException">The model trains nothing (every parameter frozen), or the loader yields no batch.</exception>
        public static LearningRateFinderResult FindLearningRate(this TransferModel model, DataLoader train, LearningRateFinderOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNull(train);
            TransferModelDataExtensions.RequireModelNormalization(model, train, nameof(train), "training");
            return FindCore(model, new LoaderBatchSource(train), (options ?? new LearningRateFinderOptions()).Validate(), cancellationToken);
        }

        internal static LearningRateFinderResult FindCore(TransferModel model, IBatchSource train, LearningRateFinderOptions options, CancellationToken cancellationToken)
        {
            using var use = model.Use.Acquire("the learning-rate finder");
            var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
            if (trainable.Count == 0)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The model trains nothing (freeze spec {0}): the learning-rate finder needs trainable parameters. Freeze less (Layers.UpTo(2) keeps the later stages and the head trainable).", model.FreezeSpec));
            }

            bool wasTraining = model.training;
            var device = model.Device;
            var saved = new List<(Tensor Target, Tensor Copy)>();
            Tensor? rng = null;
            try
            {
                using (no_grad())
                {
                    foreach (var (_, tensor) in model.state_dict())
                    {
                        saved.Add((tensor, tensor.detach().clone().DetachFromDisposeScope()));
                    }
                }

                rng = torch.random.get_rng_state().DetachFromDisposeScope();
                return Run(model, train, options, trainable, device, cancellationToken);
            }
            finally
            {
                using (no_grad())
                {
                    foreach (var (target, copy) in saved)
                    {
                        target.copy_(copy);
                        copy.Dispose();
                    }
                }

                foreach (var (_, parameter) in trainable)
                {
                    parameter.grad = null;
                }

                if (rng is not null)
                {
                    torch.random.set_rng_state(rng);
                    rng.Dispose();
                }

                model.train(wasTraining);
            }
        }

        private static LearningRateFinderResult Run(TransferModel model, IBatchSource train, LearningRateFinderOptions options, List<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable, Device device, CancellationToken cancellationToken)
        {
            int planned = options.MaxBatches;
            double ratio = options.EndLearningRate / options.StartLearningRate;
            using var optimizer = new AdamWOptimizer(new[] { new ParameterGroup("all", trainable, options.StartLearningRate) }, 0.9, 0.999, 1e-8, options.WeightDecay);
            using var weights = options.ClassWeights is null ? null : tensor(options.ClassWeights.ToArray()).to(device);
            var points = new List<LearningRatePoint>(planned);
            double average = 0, best = double.PositiveInfinity;
            bool diverged = false;
            model.train();
            for (int epoch = 0; points.Count < planned && !diverged; epoch++)
            {
                int before = points.Count;
                foreach (var batch in train.GetBatches(epoch, cancellationToken))
                {
                    using (batch)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        using var scope = NewDisposeScope();
                        int i = points.Count;
                        double rate = options.StartLearningRate * Math.Pow(ratio, i / (double)(planned - 1));
                        optimizer.LearningRates[0] = rate;
                        var images = batch.Images.device == device ? batch.Images : batch.Images.to(device);
                        var labels = batch.Labels.device == device ? batch.Labels : batch.Labels.to(device);
                        var loss = nn.functional.cross_entropy(model.call(images), labels, weight: weights);
                        double value = loss.item<float>();
                        average = (options.Smoothing * average) + ((1 - options.Smoothing) * value);
                        double smoothed = average / (1 - Math.Pow(options.Smoothing, i + 1));
                        points.Add(new LearningRatePoint(rate, value, smoothed));
                        if (!double.IsFinite(smoothed) || (i > 0 && smoothed > options.DivergenceFactor * best))
                        {
                            diverged = true;
                            break;
                        }

                        best = Math.Min(best, smoothed);
                        loss.backward();
                        optimizer.Step();
                        optimizer.ZeroGradients();
                    }

                    if (points.Count >= planned)
                    {
                        break;
                    }
                }

                if (points.Count == before)
                {
                    throw new InvalidOperationException("The training loader yielded no batch: the learning-rate finder needs training images.");
                }
            }

            return LearningRateFinderResult.Create(points, planned, diverged);
        }
    }
}
