using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;

namespace GradCamExplorer
{
    /// <summary>One run: the model (loaded, or the demo's trained), the overlays and index.html.</summary>
    internal sealed class Explorer
    {
        private const int ChunkSize = 16;
        private readonly ExplorerSettings _settings;

        public Explorer(ExplorerSettings settings) => _settings = settings;

        /// <summary>One explained image, for the index page.</summary>
        private sealed record Entry(string RelativePath, string Overlay, string Predicted, double Probability, IReadOnlyList<(string Name, double Probability)> Classes);

        public int Execute(CancellationToken cancellationToken)
        {
            var watch = Stopwatch.StartNew();
            Directory.CreateDirectory(_settings.Output);
            // Owned from the moment it exists: listing the images can still fail after the model is loaded or trained.
            TransferModel? model = null;
            try
            {
                string imageRoot;
                IReadOnlyList<string> files;
                if (_settings.Model is string path)
                {
                    model = TransferModel.Load(path);
                    imageRoot = _settings.Images!;
                    files = ExplorerSettings.ImageFiles(imageRoot);
                    Console.WriteLine($"Model: {path} ({model.Architecture.Name}, classes {string.Join(", ", model.ClassNames)})");
                }
                else
                {
                    (model, imageRoot, files) = TrainDemoModel(cancellationToken);
                    if (_settings.Images is string folder)
                    {
                        imageRoot = folder;
                        files = ExplorerSettings.ImageFiles(folder);
                    }
                }

                var method = ExplorerSettings.CreateMethod(_settings.Method, _settings.Layer);
                Console.WriteLine($"Explaining {files.Count} images from {imageRoot} with {method.Name} on {method.Layer} ...");
                var entries = Explain(model, method, imageRoot, files, cancellationToken);
                string index = Path.Combine(_settings.Output, "index.html");
                MedicalTransfer.Samples.SampleFiles.WriteAllText(index, IndexPage(model, method, imageRoot, entries));
                Console.WriteLine($"Done in {watch.Elapsed.TotalSeconds:F0} s: {entries.Count} overlays and {index}");
                return 0;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("Stopped.");
                return 130;
            }
            catch (ArgumentException ex) when (ex.ParamName == "layer")
            {
                // The layer's syntax was fine but this model has no such block (for example layer4.5 of a ResNet-18).
                Console.Error.WriteLine("error: --layer: " + ex.Message);
                return 2;
            }
            catch (MedicalTransferException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return 1;
            }
            finally
            {
                model?.Dispose();
            }
        }

        private List<Entry> Explain(TransferModel model, ClassActivationMap method, string imageRoot, IReadOnlyList<string> files, CancellationToken cancellationToken)
        {
            var entries = new List<Entry>(files.Count);
            var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "index.html" };
            for (int start = 0; start < files.Count; start += ChunkSize)
            {
                var chunk = files.Skip(start).Take(ChunkSize).ToArray();
                var explanations = method.Explain(model, chunk, cancellationToken: cancellationToken);
                for (int k = 0; k < chunk.Length; k++)
                {
                    var e = explanations[k];
                    string relative = Path.GetRelativePath(imageRoot, chunk[k]).Replace(Path.DirectorySeparatorChar, '/');
                    string overlay = OverlayName(relative, used);
                    HeatmapOverlay.Save(chunk[k], e, model.Preprocessing, Path.Combine(_settings.Output, overlay));
                    var classes = model.ClassNames.Select((name, c) => (name, e.Probabilities[c])).ToArray();
                    entries.Add(new Entry(relative, overlay, e.PredictedClassName, e.Probabilities[e.PredictedClass], classes));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {relative}: {e.PredictedClassName} {e.Probabilities[e.PredictedClass]:0.000} -> {overlay}"));
                }
            }

            return entries;
        }

        /// <summary>A flat, unique file name for an image's overlay: folders become '_', odd characters '-'.</summary>
        private static string OverlayName(string relative, HashSet<string> used)
        {
            string stem = Path.ChangeExtension(relative, null) ?? relative;
            var name = new StringBuilder(stem.Length);
            foreach (char c in stem)
            {
                name.Append(c == '/' ? '_' : char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-');
            }

            string candidate = name + ".cam.png";
            for (int n = 2; !used.Add(candidate); n++)
            {
                candidate = string.Create(CultureInfo.InvariantCulture, $"{name}-{n}.cam.png");
            }

            return candidate;
        }

        private static string IndexPage(TransferModel model, ClassActivationMap method, string imageRoot, IReadOnlyList<Entry> entries)
        {
            static string H(string text) => WebUtility.HtmlEncode(text);
            var html = new StringBuilder();
            html.AppendLine("<!DOCTYPE html>");
            html.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Grad-CAM explorer</title>");
            html.AppendLine("<style>body{font-family:sans-serif;margin:1.5em;background:#fafafa}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:1em}"
                + "figure{margin:0;background:#fff;border:1px solid #ddd;padding:.5em}figure img{width:100%;height:auto;image-rendering:auto}"
                + "figcaption{font-size:.85em;word-break:break-all}.pred{font-weight:bold}.probs{color:#555}</style></head><body>");
            html.AppendLine($"<h1>{H(method.Name)} on {H(method.Layer ?? model.Architecture.DefaultCamStage)}</h1>");
            html.AppendLine(string.Create(CultureInfo.InvariantCulture, $"<p>{entries.Count} images from <code>{H(imageRoot)}</code>; model {H(model.Architecture.Name)}, classes {H(string.Join(", ", model.ClassNames))}. Each overlay shows where the evidence for the predicted class lies (red = strong); the area outside the model's center crop is dimmed.</p>"));
            html.AppendLine("<div class=\"grid\">");
            foreach (var e in entries)
            {
                string probabilities = string.Join(", ", e.Classes.Select(c => string.Create(CultureInfo.InvariantCulture, $"{H(c.Name)} {c.Probability:0.000}")));
                html.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"<figure><a href=\"{H(Uri.EscapeDataString(e.Overlay))}\"><img src=\"{H(Uri.EscapeDataString(e.Overlay))}\" alt=\"{H(e.RelativePath)}\" loading=\"lazy\"></a>"
                    + $"<figcaption>{H(e.RelativePath)}<br><span class=\"pred\">{H(e.Predicted)} {e.Probability:0.000}</span><br><span class=\"probs\">{probabilities}</span></figcaption></figure>"));
            }

