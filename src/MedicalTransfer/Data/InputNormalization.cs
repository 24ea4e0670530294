using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Weights;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// What a pipeline's normalisation does to a decoded pixel in [0, 1]: output channel c reads source channel
    /// s(c) (RGB or BGR order) and becomes <c>x * scale / std[c] - mean[c] / std[c]</c>. Two normalisations are the
    /// same when these maps are, whatever the numbers they were written with.
    /// </summary>
    internal sealed class InputNormalization
    {
        private static readonly float[] Zero = { 0f, 0f, 0f };
        private static readonly float[] One = { 1f, 1f, 1f };

        public InputNormalization(ChannelOrder order, float scale, IReadOnlyList<float> mean, IReadOnlyList<float> std)
        {
            Order = order;
            Scale = scale;
            Mean = mean.ToArray();
            Std = std.ToArray();
        }

        /// <summary>What a pipeline without a normalisation step feeds: RGB in [0, 1].</summary>
        public static InputNormalization Identity { get; } = new(ChannelOrder.Rgb, 1f, Zero, One);

        public ChannelOrder Order { get; }

        public float Scale { get; }

        public IReadOnlyList<float> Mean { get; }

        public IReadOnlyList<float> Std { get; }

        public static InputNormalization From(Preprocessing preprocessing) =>
            new(preprocessing.ChannelOrder, preprocessing.PixelScale, preprocessing.Mean, preprocessing.Std);

        /// <summary>The normalisation of a pipeline: its last <see cref="NormalizeTransform"/>, or the identity.</summary>
        public static InputNormalization Of(ImageTransform transform) =>
            transform.Steps.OfType<NormalizeTransform>().LastOrDefault()?.Normalization ?? Identity;

        public bool SameAs(InputNormalization other)
        {
            // A gray (one-channel) normalisation has one mean and one deviation: compare the channels both have.
            if (Std.Count != other.Std.Count)
            {
                return false;
            }

            for (int c = 0; c < Std.Count; c++)
            {
                bool symmetric = Mean.Distinct().Count() == 1 && Std.Distinct().Count() == 1 && other.Mean.Distinct().Count() == 1 && other.Std.Distinct().Count() == 1;
                if (!symmetric && Source(c) != other.Source(c))
                {
                    return false;
                }

                if (!Close(Gain(c), other.Gain(c)) || !Close(Offset(c), other.Offset(c)))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>A sentence fragment for error messages, naming the preset it equals when there is one.</summary>
        public string Describe()
        {
            string pixels = Scale == 1f ? "pixels in [0, 1]" : Scale == 255f ? "pixels in 0..255" : string.Format(CultureInfo.InvariantCulture, "pixels scaled to [0, {0}]", Scale);
            string statistics;
            if (SameStatistics(Preprocessing.ImageNet))
            {
                statistics = "ImageNet mean/std";
            }
            else if (Mean.All(m => m == 0f) && Std.All(s => s == 1f))
            {
                statistics = "no mean subtracted and no std divided by";
            }
            else
            {
                statistics = string.Format(CultureInfo.InvariantCulture, "mean ({0}) and std ({1})", List(Mean), List(Std));
            }

            string text = string.Format(CultureInfo.InvariantCulture, "{0} {1} with {2}", Order == ChannelOrder.Rgb ? "RGB" : "BGR", pixels, statistics);
            string? preset = PresetName();
            return preset is null ? text : text + " (" + preset + ")";
        }

        public override string ToString() => Describe();

        private string? PresetName()
        {
            if (SameAs(From(ResNetWeights.MLNetPreprocessing)))
            {
                return "ResNetWeights.MLNetResNet18";
            }

            if (SameAs(From(Preprocessing.ImageNet)))
            {
                return "Preprocessing.ImageNet, torchvision's ImageNet weights";
            }

            return SameAs(Identity) ? "no Normalize step" : null;
        }

        private bool SameStatistics(Preprocessing p) => Mean.SequenceEqual(p.Mean) && Std.SequenceEqual(p.Std);

        private int Source(int c) => Order == ChannelOrder.Bgr ? 2 - c : c;

        private double Gain(int c) => Scale / (double)Std[c];

        private double Offset(int c) => -Mean[c] / (double)Std[c];

        private static bool Close(double a, double b) => Math.Abs(a - b) <= 1e-5 * Math.Max(1.0, Math.Max(Math.Abs(a), Math.Abs(b)));

        private static string List(IReadOnlyList<float> values) => string.Join(", ", values.Select(v => v.ToString("0.####", CultureInfo.InvariantCulture)));
    }
}
