using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;

namespace MedicalTransfer.Prediction
{
    /// <summary>
    /// A binary decision rule chosen on validation predictions: an image is <see cref="PositiveClass"/> when that
    /// class's probability is at least <see cref="Threshold"/>, otherwise the most probable other class. The model
    /// carries it (<see cref="TransferModel.DecisionThreshold"/>, saved with the model and written into ONNX
    /// exports), so every predictor applies the same rule.
    /// </summary>
    /// <param name="PositiveClass">The class the threshold is on.</param>
    /// <param name="Threshold">The probability at or above which an image is positive.</param>
    /// <param name="Rule">How it was chosen, for example <c>target sensitivity 0.95 (validation)</c>.</param>
    public sealed record DecisionThreshold(string PositiveClass, double Threshold, string Rule)
    {
        /// <summary>The predicted class index for one row of probabilities.</summary>
        internal int Decide(ReadOnlySpan<double> probabilities, int positiveIndex)
        {
            if (probabilities[positiveIndex] >= Threshold)
            {
                return positiveIndex;
            }

            int best = -1;
            for (int c = 0; c < probabilities.Length; c++)
            {
                if (c != positiveIndex && (best < 0 || probabilities[c] > probabilities[best]))
                {
                    best = c;
                }
            }

            return best;
        }

        internal int PositiveIndex(IReadOnlyList<string> classNames)
        {
            for (int i = 0; i < classNames.Count; i++)
            {
                if (classNames[i] == PositiveClass)
                {
                    return i;
                }
            }

            throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The decision threshold is on class '{0}', which is not one of the model's classes ({1}).", PositiveClass, string.Join(", ", classNames)));
        }

        internal string ToJson() => JsonSerializer.Serialize(new Dto { PositiveClass = PositiveClass, Threshold = Threshold, Rule = Rule });

        internal static DecisionThreshold Parse(string json)
        {
            var dto = JsonSerializer.Deserialize<Dto>(json) ?? throw new JsonException("decision threshold is null");
            if (string.IsNullOrEmpty(dto.PositiveClass) || !(dto.Threshold >= 0 && dto.Threshold <= 1))
            {
                throw new JsonException("decision threshold needs a positive class and a threshold in [0, 1]; found '" + json + "'");
            }

            return new DecisionThreshold(dto.PositiveClass, dto.Threshold, dto.Rule ?? string.Empty);
        }

        private sealed class Dto
        {
            public string? PositiveClass { get; set; }

            public double Threshold { get; set; }

            public string? Rule { get; set; }
        }
    }
}
