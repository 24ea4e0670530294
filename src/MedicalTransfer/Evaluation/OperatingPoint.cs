using System;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// How a binary decision is made from the positive class's probability. Data-driven points
    /// (<see cref="YoudenJ"/>, <see cref="TargetSensitivity"/>) are chosen on the VALIDATION split
    /// and applied unchanged to the test split: choosing them on the test split would report an
    /// optimistic, unreproducible result.
    /// </summary>
    public sealed class OperatingPoint
    {
        private enum Kind
        {
            Argmax,
            Fixed,
            Youden,
            Sensitivity,
        }

        private readonly Kind kind;
        private readonly double value;

        private OperatingPoint(Kind kind, double value)
        {
            this.kind = kind;
            this.value = value;
        }

        /// <summary>The most probable class (the default): positive when the positive class has the highest probability.</summary>
        public static OperatingPoint Argmax { get; } = new(Kind.Argmax, double.NaN);

        /// <summary>Youden's J: the validation threshold that maximises sensitivity + specificity - 1.</summary>
        public static OperatingPoint YoudenJ { get; } = new(Kind.Youden, double.NaN);

        /// <summary>Whether the threshold is chosen from validation predictions.</summary>
        public bool NeedsValidation => kind is Kind.Youden or Kind.Sensitivity;

        /// <summary>Positive when the positive class's probability is at least <paramref name="threshold"/>.</summary>
        /// <param name="threshold">A probability in [0, 1].</param>
        /// <returns>The operating point.</returns>
        public static OperatingPoint Threshold(double threshold) => new(Kind.Fixed, Guard.InRange(threshold, 0.0, 1.0));

        /// <summary>
        /// The highest validation threshold whose sensitivity reaches <paramref name="sensitivity"/>
        /// (the usual choice for a screening test: miss at most 1 - target of the positives).
        /// </summary>
        /// <param name="sensitivity">Target sensitivity in (0, 1].</param>
        /// <returns>The operating point.</returns>
        public static OperatingPoint TargetSensitivity(double sensitivity)
        {
            Guard.InRange(sensitivity, double.Epsilon, 1.0);
            return new(Kind.Sensitivity, sensitivity);
        }

        /// <summary>
        /// The threshold on the positive class's probability, or NaN for <see cref="Argmax"/>.
        /// </summary>
        internal double Resolve(Predictions? validation, string positiveClass)
        {
            switch (kind)
            {
                case Kind.Argmax:
                    return double.NaN;
                case Kind.Fixed:
                    return value;
            }

            if (validation is null)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "The operating point {0} is chosen on validation predictions, and none were given. Pass the validation split's predictions (never the test split's), or use OperatingPoint.Threshold(t) or OperatingPoint.Argmax.", this),
                    nameof(validation));
            }

            int positive = validation.ClassIndex(positiveClass);
            var isPositive = validation.Labels.Select(l => l == positive).ToArray();
            var scores = validation.Scores(positive);
            return kind == Kind.Youden ? RocCurve.YoudenThreshold(isPositive, scores) : RocCurve.SensitivityThreshold(isPositive, scores, value);
        }

        /// <inheritdoc />
        public override string ToString() => kind switch
        {
            Kind.Argmax => "argmax",
            Kind.Fixed => string.Format(CultureInfo.InvariantCulture, "threshold {0}", value),
            Kind.Youden => "Youden's J (validation)",
            _ => string.Format(CultureInfo.InvariantCulture, "target sensitivity {0} (validation)", value),
        };
    }
}
