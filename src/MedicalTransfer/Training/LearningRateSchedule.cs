using System;
using System.Collections.Generic;
using System.Globalization;

namespace MedicalTransfer.Training
{
    /// <summary>
    /// How the learning rate changes during a phase. Step schedules (<see cref="CosineWithWarmup"/>,
    /// <see cref="OneCycle"/>, <see cref="Constant"/>) are pure functions of training progress (step
    /// and total steps of the phase); <see cref="ReduceOnPlateau"/> reacts to the validation loss after
    /// each epoch. Every phase of a progressive run starts its schedule afresh.
    /// </summary>
    public abstract record LearningRateSchedule
    {
        private protected LearningRateSchedule()
        {
        }

        /// <summary>The base learning rate throughout.</summary>
        /// <returns>The schedule.</returns>
        public static LearningRateSchedule Constant() => new ConstantSchedule();

        /// <summary>
        /// Multiplies the learning rate by <paramref name="factor"/> when the validation loss has not improved
        /// (by a relative <paramref name="threshold"/>) for more than <paramref name="patience"/> epochs, as
        /// PyTorch's <c>ReduceLROnPlateau</c> in "min" mode; the article's defaults.
        /// </summary>
        /// <param name="factor">The multiplier, in (0, 1); the default is 0.5.</param>
        /// <param name="patience">Epochs without improvement tolerated; the default is 3.</param>
        /// <param name="threshold">Relative improvement that counts; the default is 1e-4.</param>
        /// <param name="minLearningRate">A floor for every group; the default is 0.</param>
        /// <returns>The schedule.</returns>
        public static LearningRateSchedule ReduceOnPlateau(double factor = 0.5, int patience = 3, double threshold = 1e-4, double minLearningRate = 0) =>
            new PlateauSchedule(factor, patience, threshold, minLearningRate);

        /// <summary>
        /// Linear warm-up from 1/<c>warmupSteps</c> of the base rate to the base rate over the first
        /// <paramref name="warmupFraction"/> of the phase's steps, then cosine annealing down to
        /// <paramref name="minFactor"/> times the base rate at the last step.
        /// </summary>
        /// <param name="warmupFraction">Share of the phase spent warming up, in [0, 1); the default is 0.05.</param>
        /// <param name="minFactor">Final learning rate as a fraction of the base rate, in [0, 1]; the default is 0.</param>
        /// <returns>The schedule.</returns>
        public static LearningRateSchedule CosineWithWarmup(double warmupFraction = 0.05, double minFactor = 0) => new CosineSchedule(warmupFraction, minFactor);

        /// <summary>
        /// The one-cycle policy (Smith, 2018; PyTorch's <c>OneCycleLR</c> with cosine annealing): the
        /// base learning rate is the peak; the rate rises from peak/<paramref name="divFactor"/> to the peak
        /// over the first <paramref name="pctStart"/> of the phase, then falls to
        /// peak/(<paramref name="divFactor"/>*<paramref name="finalDivFactor"/>).
        /// </summary>
        /// <param name="pctStart">Share of the phase spent rising, in (0, 1); the default is 0.3.</param>
        /// <param name="divFactor">Peak over initial rate; the default is 25.</param>
        /// <param name="finalDivFactor">Initial over final rate; the default is 1e4.</param>
        /// <returns>The schedule.</returns>
        public static LearningRateSchedule OneCycle(double pctStart = 0.3, double divFactor = 25, double finalDivFactor = 1e4) => new OneCycleSchedule(pctStart, divFactor, finalDivFactor);

        /// <summary>The multiplier of the base rate at <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
        internal abstract double Factor(long step, long totalSteps);

        /// <summary>Problems with the parameters, one sentence each.</summary>
        internal abstract IEnumerable<string> Problems();
    }

    /// <summary>Keeps the base learning rate.</summary>
    internal sealed record ConstantSchedule : LearningRateSchedule
    {
        internal override double Factor(long step, long totalSteps) => 1.0;

        internal override IEnumerable<string> Problems() => Array.Empty<string>();

        public override string ToString() => "Constant";
    }

