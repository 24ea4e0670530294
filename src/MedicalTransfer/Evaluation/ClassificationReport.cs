using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>Precision, recall, F1 and support of one class or of an average.</summary>
    /// <param name="Name">The class name, or <c>macro avg</c> / <c>weighted avg</c>.</param>
    /// <param name="Precision">TP / (TP + FP); 0 when nothing was predicted as the class (scikit-learn's <c>zero_division=0</c>).</param>
    /// <param name="Recall">TP / (TP + FN); 0 when the class has no images.</param>
    /// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0.</param>
    /// <param name="Support">Number of images whose true class this is (for averages: all images).</param>
    public sealed record ClassMetrics(string Name, double Precision, double Recall, double F1, int Support);

    /// <summary>
    /// Per-class precision, recall, F1 and support with accuracy and macro and weighted averages,
    /// identical to scikit-learn's <c>classification_report</c> (with <c>zero_division=0</c>);
    /// <see cref="ToString()"/> prints its layout and <see cref="ToJson"/> its <c>output_dict</c>.
    /// </summary>
    public sealed class ClassificationReport
    {
        private ClassificationReport(IReadOnlyList<ClassMetrics> classes, double accuracy, ClassMetrics macro, ClassMetrics weighted, ConfusionMatrix matrix)
        {
            Classes = classes;
            Accuracy = accuracy;
            MacroAverage = macro;
            WeightedAverage = weighted;
            ConfusionMatrix = matrix;
        }

        /// <summary>One row per class, in class order.</summary>
        public IReadOnlyList<ClassMetrics> Classes { get; }

        /// <summary>Fraction of images whose predicted class is the true class.</summary>
        public double Accuracy { get; }

        /// <summary>Unweighted mean of the per-class values (every class counts the same).</summary>
        public ClassMetrics MacroAverage { get; }

        /// <summary>Mean of the per-class values weighted by support.</summary>
        public ClassMetrics WeightedAverage { get; }

        /// <summary>The counts the report is computed from.</summary>
        public ConfusionMatrix ConfusionMatrix { get; }

        /// <summary>Computes the report from a confusion matrix.</summary>
        /// <param name="matrix">Counts, rows = true class.</param>
        /// <returns>The report.</returns>
        public static ClassificationReport Compute(ConfusionMatrix matrix)
        {
            Guard.NotNull(matrix);
            int k = matrix.ClassNames.Count;
            var rows = new ClassMetrics[k];
            int correct = 0;
            for (int c = 0; c < k; c++)
            {
                int tp = matrix[c, c];
                correct += tp;
                int predicted = matrix.ColumnTotal(c);
                int support = matrix.RowTotal(c);
                double precision = Ratio(tp, predicted);
                double recall = Ratio(tp, support);
                double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
                rows[c] = new ClassMetrics(matrix.ClassNames[c], precision, recall, f1, support);
            }

            int total = matrix.Total;
            var macro = new ClassMetrics("macro avg", rows.Average(r => r.Precision), rows.Average(r => r.Recall), rows.Average(r => r.F1), total);
            var weighted = new ClassMetrics(
                "weighted avg",
                Weighted(rows, r => r.Precision, total),
                Weighted(rows, r => r.Recall, total),
                Weighted(rows, r => r.F1, total),
                total);
            return new ClassificationReport(rows, Ratio(correct, total), macro, weighted, matrix);
        }

        /// <summary>Computes the report from predictions, taking the most probable class of each image.</summary>
        /// <param name="predictions">Labels and probabilities.</param>
        /// <returns>The report.</returns>
        public static ClassificationReport Compute(Predictions predictions)
        {
            Guard.NotNull(predictions);
            return Compute(ConfusionMatrix.Compute(predictions.ClassNames, predictions.Labels, predictions.PredictedLabels));
        }

        /// <summary>The report in scikit-learn's text layout.</summary>
        /// <param name="digits">Decimal places (scikit-learn's default is 2).</param>
        /// <returns>The text, ending with a newline.</returns>
        public string ToString(int digits)
        {
            Guard.InRange(digits, 0, 15);
            const string LongestHeading = "weighted avg";
            int width = Math.Max(Math.Max(Classes.Max(c => c.Name.Length), LongestHeading.Length), digits);
            var culture = CultureInfo.InvariantCulture;
            string number = "F" + digits.ToString(culture);
            var sb = new StringBuilder();
            sb.Append(new string(' ', width)).Append(' ');
            foreach (var header in new[] { "precision", "recall", "f1-score", "support" })
            {
                sb.Append(' ').Append(header.PadLeft(9));
            }

            sb.Append("\n\n");
            void Row(ClassMetrics m)
            {
                sb.Append(m.Name.PadLeft(width)).Append(' ');
                sb.Append(' ').Append(m.Precision.ToString(number, culture).PadLeft(9));
                sb.Append(' ').Append(m.Recall.ToString(number, culture).PadLeft(9));
                sb.Append(' ').Append(m.F1.ToString(number, culture).PadLeft(9));
                sb.Append(' ').Append(m.Support.ToString(culture).PadLeft(9)).Append('\n');
            }

            foreach (var row in Classes)
            {
                Row(row);
            }

            sb.Append('\n');
            sb.Append("accuracy".PadLeft(width)).Append(' ');
            sb.Append(' ').Append(new string(' ', 9)).Append(' ').Append(new string(' ', 9));
            sb.Append(' ').Append(Accuracy.ToString(number, culture).PadLeft(9));
            sb.Append(' ').Append(ConfusionMatrix.Total.ToString(culture).PadLeft(9)).Append('\n');
            Row(MacroAverage);
            Row(WeightedAverage);
            return sb.ToString();
        }

        /// <summary>The report in scikit-learn's text layout with 2 decimal places.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => ToString(2);

        /// <summary>
        /// The report as JSON in the layout of scikit-learn's <c>classification_report(output_dict=True)</c>:
        /// one object per class and per average (<c>precision</c>, <c>recall</c>, <c>f1-score</c>,
        /// <c>support</c>) and <c>accuracy</c>.
        /// </summary>
        /// <returns>Indented JSON.</returns>
        public string ToJson()
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                WriteJson(writer);
            }

            return Encoding.UTF8.GetString(stream.ToArray());
        }

        internal void WriteJson(Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            foreach (var row in Classes)
            {
                WriteRow(writer, row);
            }

            writer.WriteNumber("accuracy", Accuracy);
            WriteRow(writer, MacroAverage);
            WriteRow(writer, WeightedAverage);
            writer.WriteEndObject();
        }

        private static void WriteRow(Utf8JsonWriter writer, ClassMetrics row)
        {
            writer.WriteStartObject(row.Name);
            writer.WriteNumber("precision", row.Precision);
            writer.WriteNumber("recall", row.Recall);
            writer.WriteNumber("f1-score", row.F1);
            writer.WriteNumber("support", row.Support);
            writer.WriteEndObject();
        }

        private static double Ratio(int numerator, int denominator) => denominator == 0 ? 0 : (double)numerator / denominator;

        private static double Weighted(ClassMetrics[] rows, Func<ClassMetrics, double> metric, int total) =>
            total == 0 ? 0 : rows.Sum(r => metric(r) * r.Support) / total;
    }
}
