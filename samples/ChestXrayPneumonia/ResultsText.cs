using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;

namespace ChestXrayPneumonia
{
    /// <summary>
    /// The test-set results as the console and results.txt show them: which weights were evaluated, the ONE
    /// decision rule that the headline numbers use, the confusion matrix under that rule, and then, labelled
    /// as such, the argmax view that the classification report uses.
    /// </summary>
    internal static class ResultsText
    {
        /// <summary>The weights line: the epoch whose weights model.safetensors holds (the lowest validation loss).</summary>
        public static string EvaluatedWeights(EpochRecord? best, int epochs) => best is null
            ? "Evaluated weights: model.safetensors (no epoch had a validation loss)."
            : string.Format(CultureInfo.InvariantCulture, "Evaluated weights: epoch {0} of {1}, the lowest validation loss ({2:0.0000}); saved as model.safetensors.", best.Epoch, epochs, best.ValidationLoss);

        /// <summary>The headline rule in words.</summary>
        public static string DecisionRule(BinaryReport binary) => double.IsNaN(binary.Threshold)
            ? string.Format(CultureInfo.InvariantCulture, "Decision rule: argmax (an image is {0} when that is its most probable class).", binary.PositiveClass)
            : string.Format(CultureInfo.InvariantCulture, "Decision rule: {0} when P({0}) >= {1:0.####}, the operating point ({2}) chosen on the validation set and applied unchanged to the test set.", binary.PositiveClass, binary.Threshold, binary.OperatingPoint);

        /// <summary>The test predictions classified by the headline rule (the binary report's threshold).</summary>
        public static ConfusionMatrix AtOperatingPoint(EvaluationReport report, BinaryReport binary)
        {
            var predictions = report.Predictions;
            if (double.IsNaN(binary.Threshold))
            {
                return report.ConfusionMatrix;
            }

            int positive = predictions.ClassIndex(binary.PositiveClass);
            int negative = 1 - positive;
            var called = Enumerable.Range(0, predictions.Count).Select(i => predictions.Probability(i, positive) >= binary.Threshold ? positive : negative).ToArray();
            return ConfusionMatrix.Compute(predictions.ClassNames, predictions.Labels, called);
        }

        /// <summary>The whole text: weights, rule, headline matrix and metrics, then the argmax reference.</summary>
        public static string Compose(EvaluationReport report, EpochRecord? best, int epochs)
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "Test set: {0} images.", report.Predictions.Count));
            sb.AppendLine(EvaluatedWeights(best, epochs));
            if (report.Binary is { } binary)
            {
                sb.AppendLine(DecisionRule(binary)).AppendLine();
                sb.AppendLine("Confusion matrix at the operating point (the headline; rows = true class; confusion_matrix.png):");
                sb.Append(AtOperatingPoint(report, binary)).AppendLine();
                sb.Append(binary).AppendLine();
                sb.AppendLine("For reference, argmax (each image's most probable class, no threshold; classification_report.txt and confusion_matrix_argmax.png):");
            }

            sb.Append(report.Classification.ToString(4)).AppendLine();
            sb.AppendLine("Confusion matrix, argmax (rows = true class):");
            sb.Append(report.ConfusionMatrix).AppendLine();
            if (report.AccuracyInterval is not null)
            {
                sb.AppendLine("argmax accuracy " + report.AccuracyInterval);
            }

            sb.AppendLine(string.Format(c, "one-vs-rest macro ROC AUC {0:0.0000} (threshold-free)", report.MacroRocAuc));
            sb.AppendLine("calibration: " + report.Calibration);
            return sb.ToString();
        }
    }
}