    /// <summary>ReduceLROnPlateau on the validation loss; its factor is applied through <see cref="PlateauState"/>.</summary>
    internal sealed record PlateauSchedule(double ReductionFactor, int Patience, double Threshold, double MinLearningRate) : LearningRateSchedule
    {
        internal override double Factor(long step, long totalSteps) => 1.0;

        internal override IEnumerable<string> Problems()
        {
            if (!(ReductionFactor > 0 && ReductionFactor < 1))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "ReduceOnPlateau factor must be in (0, 1); found {0}.", ReductionFactor);
            }

            if (Patience < 0)
            {
                yield return string.Format(CultureInfo.InvariantCulture, "ReduceOnPlateau patience must be 0 or more; found {0}.", Patience);
            }

            if (!(Threshold >= 0) || !(MinLearningRate >= 0))
            {
                yield return "ReduceOnPlateau threshold and minimum learning rate must be 0 or more.";
            }
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "ReduceOnPlateau(factor {0}, patience {1})", ReductionFactor, Patience);
    }

    /// <summary>Warm-up then cosine annealing.</summary>
    internal sealed record CosineSchedule(double WarmupFraction, double MinFactor) : LearningRateSchedule
    {
        internal override double Factor(long step, long totalSteps)
        {
            long warmup = (long)Math.Floor(WarmupFraction * totalSteps);
            if (step < warmup)
            {
                return (step + 1) / (double)warmup;
            }

            long decay = Math.Max(1, totalSteps - warmup - 1);
            double progress = Math.Clamp((step - warmup) / (double)decay, 0, 1);
            return MinFactor + ((1 - MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
        }

        internal override IEnumerable<string> Problems()
        {
            if (!(WarmupFraction >= 0 && WarmupFraction < 1))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "CosineWithWarmup warmupFraction must be in [0, 1); found {0}.", WarmupFraction);
            }

            if (!(MinFactor >= 0 && MinFactor <= 1))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "CosineWithWarmup minFactor must be in [0, 1]; found {0}.", MinFactor);
            }
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "CosineWithWarmup(warm-up {0:P0}, min {1})", WarmupFraction, MinFactor);
    }

    /// <summary>PyTorch's OneCycleLR (two phases, cosine annealing), as a factor of the peak rate.</summary>
    internal sealed record OneCycleSchedule(double PctStart, double DivFactor, double FinalDivFactor) : LearningRateSchedule
    {
        internal override double Factor(long step, long totalSteps)
        {
            double initial = 1 / DivFactor;
            double final = initial / FinalDivFactor;
            double upEnd = (PctStart * totalSteps) - 1;
            double downEnd = totalSteps - 1;
            if (step <= upEnd)
            {
                return Anneal(initial, 1, upEnd <= 0 ? 1 : step / upEnd);
            }

            return Anneal(1, final, Math.Clamp((step - upEnd) / Math.Max(1e-12, downEnd - upEnd), 0, 1));
        }

        internal override IEnumerable<string> Problems()
        {
            if (!(PctStart > 0 && PctStart < 1))
            {
                yield return string.Format(CultureInfo.InvariantCulture, "OneCycle pctStart must be in (0, 1); found {0}.", PctStart);
            }

            if (!(DivFactor >= 1) || !(FinalDivFactor >= 1))
            {
                yield return "OneCycle divFactor and finalDivFactor must be at least 1.";
            }
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "OneCycle(pctStart {0}, div {1}, finalDiv {2})", PctStart, DivFactor, FinalDivFactor);

        private static double Anneal(double start, double end, double pct) => end + ((start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1));
    }

    /// <summary>The mutable part of ReduceLROnPlateau, saved in checkpoints.</summary>
    internal sealed class PlateauState
    {
        public double Best { get; set; } = double.PositiveInfinity;

        public int BadEpochs { get; set; }

        public double Scale { get; set; } = 1.0;

        /// <summary>Records an epoch's validation loss; returns whether the scale was reduced.</summary>
        public bool Observe(PlateauSchedule schedule, double loss)
        {
            if (loss < Best * (1 - schedule.Threshold))
            {
                Best = loss;
                BadEpochs = 0;
                return false;
            }

            BadEpochs++;
            if (BadEpochs > schedule.Patience)
            {
                Scale *= schedule.ReductionFactor;
                BadEpochs = 0;
                return true;
            }

            return false;
        }
    }
}
