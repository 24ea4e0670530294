using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>How <see cref="FindingThresholds.Choose"/> picks each finding's threshold on validation predictions.</summary>
    public sealed class FindingThresholdRule
    {
        private FindingThresholdRule(string name, double target)
        {
            Name = name;
            Target = target;
        }

        /// <summary>The threshold maximising sensitivity + specificity - 1 (ties: the higher threshold, fewer false positives).</summary>
        public static FindingThresholdRule YoudenJ { get; } = new("youden", double.NaN);

        /// <summary>The threshold maximising F1 = 2 PPV sensitivity / (PPV + sensitivity) (ties: the higher threshold).</summary>
        public static FindingThresholdRule F1Optimal { get; } = new("f1", double.NaN);

        internal string Name { get; }

        internal double Target { get; }

        /// <summary>The highest threshold whose sensitivity reaches <paramref name="sensitivity"/> (a screening operating point).</summary>
        /// <param name="sensitivity">In (0, 1].</param>
        /// <returns>The rule.</returns>
        public static FindingThresholdRule TargetSensitivity(double sensitivity)
        {
            if (!(sensitivity > 0 && sensitivity <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(sensitivity), sensitivity, "A target sensitivity is in (0, 1].");
            }

            return new FindingThresholdRule("sensitivity", sensitivity);
        }

        /// <inheritdoc />
        public override string ToString() => Name switch
        {
            "youden" => "Youden's J (validation)",
            "f1" => "F1-optimal (validation)",
            "fixed" => "fixed",
            _ => string.Format(CultureInfo.InvariantCulture, "target sensitivity {0} (validation)", Target),
        };

        internal static FindingThresholdRule Fixed { get; } = new("fixed", double.NaN);

        /// <summary>The threshold on one finding's observed validation labels and scores.</summary>
        internal double Resolve(bool[] isPositive, double[] scores, string finding)
        {
            int positives = isPositive.Count(p => p);
            if (positives == 0 || positives == isPositive.Length)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Finding '{0}' has {1} positive and {2} negative observed validation labels: a threshold needs both. Use a larger validation split, or FindingThresholds.Fixed for this model.", finding, positives, isPositive.Length - positives),
                    nameof(isPositive));
            }

            if (Name == "f1")
            {
                var pr = PrecisionRecallCurve.Compute(isPositive, scores);
                int best = -1;
                double bestF1 = double.NegativeInfinity;
                for (int i = pr.Thresholds.Count - 1; i >= 0; i--)
                {
                    double p = pr.Precisions[i], r = pr.Recalls[i];
                    double f1 = p + r == 0 ? 0 : 2 * p * r / (p + r);
                    if (f1 > bestF1 + 1e-12)
                    {
                        bestF1 = f1;
                        best = i;
                    }
                }

                return pr.Thresholds[best];
            }

            return Name == "youden" ? RocCurve.YoudenThreshold(isPositive, scores) : RocCurve.SensitivityThreshold(isPositive, scores, Target);
        }
    }

    /// <summary>
    /// One decision threshold per finding of a multi-label model: a finding is called present when its probability is at
    /// least its threshold. Choose them on VALIDATION predictions (<see cref="Choose"/>), store them on the model with
    /// <c>model.UseFindingThresholds(thresholds)</c> (saved with it, applied by prediction) and apply them unchanged to test.
    /// </summary>
    public sealed class FindingThresholds
    {
        private readonly double[] values;

        private FindingThresholds(IReadOnlyList<string> findings, double[] values, string rule)
        {
            Findings = findings.ToArray();
            this.values = values;
            Rule = rule;
        }

        /// <summary>The findings, in the order of <see cref="Values"/>.</summary>
        public IReadOnlyList<string> Findings { get; }

        /// <summary>Each finding's threshold on its probability.</summary>
        public IReadOnlyList<double> Values => Array.AsReadOnly(values);

        /// <summary>How the thresholds were chosen, for reports.</summary>
        public string Rule { get; }

        /// <summary>Chooses each finding's threshold on its observed validation labels.</summary>
        /// <param name="validation">Validation predictions (never the test split's).</param>
        /// <param name="rule">For example <see cref="FindingThresholdRule.YoudenJ"/>.</param>
        /// <returns>The thresholds.</returns>
        /// <exception cref="ArgumentException">A finding lacks positive or negative observed validation labels.</exception>
        public static FindingThresholds Choose(MultiLabelPredictions validation, FindingThresholdRule rule)
        {
            Guard.NotNull(validation);
            Guard.NotNull(rule);
            var chosen = new double[validation.Findings.Count];
            for (int j = 0; j < chosen.Length; j++)
            {
                var (isPositive, scores) = validation.Column(j);
                chosen[j] = rule.Resolve(isPositive, scores, validation.Findings[j]);
            }

            return new FindingThresholds(validation.Findings, chosen, rule.ToString());
        }

        /// <summary>The same threshold for every finding.</summary>
        /// <param name="findings">The findings.</param>
        /// <param name="threshold">In [0, 1]; the default is 0.5.</param>
        /// <returns>The thresholds.</returns>
        public static FindingThresholds Fixed(IReadOnlyList<string> findings, double threshold = 0.5)
        {
            Guard.NotNull(findings);
            Guard.InRange(threshold, 0.0, 1.0);
            return new FindingThresholds(findings, Enumerable.Repeat(threshold, findings.Count).ToArray(), string.Format(CultureInfo.InvariantCulture, "fixed {0}", threshold));
        }

        /// <summary>The threshold of a finding.</summary>
        /// <param name="finding">Its name.</param>
        /// <returns>The threshold.</returns>
        public double For(string finding)
        {
            int index = ((string[])Findings).AsSpan().IndexOf(Guard.NotNull(finding));
            return index >= 0 ? values[index] : throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "'{0}' is not one of the findings ({1}).", finding, string.Join(", ", Findings)), nameof(finding));
        }

        /// <inheritdoc />
        public override string ToString() => Rule + ": " + string.Join(", ", Findings.Select((f, j) => string.Format(CultureInfo.InvariantCulture, "{0} {1:0.####}", f, values[j])));

        internal string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["rule"] = Rule,
            ["findings"] = Findings,
            ["thresholds"] = values,
        });

        /// <summary>Each finding's threshold: the given ones (checked to be for these findings) or 0.5 (every per-finding report's one rule).</summary>
        internal static double[] ValuesFor(MultiLabelPredictions predictions, FindingThresholds? thresholds, string argument)
        {
            if (thresholds is not null && !thresholds.Findings.SequenceEqual(predictions.Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException("The thresholds are for findings " + string.Join(", ", thresholds.Findings) + ", the predictions have " + string.Join(", ", predictions.Findings) + ".", argument);
            }

            return thresholds?.Values.ToArray() ?? Enumerable.Repeat(0.5, predictions.Findings.Count).ToArray();
        }

        /// <summary>
        /// Reads the <c>finding_thresholds</c> metadata entry of a saved model or an ONNX export (written by <see cref="ToJson"/>).
        /// The one reader of that entry: <see cref="TransferModel.Load"/> and the ONNX Runtime classifier wrap its message with the file's path.
        /// </summary>
        /// <exception cref="FormatException">The text is not thresholds for these findings; the message names the key and what is wrong.</exception>
        internal static FindingThresholds Parse(string json, IReadOnlyList<string> modelFindings)
        {
            const string Key = "finding_thresholds";
            const string Remedy = "; choose them again on validation (FindingThresholds.Choose, then UseFindingThresholds) and save or export the model again";
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(json);
            }
            catch (JsonException ex)
            {
                throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0} is not valid JSON ({1}){2}", Key, ex.Message, Remedy), ex);
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0} is a JSON {1}; expected an object with 'rule', 'findings' and 'thresholds'{2}", Key, root.ValueKind, Remedy));
                }

                JsonElement Property(string name, JsonValueKind kind)
                {
                    if (!root.TryGetProperty(name, out var value))
                    {
                        throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0} has no '{1}' entry{2}", Key, name, Remedy));
                    }

                    return value.ValueKind == kind
                        ? value
                        : throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0}.{1} is a JSON {2}; expected {3}{4}", Key, name, value.ValueKind, kind == JsonValueKind.Array ? "an array" : "a string", Remedy));
                }

                var findings = Property("findings", JsonValueKind.Array).EnumerateArray().Select((e, j) => e.ValueKind == JsonValueKind.String
                    ? e.GetString()!
                    : throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0}.findings[{1}] is a JSON {2}; expected a finding's name{3}", Key, j, e.ValueKind, Remedy))).ToArray();
                if (!findings.SequenceEqual(modelFindings, StringComparer.Ordinal))
                {
                    throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0} is for findings [{1}] but the model's findings are [{2}]{3}", Key, string.Join(", ", findings), string.Join(", ", modelFindings), Remedy));
                }

                var items = Property("thresholds", JsonValueKind.Array).EnumerateArray().ToArray();
                if (items.Length != findings.Length)
                {
                    throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0} has {1} thresholds for {2} findings ({3}); expected one per finding{4}", Key, items.Length, findings.Length, string.Join(", ", findings), Remedy));
                }

                var values = new double[items.Length];
                for (int j = 0; j < items.Length; j++)
                {
                    // JSON has no NaN: a writer that allows named literals writes it as the string "NaN".
                    bool number = items[j].ValueKind == JsonValueKind.Number && items[j].TryGetDouble(out values[j]);
                    if (!number || !(values[j] >= 0 && values[j] <= 1))
                    {
                        throw new FormatException(string.Format(CultureInfo.InvariantCulture, "{0}: the threshold of '{1}' is {2}; expected a number in [0, 1]{3}", Key, findings[j], items[j].GetRawText(), Remedy));
                    }
                }

                return new FindingThresholds(findings, values, Property("rule", JsonValueKind.String).GetString()!);
            }
        }
    }
}
