using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Data.Dicom;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MedicalTransfer.Benchmarks
{
    /// <summary>
    /// Decoding a 2048x2048 16-bit chest phantom on one thread: as uncompressed DICOM (the same 16-bit
    /// values as MONOCHROME2 without transforms; and as the synthetic DX file, 12 bits stored,
    /// MONOCHROME1, rescale and window) and as a 16-bit PNG, through the SDK's one decoder (file to
    /// float pixels in [0, 1]). bench_dicom_pydicom.py times pydicom on the same files. Usage:
    ///   nice -n 10 dotnet run -c Release --project tests/MedicalTransfer.Benchmarks -- --dicom [--data DIR] [--repeat 30]
    /// </summary>
    internal static class DicomBenchmark
    {
        private const int Size = 2048;

        public static int Run(string folder, int repeat)
        {
            Directory.CreateDirectory(folder);
            string dicom16 = Path.Combine(folder, "phantom2048_mono2_16bit.dcm");
            string dx12 = Path.Combine(folder, "phantom2048_dx_12bit_mono1.dcm");
            string png16 = Path.Combine(folder, "phantom2048_16bit.png");
            if (!File.Exists(dicom16) || !File.Exists(dx12) || !File.Exists(png16))
            {
                Write(dicom16, dx12, png16);
            }

            Console.WriteLine(Cpu());
            Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} logical cores, one decoding thread; {Rounds} rounds of {repeat} decodes per file, files taking turns, median per-image CPU time; 60 warm-up decodes per file; files in the page cache.");
            var files = new[] { ("DICOM, 16-bit MONOCHROME2, Explicit VR LE", dicom16), ("DICOM, 12 of 16 bits, MONOCHROME1, rescale + window", dx12), ("PNG, 16-bit gray", png16) };
            foreach ((string _, string path) in files)
            {
                // Long enough for tiered compilation to reach its optimised code (a loader decodes thousands).
                for (int i = 0; i < 60; i++)
                {
                    ImageDecoder.Decode(path, ImageLoadOptions.Default).Dispose();
                }
            }

            var cpu = files.Select(_ => new List<double>()).ToArray();
            var wall = files.Select(_ => new List<double>()).ToArray();
            var read = new List<double>();
            for (int round = 0; round < Rounds; round++)
            {
                for (int f = 0; f < files.Length; f++)
                {
                    (double w, double c) = Time(() => ImageDecoder.Decode(files[f].Item2, ImageLoadOptions.Default).Dispose(), repeat);
                    wall[f].Add(w);
                    cpu[f].Add(c);
                }

                read.Add(Time(() => ReadFile(dicom16), repeat).CpuMs);
            }

            Console.WriteLine();
            Console.WriteLine("| file (2048x2048) | bytes | ms per image (wall, median) | ms per image (CPU, median) | images per CPU-second |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            for (int f = 0; f < files.Length; f++)
            {
                double c = Median(cpu[f]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| SDK: {files[f].Item1} | {new FileInfo(files[f].Item2).Length:N0} | {Median(wall[f]):F1} | {c:F1} | {1000 / c:F0} |"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| (of which reading the 8 MB DICOM file into memory) | | | {Median(read):F1} | |"));
            Console.WriteLine();
            Console.WriteLine("pydicom on the same files: nice -n 10 /usr/bin/python3 tests/MedicalTransfer.Benchmarks/bench_dicom_pydicom.py " + dicom16 + " " + dx12);
            return 0;
        }

        private const int Rounds = 7;

        private static (double WallMs, double CpuMs) Time(Action decode, int repeat)
        {
            // The thread's CPU time is not exposed portably; the process's is, and nothing else runs in it.
            GC.Collect();
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            for (int i = 0; i < repeat; i++)
            {
                decode();
            }

            wall.Stop();
            double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
            return (wall.Elapsed.TotalMilliseconds / repeat, cpuMs / repeat);
        }

        private static void ReadFile(string path)
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)file.Length);
            file.ReadExactly(buffer, 0, (int)file.Length);
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        private static double Median(List<double> values)
        {
            double[] sorted = values.OrderBy(v => v).ToArray();
            return sorted[sorted.Length / 2];
        }

        private static void Write(string dicom16, string dx12, string png16)
        {
            var pixels = new float[Size * Size];
            SyntheticChestXRay.Render(pixels, Size, 1, 0, 0, positive: true);
            byte[] samples = new byte[Size * Size * 2];
            using var png = new Image<L16>(Size, Size);
            for (int y = 0; y < Size; y++)
            {
                for (int x = 0; x < Size; x++)
                {
                    ushort v = (ushort)Math.Round(pixels[(y * Size) + x] * 65535.0);
                    png[x, y] = new L16(v);
                    samples[2 * ((y * Size) + x)] = (byte)v;
                    samples[(2 * ((y * Size) + x)) + 1] = (byte)(v >> 8);
                }
            }

            png.SaveAsPng(png16, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
            byte[] file = new DicomWriter("1.2.840.10008.5.1.4.1.1.7", "2.25.20482048")
                .Text(DicomTags.Modality, "CS", "OT")
                .UShort(DicomTags.SamplesPerPixel, 1)
                .Text(DicomTags.PhotometricInterpretation, "CS", "MONOCHROME2")
                .UShort(DicomTags.Rows, Size)
                .UShort(DicomTags.Columns, Size)
                .UShort(DicomTags.BitsAllocated, 16)
                .UShort(DicomTags.BitsStored, 16)
                .UShort(DicomTags.HighBit, 15)
                .UShort(DicomTags.PixelRepresentation, 0)
                .PixelData(samples, words: true)
                .ToBytes();
            File.WriteAllBytes(dicom16, file);
            SyntheticDicom.Write(pixels, Size, dx12, 1, 1, 0);
        }

        internal static string Cpu()
        {
            try
            {
                var start = new ProcessStartInfo("lscpu") { RedirectStandardOutput = true };
                using var process = Process.Start(start)!;
                string[] lines = process.StandardOutput.ReadToEnd().Split('\n');
                process.WaitForExit();
                return string.Join(Environment.NewLine, lines.Where(l => l.StartsWith("Model name", StringComparison.Ordinal) || l.StartsWith("Flags", StringComparison.Ordinal)).Select(l => "lscpu " + string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return "lscpu not available";
            }
        }
    }
}
