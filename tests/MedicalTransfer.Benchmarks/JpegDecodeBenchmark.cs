using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace MedicalTransfer.Benchmarks
{
    /// <summary>
    /// JPEG decoding alone, per CPU-second on one thread: the SDK's decoder (libjpeg-turbo through
    /// SkiaSharp, file read to float planes) against ImageSharp 2.1's JPEG decoder doing the same work
    /// (the SDK's JPEG path before), in alternating rounds so both see the same machine load. The 512x512
    /// gray phantoms are the loader benchmark's; the colour set is the same pictures tinted and saved
    /// as 4:2:0 colour JPEGs. bench_jpeg_decode.py times PIL on the same files. Usage:
    ///   dotnet run -c Release --project tests/MedicalTransfer.Benchmarks -- --jpeg-decode [--data DIR] [--rounds 5]
    /// </summary>
    internal static class JpegDecodeBenchmark
    {
        private static readonly Configuration JpegOnly = new(new JpegConfigurationModule()) { MaxDegreeOfParallelism = 1, PreferContiguousImageBuffers = true };

        public static int Run(string data, int rounds)
        {
            Console.WriteLine(DicomBenchmark.Cpu());
            Console.WriteLine($"JPEG decode benchmark: .NET {Environment.Version}, {rounds} alternating rounds, one thread, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
            string gray = Path.Combine(data, "jpeg");
            if (!Directory.Exists(gray))
            {
                SyntheticChestXRay.WriteImageFolder(gray, new SyntheticChestXRayOptions { Count = 256, Size = 512, Format = SyntheticImageFormat.Jpeg, Seed = 1 });
            }

            string colour = Path.Combine(data, "jpeg-colour");
            if (!Directory.Exists(colour))
            {
                WriteColour(gray, colour);
            }

            Console.WriteLine("| 512x512 files | SDK (libjpeg-turbo), images per CPU-s | ImageSharp 2.1, images per CPU-s | ratio |");
            Console.WriteLine("|---|---:|---:|---:|");
            foreach ((string name, string folder, bool isGray) in new[] { ("gray JPEG (phantoms)", gray, true), ("colour JPEG, 4:2:0", colour, false) })
            {
                string[] files = Directory.EnumerateFiles(folder, "*.jp*g", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).Take(128).ToArray();
                Time(() => Sdk(files), files.Length);
                Time(() => ImageSharpPath(files, isGray), files.Length);
                var sdk = new List<double>();
                var sharp = new List<double>();
                for (int round = 0; round < rounds; round++)
                {
                    sdk.Add(Time(() => Sdk(files), files.Length));
                    sharp.Add(Time(() => ImageSharpPath(files, isGray), files.Length));
                }

                double a = Median(sdk), b = Median(sharp);
                Console.WriteLine($"| {name}, {files.Length} files | {a:F0} | {b:F0} | {a / b:F2} |");
            }

            return 0;
        }

        private static void Sdk(string[] files)
        {
            foreach (string file in files)
            {
                using FloatImage image = ImageDecoder.Decode(file, ImageLoadOptions.Default);
            }
        }

        /// <summary>What the SDK's JPEG path did before: ImageSharp's decoder into L8 or Rgb24, then float planes.</summary>
        private static void ImageSharpPath(string[] files, bool gray)
        {
            foreach (string file in files)
            {
                byte[] bytes = File.ReadAllBytes(file);
                if (gray)
                {
                    using Image<L8> image = Image.Load<L8>(JpegOnly, bytes);
                    using FloatImage result = FloatImage.Rent(1, image.Width, image.Height, 255f);
                    float[] dst = result.Buffer;
                    image.ProcessPixelRows(rows =>
                    {
                        for (int y = 0; y < rows.Height; y++)
                        {
                            Span<L8> row = rows.GetRowSpan(y);
                            for (int x = 0; x < row.Length; x++)
                            {
                                dst[(y * row.Length) + x] = row[x].PackedValue / 255f;
                            }
                        }
                    });
                }
                else
                {
                    using Image<Rgb24> image = Image.Load<Rgb24>(JpegOnly, bytes);
                    using FloatImage result = FloatImage.Rent(3, image.Width, image.Height, 255f);
                    float[] dst = result.Buffer;
                    int plane = result.PlaneLength;
                    image.ProcessPixelRows(rows =>
                    {
                        for (int y = 0; y < rows.Height; y++)
                        {
                            Span<Rgb24> row = rows.GetRowSpan(y);
                            for (int x = 0; x < row.Length; x++)
                            {
                                int o = (y * row.Length) + x;
                                dst[o] = row[x].R / 255f;
                                dst[plane + o] = row[x].G / 255f;
                                dst[(2 * plane) + o] = row[x].B / 255f;
                            }
                        }
                    });
                }
            }
        }

        private static double Time(Action run, int images)
        {
            var process = Process.GetCurrentProcess();
            process.Refresh();
            TimeSpan cpu = process.TotalProcessorTime;
            run();
            process.Refresh();
            return images / (process.TotalProcessorTime - cpu).TotalSeconds;
        }

        private static void WriteColour(string grayFolder, string colourFolder)
        {
            Directory.CreateDirectory(colourFolder);
            foreach (string file in Directory.EnumerateFiles(grayFolder, "*.jp*g", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).Take(128))
            {
                using Image<L8> gray = Image.Load<L8>(file);
                using var rgb = new Image<Rgb24>(gray.Width, gray.Height);
                for (int y = 0; y < gray.Height; y++)
                {
                    for (int x = 0; x < gray.Width; x++)
                    {
                        byte v = gray[x, y].PackedValue;
                        rgb[x, y] = new Rgb24(v, (byte)((v * 3) / 4), (byte)(255 - v));
                    }
                }

                rgb.SaveAsJpeg(Path.Combine(colourFolder, Path.GetFileName(file)), new JpegEncoder { Quality = 90, ColorType = JpegColorType.YCbCrRatio420 });
            }
        }

        private static double Median(List<double> values)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}