            html.AppendLine("</div></body></html>");
            return html.ToString();
        }

        /// <summary>
        /// The no-argument demo: synthetic chest phantoms, an ImageNet ResNet-18 (ONNX, no network) with a
        /// frozen backbone and a linear head trained for a few epochs; returns the held-out test images.
        /// </summary>
        private (TransferModel Model, string Root, IReadOnlyList<string> Files) TrainDemoModel(CancellationToken cancellationToken)
        {
            const int Count = 160, Size = 112;
            string cache = Path.Combine(Path.GetTempPath(), "medicaltransfer-samples", string.Create(CultureInfo.InvariantCulture, $"gradcam-phantoms-{Count}-seed{_settings.Seed}"));
            if (!File.Exists(Path.Combine(cache, ".complete")))
            {
                string temp = cache + ".partial-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
                SyntheticChestXRay.WriteImageFolder(temp, new SyntheticChestXRayOptions { Count = Count, Seed = _settings.Seed, Size = 128 });
                File.WriteAllText(Path.Combine(temp, ".complete"), "ok");
                if (Directory.Exists(cache))
                {
                    Directory.Delete(cache, recursive: true);
                }

                Directory.Move(temp, cache);
            }

            Console.WriteLine($"No --model given: training a tiny demo model (ImageNet ResNet-18, frozen backbone, linear head) on {Count} synthetic chest phantoms in {cache} ...");
            var splits = ImageFolder.Load(cache).Split(new SplitOptions { Seed = _settings.Seed });
            var onnx = ResNetWeights.MLNetResNet18.Preprocessing;
            var preprocessing = new Preprocessing
            {
                Mean = onnx.Mean,
                Std = onnx.Std,
                ChannelOrder = onnx.ChannelOrder,
                PixelScale = onnx.PixelScale,
                CropSize = Size,
                ResizeSize = Size * onnx.ResizeSize / onnx.CropSize,
            };
            var model = TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18)
                .WithHead(Head.Linear())
                .Freeze(Layers.All)
                .WithPreprocessing(preprocessing)
                .ForClasses(splits.Train.Classes.ToArray())
                .WithSeed(_settings.Seed)
                .Build(cancellationToken);
            try
            {
                var loader = new LoaderOptions { BatchSize = 16, Seed = _settings.Seed, Device = model.Device, CacheShorterSide = preprocessing.ResizeSize };
                // No augmentation, so that the frozen backbone's features can be computed once and reused every epoch.
                using var train = new DataLoader(splits.Train, Transforms.ForEvaluation(preprocessing), loader);
                using var validation = new DataLoader(splits.Validation, Transforms.ForEvaluation(preprocessing), loader with { Sampling = SamplingMode.Sequential });
                model.Fit(train, validation, new TrainingOptions
                {
                    Epochs = 15,
                    LearningRate = 3e-3,
                    CacheFrozenFeatures = true,
                    ClassWeights = splits.Train.Statistics.InverseFrequencyWeights,
                    Seed = _settings.Seed,
                    Progress = new EpochLines(),
                }, cancellationToken);
                string saved = Path.Combine(_settings.Output, "model.safetensors");
                model.Save(saved);
                Console.WriteLine($"Demo model saved to {saved} (explain other images with --model \"{saved}\" --images <folder>).");
                return (model, cache, splits.Test.Samples.Select(s => s.Path).OrderBy(p => p, StringComparer.Ordinal).ToArray());
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }

        /// <summary>One plain line per epoch.</summary>
        private sealed class EpochLines : IProgress<TrainingProgress>
        {
            public void Report(TrainingProgress value)
            {
                if (value.Kind == TrainingProgressKind.Epoch && value.EpochRecord is { } e)
                {
                    Console.WriteLine(FormattableString.Invariant(
                        $"  epoch {value.Epoch}/{value.TotalEpochs}: train loss {e.TrainLoss:F3} acc {e.TrainAccuracy:P0} | val loss {e.ValidationLoss:F3} acc {e.ValidationAccuracy:P0} auc {e.ValidationAuc:F3}"));
                }
            }
        }
    }
}
