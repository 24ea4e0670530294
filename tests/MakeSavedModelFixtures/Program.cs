using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using static TorchSharp.torch;

// Writes the saved-model fixtures that prove old model files still load (TransferModelFormatTests.cs):
//   dotnet run --project tests/MakeSavedModelFixtures -- tests/MedicalTransfer.Tests/Fixtures/SavedModels
//
// The committed files were written by this program at the commit that added it, BEFORE TransferModel became
// backbone + head: they are model files of format version 1 as MedicalTransfer 1.0 wrote them. They are history:
// today's code writes a newer format version, so this program refuses to overwrite them (it checks the
// format_version it wrote) and exists to show exactly how they were made.
//
// Each model is a ResNet with one basic block per stage (the smallest the version-1 code could build), weights set by
// a periodic formula (so the 20 MB safetensors file gzips to a few hundred KB), saved with TransferModel.Save, gzipped,
// and described in expected.json: its metadata, SHA-256, what TransferModel.Load reported, and its logits in
// evaluation mode on a fixed input, as float32 bit patterns.
string outDir = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "mt-saved-model-fixtures");
Directory.CreateDirectory(outDir);
var tiny = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);
var cases = new (string Name, Func<TransferModel> Build)[]
{
    ("v1-resnet-basic1111-linear", () => TransferBuilder.FromResNet(tiny)
        .ForClasses("NORMAL", "PNEUMONIA").Freeze(Layers.UpTo(1)).OnDevice(CPU).WithSeed(11).Build()),
    ("v1-resnet-basic1111-mlp", () => TransferBuilder.FromResNet(tiny)
        .WithHead(Head.Mlp(24, 0.5, 0.25, batchNorm: true))
        .ForClasses("A", "B", "C")
        .Freeze(Layers.Only("stem", "layer3.0"), trainBatchNorm: true)
        .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32, Mean = new[] { 0.5f, 0.4f, 0.3f }, Std = new[] { 0.2f, 0.25f, 0.3f } })
        .OnDevice(CPU).WithSeed(12).Build()),
};

var expected = new Dictionary<string, object>();
foreach (var (name, build) in cases)
{
    string file = Path.Combine(outDir, name + ".safetensors");
    using (var model = build())
    {
        FillPeriodic(model);
        model.eval();
        model.Save(file);
    }

    var header = ReadHeader(file);
    var metadata = header.GetProperty("__metadata__");
    if (metadata.GetProperty("format_version").GetString() != "1")
    {
        throw new InvalidOperationException("This code writes format version " + metadata.GetProperty("format_version").GetString() + ", not 1: the committed fixtures are history and must not be regenerated.");
    }

    using var loaded = TransferModel.Load(file, CPU);
    using var scope = NewDisposeScope();
    var logits = loaded.call(Input()).contiguous();
    var values = logits.data<float>().ToArray();
    expected[name] = new
    {
        file = name + ".safetensors.gz",
        sha256 = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file))).ToLowerInvariant(),
        metadata = metadata.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()),
        tensors = header.EnumerateObject().Where(p => p.Name != "__metadata__").Select(p => p.Name).ToArray(),
        classes = loaded.ClassNames,
        head = loaded.Head.Layout,
        freeze = loaded.FreezeSpec.Targets,
        trainBatchNorm = loaded.TrainBatchNorm,
        preprocessing = loaded.Preprocessing.ToString(),
        totalParameters = loaded.Summary().TotalParameters,
        trainableParameters = loaded.Summary().TrainableParameters,
        logitsShape = logits.shape,
        logitsBits = values.Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8", CultureInfo.InvariantCulture)).ToArray(),
        logits = values,
    };

    using (var source = File.OpenRead(file))
    using (var target = File.Create(file + ".gz"))
    using (var gzip = new GZipStream(target, CompressionLevel.SmallestSize))
    {
        source.CopyTo(gzip);
    }

    File.Delete(file);
    Console.WriteLine($"{name}: {new FileInfo(file + ".gz").Length:N0} bytes gzipped");
}

File.WriteAllText(Path.Combine(outDir, "expected.json"), JsonSerializer.Serialize(new { input = "x_j = sin(0.013 j) + 0.5 cos(0.007 j), [2, 3, 32, 32], j the flattened index, computed in float64, rounded to float32", models = expected }, new JsonSerializerOptions { WriteIndented = true }));

// The same input TestSupport.FormulaInput(2, 32) computes.
static Tensor Input()
{
    var j = arange(2 * 3 * 32 * 32, dtype: ScalarType.Float64);
    return (sin(0.013 * j) + 0.5 * cos(0.007 * j)).to(ScalarType.Float32).reshape(2, 3, 32, 32);
}

// For the t-th state-dict entry, q_j = ((7 j + 3 t) mod 17 - 8) / 8 (period 17, so the file compresses), scaled per kind.
static void FillPeriodic(TransferModel model)
{
    using var noGrad = no_grad();
    int t = 0;
    foreach (var (key, tensor) in model.state_dict())
    {
        using var scope = NewDisposeScope();
        long n = tensor.numel();
        var j = arange(n, dtype: ScalarType.Int64);
        var q = ((j * 7 + 3 * t) % 17 - 8).to(ScalarType.Float64) / 8;
        string leaf = key[(key.LastIndexOf('.') + 1)..];
        Tensor v = leaf switch
        {
            "num_batches_tracked" => full(new long[] { 1 }, 5, ScalarType.Float64),
            "running_mean" => 0.1 * q,
            "running_var" => 1 + (0.25 * (q + 1)),
            "bias" => 0.05 * q,
            _ when tensor.dim() == 1 => 1 + (0.2 * q),
            _ => q * Math.Sqrt(3.0 / ((double)n / tensor.shape[0])),
        };
        tensor.copy_(v.reshape(tensor.shape).to(tensor.dtype));
        t++;
    }
}

static JsonElement ReadHeader(string path)
{
    using var stream = File.OpenRead(path);
    var lengthBytes = new byte[8];
    stream.ReadExactly(lengthBytes);
    var json = new byte[BitConverter.ToInt64(lengthBytes)];
    stream.ReadExactly(json);
    using var doc = JsonDocument.Parse(json);
    return doc.RootElement.Clone();
}
