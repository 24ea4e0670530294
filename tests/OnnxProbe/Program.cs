using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;

// Usage: OnnxProbe MODEL.onnx FOLDER
// Prints one line per image, "path<TAB>p0<TAB>p1...<TAB>predicted" (probabilities round-trip exactly), then whether any
// TorchSharp or libtorch native library is mapped into this process.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: OnnxProbe MODEL.onnx FOLDER");
    return 2;
}

using var classifier = OnnxImageClassifier.Load(args[0], new OnnxClassifierOptions { Threads = 1 });
await foreach (var p in classifier.PredictFolder(args[1], new ImagePredictionOptions { BatchSize = 4 }))
{
    Console.WriteLine(string.Join('\t', new[] { p.Source }.Concat(p.Probabilities.Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append(p.PredictedClass ?? "error: " + p.Error)));
}

var mapped = File.ReadAllLines("/proc/self/maps").Where(l => l.Contains("libtorch", StringComparison.OrdinalIgnoreCase) || l.Contains("LibTorchSharp", StringComparison.Ordinal)).ToArray();
Console.WriteLine("TORCH_NATIVE_MAPPED=" + (mapped.Length > 0 ? string.Join(" | ", mapped.Select(l => l.Split(' ').Last()).Distinct()) : "none"));
Console.WriteLine("ONNXRUNTIME_MAPPED=" + File.ReadAllLines("/proc/self/maps").Any(l => l.Contains("libonnxruntime", StringComparison.Ordinal)));
return 0;
