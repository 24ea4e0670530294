using System;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer.Data.Dicom;
using MedicalTransfer.Internal;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MedicalTransfer.Data
{
    /// <summary>File format of synthetic images.</summary>
    public enum SyntheticImageFormat
    {
        /// <summary>8-bit grayscale PNG.</summary>
        Png8,

        /// <summary>16-bit grayscale PNG (full 16-bit range, as X-ray detectors export).</summary>
        Png16,

        /// <summary>8-bit grayscale JPEG, quality 90 (as the Kaggle chest X-ray set).</summary>
        Jpeg,

        /// <summary>
        /// DICOM (Explicit VR Little Endian, DX): 12 bits stored in 16, a rescale (slope 2,
        /// intercept -1000) and a window that shows the phantom as rendered; MONOCHROME2 for even
        /// patients and MONOCHROME1 (stored inverted) for odd ones; patient, study, view, sex, age
        /// and pixel spacing in the header.
        /// </summary>
        Dicom,
    }

    /// <summary>What <see cref="SyntheticChestXRay.WriteImageFolder"/> writes.</summary>
    public sealed record SyntheticChestXRayOptions
    {
        /// <summary>Number of images.</summary>
        /// <value>The default is 200.</value>
        public int Count { get; init; } = 200;

        /// <summary>Fraction of images in the positive class (PNEUMONIA).</summary>
        /// <value>The default is 0.75, the Kaggle set's 3:1 ratio.</value>
        public double PositiveFraction { get; init; } = 0.75;

        /// <summary>Side of the square images, in pixels (32 to 4096).</summary>
        /// <value>The default is 256.</value>
        public int Size { get; init; } = 256;

        /// <summary>File format.</summary>
        /// <value>The default is <see cref="SyntheticImageFormat.Png8"/>.</value>
        public SyntheticImageFormat Format { get; init; } = SyntheticImageFormat.Png8;

        /// <summary>
        /// Images per patient: images of a patient share anatomy and class and are named
        /// <c>patientNNNN_K</c>, so that a split can group them with the pattern <c>^(patient\d+)_</c>.
        /// </summary>
        /// <value>The default is 1.</value>
        public int ImagesPerPatient { get; init; } = 1;

        /// <summary>Seed; the same options write byte-identical files.</summary>
        /// <value>The default is 0.</value>
        public int Seed { get; init; }
    }

    /// <summary>
    /// Writes chest-X-ray-like phantoms as an image folder (<c>NORMAL/</c> and <c>PNEUMONIA/</c>),
    /// the embedded data set of samples and tests (MONAI's <c>create_test_image_2d</c> is the
    /// precedent). Each image has a body outline, two lung fields, ribs, spine and heart shadow,
    /// acquisition noise and contrast variation; a PNEUMONIA image adds one to three soft
    /// consolidation-like opacities inside a lung field, some of them faint, so that the task can be
    /// learned but is not trivial.
    /// </summary>
    public static partial class SyntheticChestXRay
    {
        /// <summary>Negative class folder name.</summary>
        public const string NormalClass = "NORMAL";

        /// <summary>Positive class folder name.</summary>
        public const string PneumoniaClass = "PNEUMONIA";

        /// <summary>Writes the phantoms into <paramref name="root"/>, which must not exist or be empty.</summary>
        /// <param name="root">Folder to create; it receives <c>NORMAL/</c> and <c>PNEUMONIA/</c>.</param>
        /// <param name="options">Count, class ratio, size, format, seed; <see langword="null"/> for the defaults.</param>
        /// <returns>The number of images written per class: (normal, pneumonia).</returns>
        /// <exception cref="ArgumentException"><paramref name="root"/> is not empty (nothing is overwritten), or an option is out of range.</exception>
        public static (int Normal, int Pneumonia) WriteImageFolder(string root, SyntheticChestXRayOptions? options = null)
        {
            options ??= new SyntheticChestXRayOptions();
            Validate(root, options);

            int positives = (int)Math.Round(options.Count * options.PositiveFraction, MidpointRounding.AwayFromZero);
            string extension = Extension(options.Format);
            Directory.CreateDirectory(Path.Combine(root, NormalClass));
            Directory.CreateDirectory(Path.Combine(root, PneumoniaClass));
            var pixels = new float[options.Size * options.Size];
            int patients = (options.Count + options.ImagesPerPatient - 1) / options.ImagesPerPatient;
            for (int i = 0; i < options.Count; i++)
            {
                int patient = i / options.ImagesPerPatient;
                // Patients, not images, are assigned to classes, so a patient's images share a class.
                bool positive = patient < (int)Math.Round(patients * (positives / (double)options.Count), MidpointRounding.AwayFromZero);
                Render(pixels, options.Size, options.Seed, patient, i, positive);
                string name = string.Format(CultureInfo.InvariantCulture, "patient{0:D4}_{1}{2}", patient, i % options.ImagesPerPatient, extension);
                SaveAny(pixels, options.Size, options.Format, Path.Combine(root, positive ? PneumoniaClass : NormalClass, name), options.Seed, patient, i % options.ImagesPerPatient);
            }

            int normal = Directory.EnumerateFiles(Path.Combine(root, NormalClass)).Count();
            return (normal, options.Count - normal);
        }

        /// <summary>Renders one phantom into <paramref name="image"/> (row-major, values in [0, 1]).</summary>
        internal static void Render(float[] image, int size, int seed, int patient, int index, bool positive)
        {
            SampleRandom anatomy = SampleRandom.For(seed, 0x0A7A, patient);
            SampleRandom shot = SampleRandom.For(seed, 0x5407, index);

            double bodyX = 0.92 + (0.03 * anatomy.NextGaussian()), bodyY = 1.5;
            double lungW = 0.27 + (0.025 * anatomy.NextGaussian()), lungH = 0.52 + (0.04 * anatomy.NextGaussian());
            double lungY = -0.12 + (0.03 * anatomy.NextGaussian()), lungX = 0.38 + (0.02 * anatomy.NextGaussian());
            double heartX = 0.13 + (0.03 * anatomy.NextGaussian()), heartY = 0.28, heartR = 0.24 + (0.03 * anatomy.NextGaussian());
            double ribSpacing = 0.105 + (0.008 * anatomy.NextGaussian()), ribPhase = anatomy.NextDouble();
            double tilt = 0.04 * shot.NextGaussian();

            // Opacities: 1-3 soft blobs, each made of a few Gaussians for an irregular outline. They
            // draw from their own stream, so a positive image is its negative twin plus opacities.
            SampleRandom lesion = SampleRandom.For(seed, 0x0B10B, index);
            int blobs = positive ? 1 + lesion.NextInt(3) : 0;
            var blobParts = new (double X, double Y, double R, double A)[blobs * 4];
            for (int b = 0; b < blobs; b++)
            {
                double side = lesion.NextDouble() < 0.5 ? -1 : 1;
                double cx = (side * lungX) + (0.5 * lungW * ((2 * lesion.NextDouble()) - 1));
                double cy = lungY + (0.6 * lungH * ((2 * lesion.NextDouble()) - 0.7));
                double radius = 0.06 + (0.12 * lesion.NextDouble());
                double strength = 0.06 + (0.2 * lesion.NextDouble() * lesion.NextDouble());
                for (int k = 0; k < 4; k++)
                {
                    blobParts[(b * 4) + k] = (cx + (radius * 0.6 * lesion.NextGaussian()), cy + (radius * 0.6 * lesion.NextGaussian()), radius * (0.5 + (0.5 * lesion.NextDouble())), strength * (0.6 + (0.4 * lesion.NextDouble())));
                }
            }

            double gamma = Math.Exp(0.2 * shot.NextGaussian());
            double gain = 0.85 + (0.15 * shot.NextDouble()), offset = 0.05 * shot.NextDouble();
            double noise = 0.01 + (0.02 * shot.NextDouble());
            double gradient = 0.08 * shot.NextGaussian();

            for (int py = 0; py < size; py++)
            {
                for (int px = 0; px < size; px++)
                {
                    double u0 = ((px + 0.5) / size * 2) - 1, v0 = ((py + 0.5) / size * 2) - 1;
                    double u = u0 + (tilt * v0), v = v0 - (tilt * u0);
                    double body = Smooth(1 - Ellipse(u, v - 0.3, bodyX, bodyY), 0.05);
                    double value = 0.06 + (0.5 * body);
                    double lungs = 0;
                    for (int s = -1; s <= 1; s += 2)
                    {
                        // Lungs taper to the apex and end on the diaphragm dome.
                        double along = Math.Clamp((v - (lungY - lungH)) / (2 * lungH), 0, 1);
                        double width = lungW * (0.55 + (0.6 * along));
                        double e = Ellipse(u - (s * lungX), v - lungY, width, lungH);
                        lungs = Math.Max(lungs, Smooth(1 - e, 0.1));
                    }

                    value -= 0.3 * lungs * body;
                    double mediastinum = Smooth(0.14 - Math.Abs(u - 0.02), 0.1) * Smooth(v + 0.75, 0.2);
                    value += 0.12 * mediastinum * body;
                    double heart = Smooth(1 - Ellipse(u - heartX, v - heartY, heartR * 1.35, heartR), 0.2);
                    value += 0.16 * heart * body;
                    double spine = Smooth(0.06 - Math.Abs(u), 0.02) * (0.8 + (0.2 * Math.Cos(v * 55)));
                    value += 0.07 * spine * body;

                    // Ribs: arcs that fall away laterally, visible over the lungs and chest wall.
                    double ribV = v - (0.45 * u * u) - (0.12 * Math.Abs(u));
                    double ribWave = Math.Cos(((ribV / ribSpacing) + ribPhase) * 2 * Math.PI);
                    double rib = Smooth(ribWave - 0.5, 0.25) * Smooth(0.85 - Math.Abs(u), 0.1) * Smooth(0.6 - Math.Abs(v + 0.1), 0.15) * Smooth(Math.Abs(u) - 0.08, 0.05);
                    value += 0.09 * rib * body * (0.5 + (0.5 * lungs));

                    if (blobs > 0 && lungs > 0)
                    {
                        double opacity = 0;
                        foreach ((double x, double y, double r, double a) in blobParts)
                        {
                            double d2 = (((u - x) * (u - x)) + ((v - y) * (v - y))) / (r * r);
                            opacity += a * Math.Exp(-2 * d2);
                        }

                        value += Math.Min(opacity, 0.3) * lungs;
                    }

                    value += gradient * v0;
                    value = offset + (gain * Math.Pow(Math.Clamp(value, 0, 1), gamma));
                    value += noise * shot.NextGaussian();
                    image[(py * size) + px] = (float)Math.Clamp(value, 0, 1);
                }
            }
        }

        internal static string Extension(SyntheticImageFormat format) => format switch
        {
            SyntheticImageFormat.Jpeg => ".jpeg",
            SyntheticImageFormat.Dicom => ".dcm",
            _ => ".png",
        };

        internal static void Validate(string root, SyntheticChestXRayOptions options)
        {
            Guard.NotNullOrWhiteSpace(root);
            Guard.InRange(options.Count, 2, 10_000_000, "SyntheticChestXRayOptions.Count");
            Guard.InRange(options.PositiveFraction, 0.0, 1.0, "SyntheticChestXRayOptions.PositiveFraction");
            Guard.InRange(options.Size, 32, 4096, "SyntheticChestXRayOptions.Size");
            Guard.InRange(options.ImagesPerPatient, 1, 1000, "SyntheticChestXRayOptions.ImagesPerPatient");
            if (!Enum.IsDefined(options.Format))
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Format, "SyntheticChestXRayOptions.Format must be Png8, Png16, Jpeg or Dicom.");
            }

            if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Folder '{0}' is not empty; synthetic data is only written into a new or empty folder so that no existing file is overwritten.", root), nameof(root));
            }
        }

        internal static void SaveAny(float[] pixels, int size, SyntheticImageFormat format, string path, int seed, int patient, int study)
        {
            if (format == SyntheticImageFormat.Dicom)
            {
                SyntheticDicom.Write(pixels, size, path, seed, patient, study);
            }
            else
            {
                Save(pixels, size, format, path);
            }
        }

        private static double Ellipse(double u, double v, double a, double b) => Math.Sqrt(((u * u) / (a * a)) + ((v * v) / (b * b)));

        private static double Smooth(double x, double width) => Math.Clamp((x / width) + 0.5, 0, 1) is var t ? t * t * (3 - (2 * t)) : 0;

        private static void Save(float[] pixels, int size, SyntheticImageFormat format, string path)
        {
            if (format == SyntheticImageFormat.Png16)
            {
                using var image = new Image<L16>(size, size);
                for (int y = 0; y < size; y++)
                {
                    for (int x = 0; x < size; x++)
                    {
                        image[x, y] = new L16((ushort)Math.Round(pixels[(y * size) + x] * 65535.0));
                    }
                }

                image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
                return;
            }

            using var gray = new Image<L8>(size, size);
            for (int y = 0; y < size; y++)
            {
                for (int x = 0; x < size; x++)
                {
                    gray[x, y] = new L8((byte)Math.Round(pixels[(y * size) + x] * 255.0));
                }
            }

            if (format == SyntheticImageFormat.Jpeg)
            {
                gray.SaveAsJpeg(path, new JpegEncoder { Quality = 90, ColorType = JpegColorType.Luminance });
            }
            else
            {
                gray.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
            }
        }
    }
}
