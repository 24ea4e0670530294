using System;
using System.Globalization;

namespace MedicalTransfer.Export
{
    /// <summary>What an exported ONNX graph returns.</summary>
    public enum OnnxOutput
    {
        /// <summary>Class probabilities (softmax over the logits), output <c>probabilities</c>.</summary>
        Probabilities,

        /// <summary>The raw logits, output <c>logits</c>, exactly what the model's forward returns.</summary>
        Logits,
    }

    /// <summary>How <see cref="TransferModelExportExtensions.ExportOnnx"/> writes a model.</summary>
    public sealed record OnnxExportOptions
    {
        /// <summary>The lowest opset the exporter writes.</summary>
        public const int MinimumOpset = 13;

        /// <summary>The highest opset the exporter writes (the newest Debian 12's ONNX checker knows).</summary>
        public const int MaximumOpset = 17;

        /// <summary>The default ONNX operator set (ai.onnx) version, 13 to 17.</summary>
        /// <value>The default is 17.</value>
        public int Opset { get; init; } = MaximumOpset;

        /// <summary>Whether the batch dimension is symbolic (<c>batch</c>), so any number of images can be run at once.</summary>
        /// <value>The default is <see langword="true"/>; <see langword="false"/> fixes it to 1.</value>
        public bool DynamicBatch { get; init; } = true;

        /// <summary>
        /// Whether each BatchNorm that follows a convolution is folded into that convolution's weight and bias (fewer
        /// nodes, faster inference, the same outputs within float rounding).
        /// </summary>
        /// <value>The default is <see langword="true"/>.</value>
        public bool FoldBatchNorm { get; init; } = true;

        /// <summary>Logits or softmax probabilities.</summary>
        /// <value>The default is <see cref="OnnxOutput.Probabilities"/>.</value>
        public OnnxOutput Output { get; init; } = OnnxOutput.Probabilities;

        /// <summary>Side of the square input image, in pixels.</summary>
        /// <value>The default is <see langword="null"/>: the model's <see cref="Data.Preprocessing.CropSize"/>.</value>
        public int? InputSize { get; init; }

        internal OnnxExportOptions Validate()
        {
            if (Opset is < MinimumOpset or > MaximumOpset)
            {
                throw new ArgumentOutOfRangeException(nameof(Opset), Opset, string.Format(CultureInfo.InvariantCulture, "OnnxExportOptions.Opset must be from {0} to {1} (the opsets the ONNX checker of Debian 12 knows); found {2}.", MinimumOpset, MaximumOpset, Opset));
            }

            if (!Enum.IsDefined(Output))
            {
                throw new ArgumentOutOfRangeException(nameof(Output), Output, "OnnxExportOptions.Output must be Probabilities or Logits.");
            }

            if (InputSize is { } size && (size < 32 || size > 8192))
            {
                throw new ArgumentOutOfRangeException(nameof(InputSize), InputSize, string.Format(CultureInfo.InvariantCulture, "OnnxExportOptions.InputSize must be from 32 to 8192 pixels (a ResNet halves the image five times); found {0}.", size));
            }

            return this;
        }
    }
}
