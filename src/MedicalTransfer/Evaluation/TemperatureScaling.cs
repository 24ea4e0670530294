using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): the
    /// logits are divided by one temperature T &gt; 0 before the softmax. T is fitted on VALIDATION
    /// predictions by minimising the negative log-likelihood; it changes no argmax and no ranking (so
    /// accuracy and AUC stay the same) but makes the probabilities honest. A model carries its
    /// temperature (<see cref="TransferModel.Calibration"/>, saved with it) and applies it in every
    /// prediction, evaluation and ensemble.
    /// <code>
    /// var scaling = model.Calibrate(splits.Validation);   // fits T on validation and attaches it to the model
    /// Console.WriteLine(scaling);                         // T 1.84: validation NLL 0.512 -> 0.391
    /// model.Save("calibrated.safetensors");               // T travels in the file's metadata
    /// </code>
    /// </summary>
    public sealed record TemperatureScaling
    {
        internal const double MinimumTemperature = 0.05;
        internal const double MaximumTemperature = 100;

        /// <summary>Creates a scaling with a given temperature (to restore a known value; fit one with <see cref="Fit"/>).</summary>
        /// <param name="temperature">The temperature, from 0.05 to 100.</param>
        public TemperatureScaling(double temperature)
        {
            Temperature = Guard.InRange(temperature, MinimumTemperature, MaximumTemperature);
        }

        /// <summary>The temperature: above 1 softens over-confident probabilities, below 1 sharpens them.</summary>
        public double Temperature { get; }

        /// <summary>Images the temperature was fitted on (0 when it was given, not fitted).</summary>
        public int FittedOn { get; init; }

        /// <summary>Mean negative log-likelihood of the fitting images before scaling (T = 1).</summary>
        public double NllBefore { get; init; } = double.NaN;

        /// <summary>Mean negative log-likelihood of the fitting images at <see cref="Temperature"/>.</summary>
        public double NllAfter { get; init; } = double.NaN;

        /// <summary>
        /// Fits the temperature on validation predictions by minimising the mean negative log-likelihood
        /// (convex in 1/T: safeguarded Newton iterations to machine precision). The predictions must be
        /// UNCALIBRATED (from a model without a temperature): their log-probabilities are the logits up to a
        /// per-image constant, which the softmax ignores, so log p / T gives exactly softmax(logits / T).
        /// </summary>
        /// <param name="validation">Validation predictions (never the test split's).</param>
        /// <returns>The fitted scaling; T is kept within [0.05, 100].</returns>
        /// <exception cref="ArgumentException">There are no predictions, or all are of one class.</exception>
        public static TemperatureScaling Fit(Predictions validation)
        {
            Guard.NotNull(validation);
            if (validation.Count == 0)
            {
                throw new ArgumentException("Temperature scaling needs validation predictions; found none.", nameof(validation));
            }

            return FitLogits(Logits(validation.RawProbabilities), validation.RawLabels, validation.ClassNames.Count);
        }

        /// <summary>
        /// The same predictions with this temperature applied: probabilities p become softmax(log p / T).
        /// Labels, argmax and rankings are unchanged.
        /// </summary>
        /// <param name="predictions">Uncalibrated predictions.</param>
        /// <returns>Calibrated predictions.</returns>
        public Predictions Apply(Predictions predictions)
        {
            Guard.NotNull(predictions);
            return new Predictions(predictions.ClassNames.ToArray(), predictions.RawLabels, Scale(Logits(predictions.RawProbabilities), predictions.ClassNames.Count, 1 / Temperature));
        }

        /// <summary>The inverse of <see cref="Apply"/>: recovers the uncalibrated probabilities softmax(T log p).</summary>
        /// <param name="predictions">Predictions made with this temperature.</param>
        /// <returns>Uncalibrated predictions.</returns>
        public Predictions Remove(Predictions predictions)
        {
            Guard.NotNull(predictions);
            return new Predictions(predictions.ClassNames.ToArray(), predictions.RawLabels, Scale(Logits(predictions.RawProbabilities), predictions.ClassNames.Count, Temperature));
        }

        /// <summary>For example <c>temperature 1.84 (fitted on 60 images: NLL 0.5120 -> 0.3910)</c>.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => FittedOn == 0
            ? string.Format(CultureInfo.InvariantCulture, "temperature {0:0.###}", Temperature)
            : string.Format(CultureInfo.InvariantCulture, "temperature {0:0.###} (fitted on {1} validation images: NLL {2:0.0000} -> {3:0.0000})", Temperature, FittedOn, NllBefore, NllAfter);

        /// <summary>The metadata value stored in a model file (null when the model has no calibration).</summary>
        internal static string ToMetadata(TemperatureScaling? scaling) => scaling is null
            ? "null"
            : JsonSerializer.Serialize(new MetadataRecord("temperature", scaling.Temperature, scaling.FittedOn, Finite(scaling.NllBefore), Finite(scaling.NllAfter)));

        /// <summary>Reads <see cref="ToMetadata"/>'s value; a missing value (files written before calibration existed) is no calibration.</summary>
        internal static TemperatureScaling? FromMetadata(string? value)
        {
            if (value is null || value == "null")
            {
                return null;
            }

            var record = JsonSerializer.Deserialize<MetadataRecord>(value) ?? throw new JsonException("empty calibration metadata");
            if (record.Method != "temperature")
            {
                throw new FormatException(string.Format(CultureInfo.InvariantCulture, "calibration method '{0}' is not known to this version (expected 'temperature')", record.Method));
            }

            return new TemperatureScaling(record.Temperature) { FittedOn = record.FittedOn, NllBefore = record.NllBefore ?? double.NaN, NllAfter = record.NllAfter ?? double.NaN };
        }

        /// <summary>Fits T on row-major logits [images][classes] (internal: the tests compare it with PyTorch's LBFGS on the same logits).</summary>
        internal static TemperatureScaling FitLogits(double[] logits, int[] labels, int classes)
        {
            int n = labels.Length;
            if (n == 0 || logits.Length != n * classes)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected {0} x {1} logits; found {2}.", n, classes, logits.Length), nameof(logits));
            }

            if (labels.Distinct().Count() < 2)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Temperature scaling needs validation images of at least two classes; all {0} are of class {1}. Use a larger or stratified validation split.", n, labels[0]),
                    nameof(labels));
            }

            double b = TemperatureFit.InverseTemperature(inverse => TemperatureFit.Softmax(logits, labels, classes, inverse));
            return new TemperatureScaling(1 / b)
            {
                FittedOn = n,
                NllBefore = TemperatureFit.Softmax(logits, labels, classes, 1).Value,
                NllAfter = TemperatureFit.Softmax(logits, labels, classes, b).Value,
            };
        }

        /// <summary>log p, with zeros (a softmax that underflowed) at the smallest normal double's log.</summary>
        internal static double[] Logits(double[] probabilities)
        {
            var logits = new double[probabilities.Length];
            for (int i = 0; i < logits.Length; i++)
            {
                logits[i] = Math.Log(Math.Max(probabilities[i], 1e-300));
            }

            return logits;
        }

        /// <summary>softmax(b z) per row.</summary>
        private static double[] Scale(double[] logits, int classes, double b)
        {
            var result = new double[logits.Length];
            for (int offset = 0; offset < logits.Length; offset += classes)
            {
                double max = double.NegativeInfinity;
                for (int c = 0; c < classes; c++)
                {
                    max = Math.Max(max, b * logits[offset + c]);
                }

                double sum = 0;
                for (int c = 0; c < classes; c++)
                {
                    result[offset + c] = Math.Exp((b * logits[offset + c]) - max);
                    sum += result[offset + c];
                }

                for (int c = 0; c < classes; c++)
                {
                    result[offset + c] = Math.Min(1, result[offset + c] / sum);
                }
            }

            return result;
        }

        private static double? Finite(double value) => double.IsFinite(value) ? value : null;

        private sealed record MetadataRecord(
            [property: JsonPropertyName("method")] string Method,
            [property: JsonPropertyName("temperature")] double Temperature,
            [property: JsonPropertyName("fitted_on")] int FittedOn,
            [property: JsonPropertyName("nll_before")] double? NllBefore,
            [property: JsonPropertyName("nll_after")] double? NllAfter);
    }
}
