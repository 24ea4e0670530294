using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Internal;
using static TorchSharp.torch;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Temperature scaling of a multi-label model, one temperature per finding: finding j's probability becomes
    /// sigmoid(logit_j / T_j). Each T_j is fitted on VALIDATION predictions by minimising that finding's mean binary
    /// cross-entropy over its observed labels (uncertain and missing labels left out, as the loss masks them under
    /// U-Ignore and as every metric leaves them out). It changes no finding's ranking (AUROC and AP stay the same) but
    /// makes each finding's probabilities honest. A model carries it (<see cref="TransferModel.FindingCalibration"/>,
    /// saved with it) and applies it on every path that turns logits into probabilities (prediction, evaluation, the
    /// ONNX export with probability output).
    /// <code>
    /// var scaling = model.CalibrateFindings(splits.Validation);   // fits T per finding and attaches them to the model
    /// Console.WriteLine(scaling);                                 // Effusion T 1.62 (BCE 0.412 -> 0.371), ...
    /// model.Save("calibrated.safetensors");                       // the temperatures travel in the file's metadata
    /// </code>
    /// </summary>
    public sealed class FindingTemperatureScaling
    {
        private readonly double[] temperatures;
        private readonly int[] fittedOn;
        private readonly double[] bceBefore;
        private readonly double[] bceAfter;

        /// <summary>Creates a scaling with known temperatures (to restore known values; fit them with <see cref="Fit"/>).</summary>
        /// <param name="findings">The findings, in the model's order.</param>
        /// <param name="temperatures">One temperature per finding, each from 0.05 to 100.</param>
        /// <exception cref="ArgumentException">The counts differ, there are no findings, or a temperature is out of range.</exception>
        public FindingTemperatureScaling(IReadOnlyList<string> findings, IReadOnlyList<double> temperatures)
            : this(findings, temperatures, null, null, null)
        {
        }

        private FindingTemperatureScaling(IReadOnlyList<string> findings, IReadOnlyList<double> temperatures, int[]? fittedOn, double[]? bceBefore, double[]? bceAfter)
        {
            Guard.NotNull(findings);
            Guard.NotNull(temperatures);
            if (findings.Count == 0 || findings.Count != temperatures.Count)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Expected one temperature per finding ({0} findings); found {1} temperatures.", findings.Count, temperatures.Count),
                    nameof(temperatures));
            }

            for (int j = 0; j < temperatures.Count; j++)
            {
                if (!(temperatures[j] >= TemperatureScaling.MinimumTemperature && temperatures[j] <= TemperatureScaling.MaximumTemperature))
                {
                    throw new ArgumentOutOfRangeException(
                        nameof(temperatures),
                        temperatures[j],
                        string.Format(CultureInfo.InvariantCulture, "The temperature of finding '{0}' is {1}; expected a value from {2} to {3}.", findings[j], temperatures[j], TemperatureScaling.MinimumTemperature, TemperatureScaling.MaximumTemperature));
                }
            }

            Findings = findings.ToArray();
            this.temperatures = temperatures.ToArray();
            this.fittedOn = fittedOn ?? new int[findings.Count];
            this.bceBefore = bceBefore ?? Enumerable.Repeat(double.NaN, findings.Count).ToArray();
            this.bceAfter = bceAfter ?? Enumerable.Repeat(double.NaN, findings.Count).ToArray();
        }

        /// <summary>The findings, in the order of <see cref="Temperatures"/>.</summary>
        public IReadOnlyList<string> Findings { get; }

        /// <summary>Each finding's temperature: above 1 softens over-confident probabilities, below 1 sharpens them.</summary>
        public IReadOnlyList<double> Temperatures => Array.AsReadOnly(temperatures);

        /// <summary>Per finding, the observed validation labels its temperature was fitted on (0 when given, not fitted).</summary>
        public IReadOnlyList<int> FittedOn => Array.AsReadOnly(fittedOn);

        /// <summary>Per finding, the mean binary cross-entropy of its observed fitting labels before scaling (T = 1); NaN when given.</summary>
        public IReadOnlyList<double> BceBefore => Array.AsReadOnly(bceBefore);

        /// <summary>Per finding, the mean binary cross-entropy at its temperature; NaN when given.</summary>
        public IReadOnlyList<double> BceAfter => Array.AsReadOnly(bceAfter);

        /// <summary>The temperature of one finding.</summary>
        /// <param name="finding">Its name.</param>
        /// <returns>The temperature.</returns>
        /// <exception cref="ArgumentException">The finding is not one of <see cref="Findings"/>.</exception>
        public double For(string finding)
        {
            int index = Array.IndexOf((string[])Findings, Guard.NotNull(finding));
            return index >= 0 ? temperatures[index] : throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "'{0}' is not one of the findings ({1}).", finding, string.Join(", ", Findings)), nameof(finding));
        }

        /// <summary>
        /// Fits one temperature per finding on validation predictions by minimising the finding's mean binary
        /// cross-entropy over its observed labels (convex in 1/T: safeguarded Newton iterations to machine precision).
        /// The predictions must be UNCALIBRATED (from a model without finding temperatures); their logits are recovered
        /// as log p - log(1 - p).
        /// </summary>
        /// <param name="validation">Validation predictions (never the test split's).</param>
        /// <returns>The fitted scaling; each T is kept within [0.05, 100].</returns>
        /// <exception cref="ArgumentException">There are no predictions, or a finding lacks observed positive or negative labels.</exception>
        public static FindingTemperatureScaling Fit(MultiLabelPredictions validation)
        {
            Guard.NotNull(validation);
            if (validation.Count == 0)
            {
                throw new ArgumentException("Temperature scaling needs validation predictions; found none.", nameof(validation));
            }

            int f = validation.Findings.Count;
            var logits = new double[validation.Count * f];
            var positive = new bool[logits.Length];
            var observed = new bool[logits.Length];
            for (int i = 0; i < validation.Count; i++)
            {
                for (int j = 0; j < f; j++)
                {
                    logits[(i * f) + j] = Logit(validation.Probability(i, j));
                    positive[(i * f) + j] = validation.IsPositive(i, j);
                    observed[(i * f) + j] = validation.IsObserved(i, j);
                }
            }

            return FitLogits(validation.Findings, logits, positive, observed);
        }

        /// <summary>The same predictions with these temperatures applied: p becomes sigmoid(logit(p) / T) per finding. Labels and rankings are unchanged.</summary>
        /// <param name="predictions">Uncalibrated predictions with the same findings.</param>
        /// <returns>Calibrated predictions.</returns>
        /// <exception cref="ArgumentException">The predictions have other findings.</exception>
        public MultiLabelPredictions Apply(MultiLabelPredictions predictions) => Rescale(predictions, inverse: false);

        /// <summary>The inverse of <see cref="Apply"/>: recovers the uncalibrated probabilities sigmoid(T logit(p)).</summary>
        /// <param name="predictions">Predictions made with these temperatures.</param>
        /// <returns>Uncalibrated predictions.</returns>
        /// <exception cref="ArgumentException">The predictions have other findings.</exception>
        public MultiLabelPredictions Remove(MultiLabelPredictions predictions) => Rescale(predictions, inverse: true);

        /// <summary>For example <c>Effusion T 1.62 (412 labels: BCE 0.4120 -> 0.3710); Edema T 0.91 (...)</c>.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Join("; ", Findings.Select((name, j) => fittedOn[j] == 0
            ? string.Format(CultureInfo.InvariantCulture, "{0} T {1:0.###}", name, temperatures[j])
            : string.Format(CultureInfo.InvariantCulture, "{0} T {1:0.###} ({2} labels: BCE {3:0.0000} -> {4:0.0000})", name, temperatures[j], fittedOn[j], bceBefore[j], bceAfter[j])));

        /// <summary>Fits T per finding on row-major logits [images][findings] (internal: the tests compare it with PyTorch's LBFGS on the same logits).</summary>
        internal static FindingTemperatureScaling FitLogits(IReadOnlyList<string> findings, double[] logits, bool[] positive, bool[] observed)
        {
            int f = findings.Count;
            if (f == 0 || logits.Length % f != 0 || positive.Length != logits.Length || observed.Length != logits.Length)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected N x {0} logits, targets and masks; found {1}, {2} and {3}.", f, logits.Length, positive.Length, observed.Length), nameof(logits));
            }

            var temperatures = new double[f];
            var fitted = new int[f];
            var before = new double[f];
            var after = new double[f];
            for (int j = 0; j < f; j++)
            {
                int labelled = 0, positives = 0;
                for (int index = j; index < logits.Length; index += f)
                {
                    if (observed[index])
                    {
                        labelled++;
                        positives += positive[index] ? 1 : 0;
                    }
                }

                if (positives == 0 || positives == labelled)
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Finding '{0}' has {1} positive and {2} negative observed validation labels: its temperature needs both. Use a larger or stratified validation split.", findings[j], positives, labelled - positives),
                        nameof(positive));
                }

                double b = TemperatureFit.InverseTemperature(inverse => TemperatureFit.MaskedSigmoid(logits, positive, observed, f, j, inverse));
                temperatures[j] = 1 / b;
                fitted[j] = labelled;
                before[j] = TemperatureFit.MaskedSigmoid(logits, positive, observed, f, j, 1).Value;
                after[j] = TemperatureFit.MaskedSigmoid(logits, positive, observed, f, j, b).Value;
            }

            return new FindingTemperatureScaling(findings, temperatures, fitted, before, after);
        }

        /// <summary>logits / T per finding, as a tensor on the logits' device: the one place a multi-label model's temperatures meet its logits.</summary>
        internal Tensor Scale(Tensor logits)
        {
            using var inverse = tensor(temperatures.Select(t => 1 / t).ToArray(), ScalarType.Float64, logits.device);
            return logits.to(ScalarType.Float64) * inverse;
        }

        /// <summary>The metadata value stored in a model file.</summary>
        internal string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["method"] = "temperature_per_finding",
            ["findings"] = Findings,
            ["temperatures"] = temperatures,
            ["fitted_on"] = fittedOn,
            ["bce_before"] = bceBefore.Select(v => double.IsFinite(v) ? (double?)v : null).ToArray(),
            ["bce_after"] = bceAfter.Select(v => double.IsFinite(v) ? (double?)v : null).ToArray(),
        });

        /// <summary>Reads <see cref="ToJson"/>'s value for a model with <paramref name="modelFindings"/>.</summary>
        /// <exception cref="FormatException">The text is not temperatures for these findings.</exception>
        internal static FindingTemperatureScaling Parse(string json, IReadOnlyList<string> modelFindings)
        {
            try
            {
                using var document = JsonDocument.Parse(json);
                var root = document.RootElement;
                string method = root.GetProperty("method").GetString() ?? string.Empty;
                if (method != "temperature_per_finding")
                {
                    throw new FormatException(string.Format(CultureInfo.InvariantCulture, "finding calibration method '{0}' is not known to this version (expected 'temperature_per_finding')", method));
                }

                var findings = root.GetProperty("findings").EnumerateArray().Select(e => e.GetString() ?? string.Empty).ToArray();
                if (!findings.SequenceEqual(modelFindings, StringComparer.Ordinal))
                {
                    throw new FormatException("finding_calibration is for findings " + string.Join(", ", findings) + ", the model has " + string.Join(", ", modelFindings));
                }

                double[] Numbers(string key) => root.GetProperty(key).EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? double.NaN : e.GetDouble()).ToArray();
                var fittedOn = root.GetProperty("fitted_on").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                var before = Numbers("bce_before");
                var after = Numbers("bce_after");
                if (fittedOn.Length != findings.Length || before.Length != findings.Length || after.Length != findings.Length)
                {
                    throw new FormatException("finding_calibration has lists of different lengths");
                }

                return new FindingTemperatureScaling(findings, Numbers("temperatures"), fittedOn, before, after);
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
            {
                throw new FormatException("finding_calibration is damaged (" + ex.Message + ")", ex);
            }
        }

        /// <summary>log p - log(1 - p), with p kept strictly inside (0, 1) (a sigmoid that saturated in float64).</summary>
        internal static double Logit(double p)
        {
            double q = Math.Clamp(p, 1e-300, 1 - 1e-16);
            return Math.Log(q) - Math.Log(1 - q);
        }

        private MultiLabelPredictions Rescale(MultiLabelPredictions predictions, bool inverse)
        {
            Guard.NotNull(predictions);
            if (!predictions.Findings.SequenceEqual(Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException("The temperatures are for findings " + string.Join(", ", Findings) + ", the predictions have " + string.Join(", ", predictions.Findings) + ".", nameof(predictions));
            }

            int f = Findings.Count;
            var probabilities = new double[predictions.Count * f];
            var positive = new bool[probabilities.Length];
            var observed = new bool[probabilities.Length];
            for (int i = 0; i < predictions.Count; i++)
            {
                for (int j = 0; j < f; j++)
                {
                    double factor = inverse ? temperatures[j] : 1 / temperatures[j];
                    probabilities[(i * f) + j] = TemperatureFit.Sigmoid(Logit(predictions.Probability(i, j)) * factor);
                    positive[(i * f) + j] = predictions.IsPositive(i, j);
                    observed[(i * f) + j] = predictions.IsObserved(i, j);
                }
            }

            var result = new MultiLabelPredictions(Findings, probabilities, positive, observed);
            return predictions.Patients is { } patients ? result.WithPatients(patients) : result;
        }
    }
}
