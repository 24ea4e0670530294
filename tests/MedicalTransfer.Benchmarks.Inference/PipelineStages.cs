using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Prediction;

namespace MedicalTransfer.Benchmarks.Inference
{
    /// <summary>
    /// Where the prediction pipeline's CPU goes for a 512x512 16-bit gray PNG (issue 11's PredictFolder target):
    /// each stage of the one path (file read, PNG inflate, row unfiltering, samples to floats, resize 512 to 256,
    /// center crop 224, normalise to three planes, copy into the batch) timed alone on one thread over the same
    /// images, in process CPU milliseconds per image (user + system, all threads: the figure a shared machine
    /// distorts least), then the whole per-image path as PredictionEngine runs it, and PredictFolder through a
    /// classifier that computes nothing with 1 and 2 decode workers. Rounds interleave the stages; medians are kept.
    /// Usage: nice -n 10 dotnet run -c Release --project tests/MedicalTransfer.Benchmarks.Inference -- --pipeline-stages [--rounds 5] [--images 48]
    /// </summary>
    internal static class PipelineStages
    {
        private const string Copy512 = "  copy 512 KB of rows (subtracted from the next row in the sum)";
        private const string CloneCrop = "  clone the 224x224 crop (subtracted from the next row in the sum)";

        public static int Run(int rounds, int images, string lscpu, IImageClassifier like)
        {
            Console.WriteLine(lscpu);
            Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} logical cores, load average {LoadAverage()} at start, {images} images, {rounds} rounds");
            string work = Path.Combine(Path.GetTempPath(), "mt-bench-stages-" + Guid.NewGuid().ToString("N"));
            try
            {
                SyntheticChestXRay.WriteImageFolder(work, new SyntheticChestXRayOptions { Count = images, Size = 512, Format = SyntheticImageFormat.Png16, Seed = 3 });
                string[] files = ImageClassifierExtensions.ImageFiles(work).ToArray();
                var stages = Prepare(files, like.Preprocessing);
                var before = stages.ToDictionary(s => s.Name, _ => new List<double>());
                var now = stages.ToDictionary(s => s.Name, _ => new List<double>());
                foreach (var stage in stages)
                {
                    // Warm-up: JIT tiers, pools, file cache.
                    MeasureOrSkip(stage.Before, files.Length, 2);
                    MeasureOrSkip(stage.Now, files.Length, 2);
                }

                for (int r = 0; r < rounds; r++)
                {
                    foreach (var stage in stages)
                    {
                        before[stage.Name].Add(MeasureOrSkip(stage.Before, files.Length, stage.Repeat));
                        now[stage.Name].Add(MeasureOrSkip(stage.Now, files.Length, stage.Repeat));
                    }

                    Console.WriteLine($"round {r + 1}/{rounds} done, load average {LoadAverage()}");
                }

                var folder = new Dictionary<int, List<double>> { [1] = new(), [2] = new() };
                var nothing = new NoInference(like);
                for (int r = 0; r < rounds; r++)
                {
                    foreach (int workers in new[] { 1, 2 })
                    {
                        folder[workers].Add(FolderCpu(nothing, work, workers, files.Length));
                    }
                }

                Console.WriteLine();
                Console.WriteLine($"| stage (one thread, {images} 512x512 16-bit gray PNGs, {like.Preprocessing}) | before: CPU ms/image (median, range) | now: CPU ms/image (median, range) |");
                Console.WriteLine("|---|---:|---:|");
                foreach (var stage in stages)
                {
                    Console.WriteLine($"| {stage.Name} | {Cell(stage.Before, before[stage.Name])} | {Cell(stage.Now, now[stage.Name])} |");
                }

                double Sum(Dictionary<string, List<double>> cpu, bool baseline) => stages
                    .Where(s => s.InSum && (baseline ? s.Before : s.Now) is not null)
                    .Sum(s => Median(cpu[s.Name]) - (s.Minus is null ? 0 : Median(cpu[s.Minus])));
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| sum of the stages marked * (copies and clones subtracted) | {0:F2} | {1:F2} |", Sum(before, true), Sum(now, false)));
                Console.WriteLine($"| PredictFolder, pipeline alone (no model), 1 decode worker | | {Cell(null, folder[1])} |");
                Console.WriteLine($"| PredictFolder, pipeline alone (no model), 2 decode workers | | {Cell(null, folder[2])} |");
                Console.WriteLine(Identical(files, like.Preprocessing));
                Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()} at the end");
                return 0;
            }
            finally
            {
                if (Directory.Exists(work))
                {
                    Directory.Delete(work, recursive: true);
                }
            }
        }

        /// <summary>
        /// The stages, each on inputs prepared once per image so that it runs alone: (name, the code before, the code
        /// now (null where now it is part of another stage), passes over the images, whether it is part of the sum).
        /// A row whose name says "with the" includes the copy or clone of the row above it, which the sum subtracts.
        /// </summary>
        private static List<(string Name, Action<int>? Before, Action<int>? Now, int Repeat, bool InSum, string? Minus)> Prepare(string[] files, Preprocessing preprocessing)
        {
            int n = files.Length;
            var bytes = new byte[n][];
            var filtered = new byte[n][];
            var unfiltered = new byte[n][];
            var decoded = new FloatImage[n];
            var resized = new FloatImage[n];
            var cropped = new FloatImage[n];
            var normalized = new FloatImage[n];
            const int Size = 512, Stride = (Size * 2) + 1, Total = Size * Stride;
            int crop = preprocessing.CropSize;
            (int rw, int rh) = ResizeTransform.ShorterSideSize(Size, Size, preprocessing.ResizeSize);
            int left = CropBoxes.CenterOffset(rw, crop), top = CropBoxes.CenterOffset(rh, crop);
            for (int i = 0; i < n; i++)
            {
                bytes[i] = File.ReadAllBytes(files[i]);
                filtered[i] = new byte[Total];
                GrayPngDecoder.Inflate(GrayPngDecoder.FindImageData(bytes[i], bytes[i].Length)!, filtered[i], Total);
                unfiltered[i] = (byte[])filtered[i].Clone();
                GrayPngDecoder.Unfilter(unfiltered[i], Size, Size * 2, 2);
                decoded[i] = ImageDecoder.Decode(files[i], ImageLoadOptions.Default);
                resized[i] = Baseline.Resize(decoded[i], rw, rh);
                cropped[i] = Baseline.Crop(resized[i], left, top, crop, crop);
                normalized[i] = Baseline.Normalize(cropped[i].Clone(), preprocessing);
            }

            Console.WriteLine("PNG row filters of these files (ImageSharp's adaptive choice; 0 none, 1 sub, 2 up, 3 average, 4 Paeth): " + string.Join(", ", filtered.SelectMany(f => Enumerable.Range(0, Size).Select(y => f[y * Stride])).GroupBy(b => b).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}")));
            Console.WriteLine($"compressed IDAT data: {bytes.Average(b => b.Length) / 1024:F0} KB per file on average, for {Total / 1024} KB of rows");
            var scratch = new byte[Total];
            var normalize = new NormalizeTransform(preprocessing.Mean, preprocessing.Std, preprocessing.PixelScale, preprocessing.ChannelOrder);
            var evaluation = Transforms.ForEvaluation(preprocessing);
            int plane = preprocessing.Channels * crop * crop;
            var batch = new float[plane];
            Action<int> read = i => ArrayPool<byte>.Shared.Return(ImageDecoder.ReadFile(files[i], out _));
            Action<int> copy512 = i => filtered[i].AsSpan().CopyTo(scratch);
            Action<int> inflate = i => GrayPngDecoder.Inflate(GrayPngDecoder.FindImageData(bytes[i], bytes[i].Length)!, scratch, Total);
            Action<int> Unfilter(bool baseline) => i =>
            {
                filtered[i].AsSpan().CopyTo(scratch);
                if (baseline)
                {
                    Baseline.Unfilter(scratch, Size, Size * 2, 2);
                }
                else
                {
                    GrayPngDecoder.Unfilter(scratch, Size, Size * 2, 2);
                }
            };
            Action<int> cloneCrop = i => cropped[i].Clone().Dispose();
            Action<int> toBatch = i => normalized[i].Pixels.CopyTo(batch);
            Action<int> clone512 = i => decoded[i].Clone().Dispose();
            return new List<(string, Action<int>?, Action<int>?, int, bool, string?)>
            {
                ("* read the file (pooled buffer)", read, read, 8, true, null),
                ("* PNG inflate (zlib)", inflate, inflate, 2, true, null),
                ("  copy 512 KB of rows (subtracted from the next row in the sum)", copy512, copy512, 8, false, null),
                ("* unfilter rows (with the 512 KB copy)", Unfilter(true), Unfilter(false), 2, true, Copy512),
                ("* 16-bit samples to floats", i => ToFloats(i, true), i => ToFloats(i, false), 4, true, null),
                ("* resize 512 to 256 (antialiased bilinear; now only the 224x224 the crop keeps)", i => Baseline.Resize(decoded[i], rw, rh).Dispose(), i => Resampler.ResizeWindow(decoded[i], 0, 0, Size, Size, rw, rh, left, top, crop, crop).Dispose(), 2, true, null),
                ("* center crop 224", i => Baseline.Crop(resized[i], left, top, crop, crop).Dispose(), null, 8, true, null),
                ("  clone the 224x224 crop (subtracted from the next row in the sum)", cloneCrop, cloneCrop, 8, false, null),
                ("* normalise to 3 planes (with the clone)", i => Baseline.Normalize(cropped[i].Clone(), preprocessing).Dispose(), i =>
                {
                    var random = SampleRandom.For(0, 0, 0);
                    normalize.Apply(cropped[i].Clone(), ref random).Dispose();
                }, 8, true, CloneCrop),
                ("* copy into the batch buffer", toBatch, toBatch, 8, true, null),
                ("  clone the decoded 512x512 image (included in the next row)", clone512, clone512, 4, false, null),
                ("  evaluation transform: resize, crop, normalise (with the clone)", i => Baseline.Evaluate(decoded[i].Clone(), preprocessing).Dispose(), i =>
                {
                    var random = SampleRandom.For(0, 0, 0);
                    evaluation.Apply(decoded[i].Clone(), ref random).ToChannels(preprocessing.Channels).Dispose();
                }, 2, false, null),
                ("  whole per-image path: read, decode, transform, copy into the batch", i =>
                {
                    using FloatImage image = BaselinePath(files[i], preprocessing);
                    image.Pixels.CopyTo(batch);
                }, i =>
                {
                    using FloatImage image = NowPath(files[i], evaluation, preprocessing.Channels);
                    image.Pixels.CopyTo(batch);
                }, 2, false, null),
            };

            void ToFloats(int i, bool baseline)
            {
                var image = FloatImage.Rent(1, Size, Size, 65535f);
                if (baseline)
                {
                    Baseline.ToFloats16(unfiltered[i], Size, Size, ImageDecoder.Scale16, image.Buffer);
                }
                else
                {
                    GrayPngDecoder.ToFloats(unfiltered[i], Size, Size, 16, ImageDecoder.Scale8, ImageDecoder.Scale16, image.Buffer);
                }

                image.Dispose();
            }
        }

        /// <summary>The per-image path as PredictionEngine runs it: the one decoder, the evaluation transform, the model's channels.</summary>
        private static FloatImage NowPath(string file, ImageTransform evaluation, int channels)
        {
            var random = SampleRandom.For(0, 0, 0);
            return evaluation.Apply(ImageDecoder.Decode(file, ImageLoadOptions.Default), ref random).ToChannels(channels);
        }

        /// <summary>The same path through the frozen copy of the stages (a non-interlaced 16-bit gray PNG without eXIf).</summary>
        private static FloatImage BaselinePath(string file, Preprocessing preprocessing)
        {
            byte[] bytes = ImageDecoder.ReadFile(file, out int length);
            byte[] raw = ArrayPool<byte>.Shared.Rent(512 * 1025);
            try
            {
                if (!GrayPngDecoder.IsFastGray(bytes.AsSpan(0, length), out int w, out int h, out int depth) || depth != 16)
                {
                    throw new InvalidOperationException(file + " is not a 16-bit gray PNG.");
                }

                int total = h * ((2 * w) + 1);
                GrayPngDecoder.Inflate(GrayPngDecoder.FindImageData(bytes, length)!, raw, total);
                Baseline.Unfilter(raw, h, 2 * w, 2);
                FloatImage image = FloatImage.Rent(1, w, h, 65535f);
                Baseline.ToFloats16(raw, w, h, ImageDecoder.Scale16, image.Buffer);
                return Baseline.Evaluate(image, preprocessing);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(raw);
                ArrayPool<byte>.Shared.Return(bytes);
            }
        }

        /// <summary>Whether the pipeline now gives the same tensors, bit for bit, as the frozen copy on every image.</summary>
        private static string Identical(string[] files, Preprocessing preprocessing)
        {
            var evaluation = Transforms.ForEvaluation(preprocessing);
            int differing = 0;
            foreach (string file in files)
            {
                using FloatImage a = BaselinePath(file, preprocessing);
                using FloatImage b = NowPath(file, evaluation, preprocessing.Channels);
                if (!MemoryMarshal.AsBytes(a.Pixels).SequenceEqual(MemoryMarshal.AsBytes(b.Pixels)))
                {
                    differing++;
                }
            }

            if (differing > 0)
            {
                throw new InvalidOperationException($"{differing} of {files.Length} prepared images differ from the frozen copy's.");
            }

            return $"prepared tensors: bit-identical to the frozen copy's on all {files.Length} images";
        }

        /// <summary>Process CPU milliseconds per image for <paramref name="repeat"/> passes over the images on this thread.</summary>
        private static double Measure(Action<int> run, int count, int repeat)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var process = Process.GetCurrentProcess();
            process.Refresh();
            TimeSpan before = process.TotalProcessorTime;
            for (int r = 0; r < repeat; r++)
            {
                for (int i = 0; i < count; i++)
                {
                    run(i);
                }
            }

            process.Refresh();
            return (process.TotalProcessorTime - before).TotalMilliseconds / (count * repeat);
        }

        private static double FolderCpu(IImageClassifier classifier, string folder, int workers, int count)
        {
            GC.Collect();
            var process = Process.GetCurrentProcess();
            process.Refresh();
            TimeSpan before = process.TotalProcessorTime;
            int n = 0;
            Task.Run(async () =>
            {
                await foreach (var p in classifier.PredictFolder(folder, new ImagePredictionOptions { BatchSize = 16, Workers = workers }))
                {
                    n += p.Succeeded ? 1 : 0;
                }
            }).GetAwaiter().GetResult();
            process.Refresh();
            if (n != count)
            {
                throw new InvalidOperationException($"PredictFolder predicted {n} of {count} images.");
            }

            return (process.TotalProcessorTime - before).TotalMilliseconds / count;
        }

        private static double MeasureOrSkip(Action<int>? run, int count, int repeat) => run is null ? double.NaN : Measure(run, count, repeat);

        private static string Cell(Action<int>? run, List<double> values) => run is null && values.All(double.IsNaN)
            ? "part of the resize"
            : string.Format(CultureInfo.InvariantCulture, "{0:F2} ({1:F2}-{2:F2})", Median(values), values.Min(), values.Max());

        private static double Median(List<double> values)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
    }
}
