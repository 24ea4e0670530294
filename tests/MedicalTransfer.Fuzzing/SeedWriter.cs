using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace MedicalTransfer.Fuzzing
{
    /// <summary>
    /// Writes the seed inputs that need the SDK or ImageSharp to make (valid files of each format, small);
    /// make_seeds.py writes the PyTorch and ONNX ones, and the existing hostile fixtures are copied in.
    /// Seeds are deterministic, so re-running this changes no committed file.
    /// </summary>
    internal static class SeedWriter
    {
        internal static readonly ResNetArchitecture CheckpointArchitecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);

        internal static readonly string[] Classes = { "NORMAL", "PNEUMONIA" };

        public static void WriteAll(string repositoryRoot)
        {
            string corpus = Path.Combine(repositoryRoot, "tests", "MedicalTransfer.Fuzzing", "corpus");
            Images(Path.Combine(corpus, "png-gray"), Path.Combine(corpus, "image"));
            Safetensors(Path.Combine(corpus, "safetensors"));
            StateDictFixtures(Path.Combine(repositoryRoot, "tests", "MedicalTransfer.Tests", "Fixtures", "StateDicts"), Path.Combine(corpus, "pytorch-zip"), Path.Combine(corpus, "pickle"));
            ModelFiles(Path.Combine(corpus, "model-file"));
            Checkpoints(Path.Combine(corpus, "training-checkpoint"));
        }

        internal static TransferModel BuildModel(ResNetArchitecture architecture, HeadSpec head) =>
            TransferBuilder.FromResNet(architecture).WithHead(head).ForClasses(Classes).OnDevice(torch.CPU).WithSeed(1).Build();

        private static void Images(string gray, string image)
        {
            Directory.CreateDirectory(gray);
            Directory.CreateDirectory(image);
            var random = new Random(18);

            Image<L8> Gray8(int w, int h, bool noise) => Fill(new Image<L8>(w, h), (x, y) => new L8((byte)(noise ? random.Next(256) : (x * 16) + y)));
            Image<L16> Gray16(int w, int h) => Fill(new Image<L16>(w, h), (x, y) => new L16((ushort)random.Next(65536)));
            Image<Rgb24> Rgb(int w, int h) => Fill(new Image<Rgb24>(w, h), (x, y) => new Rgb24((byte)(x * 9), (byte)(y * 7), (byte)random.Next(256)));

            var adaptive = new PngEncoder { FilterMethod = PngFilterMethod.Adaptive, ColorType = PngColorType.Grayscale };
            Save(Path.Combine(gray, "seed-gray8-gradient.png"), Gray8(16, 16, false), new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
            Save(Path.Combine(gray, "seed-gray8-noise-adaptive.png"), Gray8(13, 9, true), adaptive);
            Save(Path.Combine(gray, "seed-gray16-paeth.png"), Gray16(9, 7), new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, FilterMethod = PngFilterMethod.Paeth });
            Save(Path.Combine(gray, "seed-gray16-adaptive.png"), Gray16(17, 5), new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, FilterMethod = PngFilterMethod.Adaptive });

            // At least eight Paeth rows of a 16-bit image: the AVX2 wavefront that unfilters eight rows together, and the
            // rows after the last full group of eight (19 rows = two groups and three; 11 columns, odd). Its own
            // generator, so the seeds above keep their bytes.
            var wavefront = new Random(19);
            Image<L16> Noise16(int w, int h) => Fill(new Image<L16>(w, h), (x, y) => new L16((ushort)wavefront.Next(65536)));
            Save(Path.Combine(gray, "seed-gray16-paeth-wavefront.png"), Noise16(11, 19), new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, FilterMethod = PngFilterMethod.Paeth });
            Save(Path.Combine(gray, "seed-gray16-adaptive-tall.png"), Noise16(5, 33), new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, FilterMethod = PngFilterMethod.Adaptive });
            using (Image<L8> rotated = Gray8(6, 4, true))
            {
                rotated.Metadata.ExifProfile = new ExifProfile();
                rotated.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
                Save(Path.Combine(gray, "seed-gray8-exif.png"), rotated, new PngEncoder { ColorType = PngColorType.Grayscale });
            }

            Save(Path.Combine(image, "seed-rgb24.png"), Rgb(11, 7), new PngEncoder { ColorType = PngColorType.Rgb });
            Save(Path.Combine(image, "seed-rgb48.png"), Fill(new Image<Rgb48>(5, 4), (x, y) => new Rgb48((ushort)random.Next(65536), (ushort)(x * 999), (ushort)(y * 777))), new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });
            Save(Path.Combine(image, "seed-palette.png"), Rgb(8, 8), new PngEncoder { ColorType = PngColorType.Palette });
            Save(Path.Combine(image, "seed-gray-interlaced.png"), Gray8(9, 9, true), new PngEncoder { ColorType = PngColorType.Grayscale, InterlaceMethod = PngInterlaceMode.Adam7 });
            Save(Path.Combine(image, "seed-gray-alpha.png"), Fill(new Image<La16>(6, 5), (x, y) => new La16((byte)random.Next(256), (byte)(x * 40))), new PngEncoder { ColorType = PngColorType.GrayscaleWithAlpha });
            Save(Path.Combine(image, "seed-color.jpg"), Rgb(16, 16), new JpegEncoder { Quality = 75 });
            Save(Path.Combine(image, "seed-gray.jpg"), Gray8(16, 8, true), new JpegEncoder { Quality = 90, ColorType = JpegColorType.Luminance });
            using (Image<Rgb24> rotated = Rgb(8, 16))
            {
                rotated.Metadata.ExifProfile = new ExifProfile();
                rotated.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
                Save(Path.Combine(image, "seed-exif-rotated.jpg"), rotated, new JpegEncoder { Quality = 60 });
            }

            Save(Path.Combine(image, "seed-24bit.bmp"), Rgb(7, 5), new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 });
            Save(Path.Combine(image, "seed-8bit.bmp"), Rgb(6, 6), new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel8 });
            Save(Path.Combine(image, "seed-32bit.bmp"), Rgb(4, 3), new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel32 });
        }

        private static Image<T> Fill<T>(Image<T> image, Func<int, int, T> pixel)
            where T : unmanaged, IPixel<T>
        {
            for (int y = 0; y < image.Height; y++)
            {
                for (int x = 0; x < image.Width; x++)
                {
                    image[x, y] = pixel(x, y);
                }
            }

            return image;
        }

        private static void Save<T>(string path, Image<T> image, SixLabors.ImageSharp.Formats.IImageEncoder encoder)
            where T : unmanaged, IPixel<T>
        {
            using (image)
            {
                image.Save(path, encoder);
            }
        }

        private static void Safetensors(string folder)
        {
            Directory.CreateDirectory(folder);
            using var scope = torch.NewDisposeScope();
            var f32 = torch.arange(12, dtype: torch.ScalarType.Float32).reshape(3, 4);
            Write(Path.Combine(folder, "seed-f32.safetensors"), new() { ["weight"] = f32, ["bias"] = torch.ones(4) }, new() { ["format"] = "pt" });
            Write(Path.Combine(folder, "seed-dtypes.safetensors"), new()
            {
                ["f16"] = f32.to_type(torch.ScalarType.Float16),
                ["bf16"] = f32.to_type(torch.ScalarType.BFloat16),
                ["f64"] = torch.ones(2, dtype: torch.ScalarType.Float64),
                ["i64"] = torch.arange(3, dtype: torch.ScalarType.Int64),
                ["i32"] = torch.arange(2, dtype: torch.ScalarType.Int32),
                ["i16"] = torch.arange(2, dtype: torch.ScalarType.Int16),
                ["i8"] = torch.arange(2, dtype: torch.ScalarType.Int8),
                ["u8"] = torch.arange(5, dtype: torch.ScalarType.Byte),
                ["flag"] = torch.tensor(new[] { true, false, true }),
            }, null);
            Write(Path.Combine(folder, "seed-scalar-and-empty.safetensors"), new() { ["scalar"] = torch.tensor(3.5f), ["empty"] = torch.zeros(0, 4) }, new() { ["note"] = "an empty tensor and a 0-d one" });
            Write(Path.Combine(folder, "seed-no-tensors.safetensors"), new(), new() { ["only"] = "metadata" });
        }

        private static void Write(string path, Dictionary<string, torch.Tensor> tensors, Dictionary<string, string>? metadata) =>
            StateDictFile.WriteSafetensors(path, tensors.ToList(), metadata);

        private static void StateDictFixtures(string fixtures, string zips, string pickles)
        {
            Directory.CreateDirectory(zips);
            Directory.CreateDirectory(pickles);
            foreach (string file in Directory.EnumerateFiles(fixtures, "*.pt*").OrderBy(f => f, StringComparer.Ordinal))
            {
                string name = Path.GetFileNameWithoutExtension(file);
                File.Copy(file, Path.Combine(zips, "fixture-" + Path.GetFileName(file)), overwrite: true);
                byte[] bytes = File.ReadAllBytes(file);
                if (bytes.Length < 4 || bytes[0] != 'P' || bytes[1] != 'K')
                {
                    // A legacy or bare pickle: a pickle seed as it is.
                    File.Copy(file, Path.Combine(pickles, "fixture-" + name + ".pkl"), overwrite: true);
                    continue;
                }

                try
                {
                    using var archive = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
                    foreach (ZipArchiveEntry entry in archive.Entries.Where(e => e.FullName.EndsWith(".pkl", StringComparison.Ordinal)))
                    {
                        using Stream s = entry.Open();
                        using var output = File.Create(Path.Combine(pickles, "fixture-" + name + "-" + entry.Name));
                        s.CopyTo(output);
                    }
                }
                catch (InvalidDataException)
                {
                    // The truncated fixture: its zip directory is gone, its pickle with it.
                }
            }
        }

        private static void ModelFiles(string folder)
        {
            Directory.CreateDirectory(folder);
            (string Name, ResNetArchitecture Architecture, HeadSpec Head)[] variants =
            {
                ("seed-basic1111-linear", CheckpointArchitecture, Head.Linear()),
                ("seed-resnet18-mlp-bn", ResNetArchitecture.ForDepth(18), Head.Mlp(32, 0.2, 0.1, true)),
            };
            foreach (var (name, architecture, head) in variants)
            {
                using TransferModel model = BuildModel(architecture, head);
                if (name.Contains("mlp", StringComparison.Ordinal))
                {
                    model.Freeze(Layers.UpTo(2));
                }

                // The real metadata of a saved model, with only a few of its smallest tensors: a complete
                // ResNet file is tens of MB, far above a useful fuzz input. Loading it fails on the
                // missing weights, after the metadata has been parsed and the model built.
                string full = Path.Combine(Path.GetTempPath(), "mt-seed-" + Guid.NewGuid().ToString("N") + ".safetensors");
                try
                {
                    model.Save(full);
                    IReadOnlyDictionary<string, string> metadata = StateDictFile.ReadSafetensorsMetadata(full);
                    using var scope = torch.NewDisposeScope();
                    var small = model.state_dict().Where(kv => kv.Value.NumberOfElements <= 64).Take(6)
                        .ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
                    Write(Path.Combine(folder, name + ".safetensors"), small, metadata.ToDictionary(kv => kv.Key, kv => kv.Value));
                }
                finally
                {
                    File.Delete(full);
                }
            }
        }

        private static void Checkpoints(string folder)
        {
            Directory.CreateDirectory(folder);
            using TransferModel model = BuildModel(CheckpointArchitecture, Head.Linear());
            var json = new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
            var state = new CheckpointState
            {
                EpochsDone = 2,
                Step = 40,
                Optimizer = "adamw",
                OptimizerSteps = new Dictionary<string, long>(StringComparer.Ordinal) { ["0"] = 40 },
                PreviousGradientNorms = new[] { 1.5, 0.25 },
                Callbacks = new string?[] { null, "{\"best\":0.5}" },
                Phases = new[] { "head", "all" },
                History = "{\"epochs\":[]}",
            };
            var metadata = new Dictionary<string, string>
            {
                ["format"] = TrainingCheckpoint.FormatName,
                ["format_version"] = "1",
                ["architecture"] = model.Architecture.ToString(),
                ["classes"] = JsonSerializer.Serialize(model.ClassNames),
                ["head"] = model.Head.Layout,
                ["state"] = JsonSerializer.Serialize(state, json),
            };
            using var scope = torch.NewDisposeScope();
            var tensors = model.state_dict().Where(kv => kv.Value.NumberOfElements <= 64).Take(4)
                .ToDictionary(kv => "model/" + kv.Key, kv => kv.Value.detach().cpu().contiguous());
            tensors["optimizer/0.exp_avg"] = torch.zeros(8);
            Write(Path.Combine(folder, "seed-partial-checkpoint.safetensors"), tensors, metadata);
            tensors["rng/cpu"] = torch.random.get_rng_state();
            Write(Path.Combine(folder, "seed-partial-checkpoint-rng.safetensors"), tensors, metadata);
        }
    }
}
