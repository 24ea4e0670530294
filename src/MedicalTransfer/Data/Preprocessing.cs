using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Data
{
    /// <summary>Order of the colour channels a backbone expects.</summary>
    public enum ChannelOrder
    {
        /// <summary>Red, green, blue (torchvision).</summary>
        Rgb,

        /// <summary>Blue, green, red (Caffe and CNTK exports).</summary>
        Bgr,
    }

    /// <summary>
    /// The input a set of weights expects: how to resize and crop an image, how to scale its pixel
    /// values, and which per-channel mean and standard deviation to normalise with. Weights carry
    /// their preprocessing, so data pipelines can feed a model exactly what it was trained on
    /// (torchvision's <c>weights.transforms()</c> is the precedent).
    /// </summary>
    public sealed class Preprocessing : IEquatable<Preprocessing>
    {
        private static readonly IReadOnlyList<float> ImageNetMean = Array.AsReadOnly(new[] { 0.485f, 0.456f, 0.406f });
        private static readonly IReadOnlyList<float> ImageNetStd = Array.AsReadOnly(new[] { 0.229f, 0.224f, 0.225f });
        private readonly IReadOnlyList<float> mean = ImageNetMean;
        private readonly IReadOnlyList<float> std = ImageNetStd;

        /// <summary>torchvision's ImageNet V1 evaluation preprocessing: resize 256, crop 224, ImageNet statistics.</summary>
        public static Preprocessing ImageNet { get; } = new();

        /// <summary>torchvision's ImageNet V2 evaluation preprocessing: resize 232, crop 224, ImageNet statistics.</summary>
        public static Preprocessing ImageNetV2 { get; } = new() { ResizeSize = 232 };

        /// <summary>Per-channel mean subtracted after scaling, in <see cref="ChannelOrder"/> order.</summary>
        /// <value>The default is ImageNet's (0.485, 0.456, 0.406).</value>
        /// <remarks>The values are copied when set: changing the caller's array afterwards changes nothing here.</remarks>
        public IReadOnlyList<float> Mean { get => mean; init => mean = Copy(value); }

        /// <summary>Per-channel standard deviation divided by after subtracting the mean.</summary>
        /// <value>The default is ImageNet's (0.229, 0.224, 0.225).</value>
        /// <remarks>The values are copied when set: changing the caller's array afterwards changes nothing here.</remarks>
        public IReadOnlyList<float> Std { get => std; init => std = Copy(value); }

        /// <summary>Length of the shorter side after resizing, before the center crop.</summary>
        /// <value>The default is 256.</value>
        public int ResizeSize { get; init; } = 256;

        /// <summary>Side of the square center crop fed to the network.</summary>
        /// <value>The default is 224.</value>
        public int CropSize { get; init; } = 224;

        /// <summary>Order of the colour channels in the network's input tensor.</summary>
        /// <value>The default is <see cref="ChannelOrder.Rgb"/>.</value>
        public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

        /// <summary>
        /// Value that a full-intensity pixel maps to before normalisation: 1 for torchvision
        /// (pixels in [0, 1]), 255 for exports that work on raw 8-bit values.
        /// </summary>
        /// <value>The default is 1.</value>
        public float PixelScale { get; init; } = 1f;

        /// <summary>Channels of the network's input: 3, or 1 when <see cref="Mean"/> and <see cref="Std"/> have one value (a model built for gray images).</summary>
        public int Channels => Mean.Count;

        /// <summary>Checks the values and returns this instance.</summary>
        /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
        public Preprocessing Validate()
        {
            if (Mean is null || Mean.Count is not (1 or 3))
            {
                throw new ArgumentException("Preprocessing.Mean must have 3 values (one per channel), or 1 for a model that takes gray images.", nameof(Mean));
            }

            if (Std is null || Std.Count != Mean.Count || Std.Any(s => !(s > 0) || float.IsInfinity(s)))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Preprocessing.Std must have {0} finite positive value(s), one per channel of Mean.", Mean.Count), nameof(Std));
            }

            Guard.Positive(ResizeSize, nameof(ResizeSize));
            Guard.Positive(CropSize, nameof(CropSize));
            Guard.Positive(PixelScale, nameof(PixelScale));
            if (CropSize > ResizeSize)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Preprocessing.CropSize ({0}) must not exceed ResizeSize ({1}).", CropSize, ResizeSize), nameof(CropSize));
            }

            return this;
        }

        /// <inheritdoc />
        public bool Equals(Preprocessing? other) =>
            other is not null && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std) &&
            ResizeSize == other.ResizeSize && CropSize == other.CropSize &&
            ChannelOrder == other.ChannelOrder && PixelScale.Equals(other.PixelScale);

        /// <inheritdoc />
        public override bool Equals(object? obj) => Equals(obj as Preprocessing);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(ResizeSize, CropSize, ChannelOrder, PixelScale, Mean[0], Std[0]);

        /// <summary>A read-only copy; <see langword="null"/> stays null, for <see cref="Validate"/> to report.</summary>
        private static IReadOnlyList<float> Copy(IReadOnlyList<float>? values) => values is null ? null! : Array.AsReadOnly(values.ToArray());

        /// <inheritdoc />
        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture,
            "resize {0}, crop {1}, {2}, scale {3}, mean ({4}), std ({5})",
            ResizeSize, CropSize, ChannelOrder, PixelScale,
            string.Join(", ", Mean.Select(m => m.ToString("0.###", CultureInfo.InvariantCulture))),
            string.Join(", ", Std.Select(m => m.ToString("0.###", CultureInfo.InvariantCulture))));
    }
}
