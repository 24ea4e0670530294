using System;
using System.Globalization;
using System.IO;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MedicalTransfer.Explainability
{
    /// <summary>Colour scales for heatmaps (low values first).</summary>
    public enum Colormap
    {
        /// <summary>Google's Turbo: perceptually smoother than jet, dark blue to dark red.</summary>
        Turbo,

        /// <summary>The classic jet (blue, cyan, yellow, red), for figures that must match older papers.</summary>
        Jet,
    }

    /// <summary>How a heatmap is blended over an image.</summary>
    public sealed record OverlayOptions
    {
        /// <summary>The colour scale.</summary>
        /// <value>The default is <see cref="Colormap.Turbo"/>.</value>
        public Colormap Colormap { get; init; } = Colormap.Turbo;

        /// <summary>Opacity of the heatmap, from 0 (image only) to 1 (heatmap only).</summary>
        /// <value>The default is 0.45.</value>
        public double Alpha { get; init; } = 0.45;

        /// <summary>Brightness of the parts of the image the model never saw (outside its center crop), from 0 (black) to 1 (unchanged).</summary>
        /// <value>The default is 0.5.</value>
        public double OutsideCropBrightness { get; init; } = 0.5;

        /// <summary>
        /// How the original image is decoded: the data pipeline's decoder with its format whitelist (PNG, JPEG,
        /// BMP), EXIF orientation and pixel limit, so the overlay shows the image exactly as the model saw it.
        /// Pass the loader's options if you raised <see cref="ImageLoadOptions.MaxPixels"/> there.
        /// </summary>
        /// <value>The default is <see cref="ImageLoadOptions.Default"/>.</value>
        public ImageLoadOptions Decoding { get; init; } = ImageLoadOptions.Default;

        internal OverlayOptions Validate()
        {
            if (!Enum.IsDefined(Colormap))
            {
                throw new ArgumentOutOfRangeException(nameof(Colormap), Colormap, "OverlayOptions.Colormap must be Turbo or Jet.");
            }

            Guard.InRange(Alpha, 0.0, 1.0, "OverlayOptions.Alpha");
            Guard.InRange(OutsideCropBrightness, 0.0, 1.0, "OverlayOptions.OutsideCropBrightness");
            Guard.NotNull(Decoding, "OverlayOptions.Decoding").Validate();
            return this;
        }
    }

    /// <summary>
    /// Shows explanations on the ORIGINAL image (not the normalised network input): the map is
    /// projected back through the model's resize and center crop, coloured, and blended; the parts
    /// of the image outside the crop, which the model never saw, are dimmed.
    /// </summary>
    public static class HeatmapOverlay
    {
        /// <summary>Writes a PNG of <paramref name="imagePath"/> with the explanation's map blended over it.</summary>
        /// <param name="imagePath">The original image file.</param>
        /// <param name="explanation">An explanation of that image.</param>
        /// <param name="preprocessing">The preprocessing of the model that was explained (<see cref="TransferModel.Preprocessing"/>).</param>
        /// <param name="outputPath">The PNG to write; its folder must exist.</param>
        /// <param name="options">Colormap and opacity; <see langword="null"/> for the defaults.</param>
        public static void Save(string imagePath, Explanation explanation, Preprocessing preprocessing, string outputPath, OverlayOptions? options = null) =>
            Save(imagePath, Guard.NotNull(explanation).LowResolution, preprocessing, outputPath, options);

        /// <summary>Writes a PNG of <paramref name="imagePath"/> with a map in the model's input frame blended over it.</summary>
        /// <param name="imagePath">The original image file.</param>
        /// <param name="map">A map over the model's center crop (any resolution, for example <see cref="Explanation.LowResolution"/>).</param>
        /// <param name="preprocessing">The preprocessing of the model that produced the map.</param>
        /// <param name="outputPath">The PNG to write.</param>
        /// <param name="options">Colormap and opacity; <see langword="null"/> for the defaults.</param>
        public static void Save(string imagePath, Heatmap map, Preprocessing preprocessing, string outputPath, OverlayOptions? options = null)
        {
            Guard.NotNullOrWhiteSpace(imagePath);
            Guard.NotNull(map);
            Guard.NotNull(preprocessing).Validate();
            Guard.NotNullOrWhiteSpace(outputPath);
            options = (options ?? new OverlayOptions()).Validate();
            using var image = LoadRgb(imagePath, options.Decoding);
            var frame = ToImageFrame(map, preprocessing, image.Width, image.Height);
            var crop = CropBox(preprocessing, image.Width, image.Height);
            Blend(image, frame, crop, options);
            SavePng(image, outputPath);
        }

        /// <summary>The overlay of <see cref="Save(string, Heatmap, Preprocessing, string, OverlayOptions?)"/> as PNG bytes, for figures composed in memory.</summary>
        /// <param name="imagePath">The original image file.</param>
        /// <param name="map">A map over the model's center crop.</param>
        /// <param name="preprocessing">The preprocessing of the model that produced the map.</param>
        /// <param name="options">Colormap and opacity; <see langword="null"/> for the defaults.</param>
        /// <returns>An RGB PNG of the original image's size.</returns>
        public static byte[] ToPng(string imagePath, Heatmap map, Preprocessing preprocessing, OverlayOptions? options = null)
        {
            Guard.NotNullOrWhiteSpace(imagePath);
            Guard.NotNull(map);
            Guard.NotNull(preprocessing).Validate();
            options = (options ?? new OverlayOptions()).Validate();
            using var image = LoadRgb(imagePath, options.Decoding);
            Blend(image, ToImageFrame(map, preprocessing, image.Width, image.Height), CropBox(preprocessing, image.Width, image.Height), options);
            using var stream = new MemoryStream();
            image.SaveAsPng(stream, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 });
            return stream.ToArray();
        }

        /// <summary>Writes a PNG of <paramref name="imagePath"/> with a map already in the image's frame (for example <see cref="EnsembleExplanation.Mean"/>).</summary>
        /// <param name="imagePath">The original image file.</param>
        /// <param name="imageFrameMap">A map with the image's width and height.</param>
        /// <param name="outputPath">The PNG to write.</param>
        /// <param name="options">Colormap and opacity; <see langword="null"/> for the defaults.</param>
        public static void SaveImageFrame(string imagePath, Heatmap imageFrameMap, string outputPath, OverlayOptions? options = null)
        {
            Guard.NotNullOrWhiteSpace(imagePath);
            Guard.NotNull(imageFrameMap);
            Guard.NotNullOrWhiteSpace(outputPath);
            options = (options ?? new OverlayOptions()).Validate();
            using var image = LoadRgb(imagePath, options.Decoding);
            if (image.Width != imageFrameMap.Width || image.Height != imageFrameMap.Height)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The map is {0}x{1} but '{2}' is {3}x{4}; use Save with the model's preprocessing for maps in the model's input frame.", imageFrameMap.Width, imageFrameMap.Height, imagePath, image.Width, image.Height), nameof(imageFrameMap));
            }

            Blend(image, imageFrameMap, (0, 0, image.Width, image.Height), options);
            SavePng(image, outputPath);
        }

        /// <summary>
        /// Projects a map over the model's center crop onto the original image: each image pixel is
        /// mapped through the resize and crop and the map sampled bilinearly there; pixels outside the
        /// crop get 0.
        /// </summary>
        /// <param name="map">A map over the crop (any resolution).</param>
        /// <param name="preprocessing">The model's preprocessing.</param>
        /// <param name="imageWidth">Original width.</param>
        /// <param name="imageHeight">Original height.</param>
        /// <returns>A map of <paramref name="imageWidth"/> x <paramref name="imageHeight"/>.</returns>
        public static Heatmap ToImageFrame(Heatmap map, Preprocessing preprocessing, int imageWidth, int imageHeight)
        {
            Guard.NotNull(map);
            Guard.NotNull(preprocessing).Validate();
            Guard.Positive(imageWidth);
            Guard.Positive(imageHeight);
            var (rw, rh) = ResizeTransform.ShorterSideSize(imageWidth, imageHeight, preprocessing.ResizeSize);
            int c = preprocessing.CropSize;
            double left = CropBoxes.CenterOffset(rw, c), top = CropBoxes.CenterOffset(rh, c);
            double sx = (double)rw / imageWidth, sy = (double)rh / imageHeight;
            var values = new float[imageWidth * imageHeight];
            for (int y = 0; y < imageHeight; y++)
            {
                double cy = ((y + 0.5) * sy) - top;
                if (cy < 0 || cy >= c)
                {
                    continue;
                }

                for (int x = 0; x < imageWidth; x++)
                {
                    double cx = ((x + 0.5) * sx) - left;
                    if (cx >= 0 && cx < c)
                    {
                        values[(y * imageWidth) + x] = Math.Clamp(map.Sample(cx * map.Width / c, cy * map.Height / c), 0f, 1f);
                    }
                }
            }

            return new Heatmap(imageWidth, imageHeight, values);
        }

        /// <summary>The colour of a value in [0, 1] on a colour scale.</summary>
        /// <param name="value">The value; clamped to [0, 1].</param>
        /// <param name="colormap">The scale.</param>
        /// <returns>Red, green and blue.</returns>
        public static (byte R, byte G, byte B) Color(double value, Colormap colormap)
        {
            double x = Math.Clamp(double.IsNaN(value) ? 0 : value, 0, 1);
            double r, g, b;
            if (colormap == Colormap.Jet)
            {
                r = 1.5 - Math.Abs((4 * x) - 3);
                g = 1.5 - Math.Abs((4 * x) - 2);
                b = 1.5 - Math.Abs((4 * x) - 1);
            }
            else
            {
                // Polynomial approximation of Turbo published with it (Mikhailov, Google AI, 2019).
                r = 0.13572138 + (x * (4.61539260 + (x * (-42.66032258 + (x * (132.13108234 + (x * (-152.94239396 + (x * 59.28637943)))))))));
                g = 0.09140261 + (x * (2.19418839 + (x * (4.84296658 + (x * (-14.18503333 + (x * (4.27729857 + (x * 2.82956604)))))))));
                b = 0.10667330 + (x * (12.64194608 + (x * (-60.58204836 + (x * (110.36276771 + (x * (-89.90310912 + (x * 27.34824973)))))))));
            }

            static byte ToByte(double v) => (byte)Math.Round(Math.Clamp(v, 0, 1) * 255);
            return (ToByte(r), ToByte(g), ToByte(b));
        }

        /// <summary>The size of the image as the model sees it (after EXIF orientation), through the data pipeline's decoder.</summary>
        internal static (int Width, int Height) ImageSize(string path)
        {
            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);
            return (decoded.Width, decoded.Height);
        }

        /// <summary>
        /// The original image for display, decoded by the data pipeline's decoder (one decoding path for every
        /// user image): values in [0, 1] become 8-bit, a gray plane is replicated to red, green and blue.
        /// </summary>
        private static Image<Rgb24> LoadRgb(string path, ImageLoadOptions decoding)
        {
            using FloatImage decoded = ImageDecoder.Decode(path, decoding);
            var image = new Image<Rgb24>(decoded.Width, decoded.Height);
            int width = decoded.Width;
            int plane = decoded.PlaneLength;
            int green = decoded.Channels == 3 ? plane : 0, blue = decoded.Channels == 3 ? 2 * plane : 0;
            float[] values = decoded.Buffer;
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    Span<Rgb24> row = rows.GetRowSpan(y);
                    int o = y * width;
                    for (int x = 0; x < row.Length; x++)
                    {
                        row[x] = new Rgb24(ToByte(values[o + x]), ToByte(values[green + o + x]), ToByte(values[blue + o + x]));
                    }
                }
            });
            return image;
        }

        private static byte ToByte(float value) => (byte)Math.Round(Math.Clamp(value, 0f, 1f) * 255f);

        private static (int Left, int Top, int Width, int Height) CropBox(Preprocessing preprocessing, int width, int height)
        {
            var (rw, rh) = ResizeTransform.ShorterSideSize(width, height, preprocessing.ResizeSize);
            double sx = (double)rw / width, sy = (double)rh / height;
            int left = (int)Math.Round(CropBoxes.CenterOffset(rw, preprocessing.CropSize) / sx), top = (int)Math.Round(CropBoxes.CenterOffset(rh, preprocessing.CropSize) / sy);
            return (left, top, (int)Math.Round(preprocessing.CropSize / sx), (int)Math.Round(preprocessing.CropSize / sy));
        }

        private static void Blend(Image<Rgb24> image, Heatmap frame, (int Left, int Top, int Width, int Height) crop, OverlayOptions options)
        {
            double alpha = options.Alpha;
            for (int y = 0; y < image.Height; y++)
            {
                for (int x = 0; x < image.Width; x++)
                {
                    Rgb24 p = image[x, y];
                    bool inside = x >= crop.Left && x < crop.Left + crop.Width && y >= crop.Top && y < crop.Top + crop.Height;
                    if (!inside)
                    {
                        double k = options.OutsideCropBrightness;
                        image[x, y] = new Rgb24((byte)(p.R * k), (byte)(p.G * k), (byte)(p.B * k));
                        continue;
                    }

                    var (r, g, b) = Color(frame[x, y], options.Colormap);
                    image[x, y] = new Rgb24(Mix(p.R, r, alpha), Mix(p.G, g, alpha), Mix(p.B, b, alpha));
                }
            }
        }

        /// <summary>Always RGB: ImageSharp would otherwise keep a grayscale source's PNG colour type and drop the heatmap's colours.</summary>
        internal static void SavePng(Image<Rgb24> image, string path) =>
            AtomicFile.Write(path, -1, stream => image.SaveAsPng(stream, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 }));

        private static byte Mix(byte under, byte over, double alpha) => (byte)Math.Round((under * (1 - alpha)) + (over * alpha));
    }
}
