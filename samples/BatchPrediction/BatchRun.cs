using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MedicalTransfer;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;
using Spectre.Console;

namespace BatchPrediction
{
    /// <summary>One run: load the model, list the images, skip those already in the CSV, classify the rest in order.</summary>
    internal sealed class BatchRun
    {
        private readonly BatchSettings _settings;

        public BatchRun(BatchSettings settings) => _settings = settings;

        public async Task<int> ExecuteAsync(CancellationToken cancellationToken)
        {
            IDisposable? owner = null;
            IImageClassifier classifier;
            if (_settings.IsOnnx)
            {
                var onnx = OnnxImageClassifier.Load(_settings.Model, new OnnxClassifierOptions { Threads = _settings.Threads });
                (owner, classifier) = (onnx, onnx);
            }
            else
            {
                var model = TransferModel.Load(_settings.Model);
                (owner, classifier) = (model, model.AsClassifier());
            }

            using (owner)
            {
                var all = ImageClassifierExtensions.ImageFiles(_settings.Images);
                PredictionCsv csv;
                int already = 0;
                try
                {
                    if (_settings.Resume && System.IO.File.Exists(_settings.Output))
                    {
                        csv = PredictionCsv.OpenForResume(_settings.Output, _settings.Images, classifier.ClassNames, out var done);
                        already = done.Count;
                        all = all.Where(f => !done.Contains(csv.RelativePath(f))).ToArray();
                    }
                    else
                    {
                        csv = PredictionCsv.Create(_settings.Output, _settings.Images, classifier.ClassNames);
                    }
                }
                catch (ArgumentException ex)
                {
                    Console.Error.WriteLine("error: " + ex.Message);
                    return 2;
                }

                using (csv)
                {
                    Console.WriteLine($"{classifier.ClassNames.Count} classes ({string.Join(", ", classifier.ClassNames)}); {all.Count} images to classify under {_settings.Images}{(already > 0 ? $" ({already} already in {_settings.Output})" : string.Empty)}.");
                    var progress = new ProgressPrinter(!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive);
                    var options = new ImagePredictionOptions { BatchSize = _settings.BatchSize, Workers = _settings.Workers, Progress = progress };
                    int failed = 0, written = 0;
                    try
                    {
                        await progress.RunAsync(all.Count, async () =>
                        {
                            await foreach (var p in classifier.PredictFolder(all, options, cancellationToken))
                            {
                                csv.Write(p);
                                failed += p.Succeeded ? 0 : 1;
                                if (++written % _settings.BatchSize == 0)
                                {
                                    csv.Flush();
                                }
                            }
                        });
                    }
                    catch (OperationCanceledException)
                    {
                        csv.Flush();
                        Console.Error.WriteLine($"cancelled after {written} images; run again with --resume to continue.");
                        return 130;
                    }

                    csv.Flush();
                    Console.WriteLine($"wrote {written} rows ({failed} unreadable) to {_settings.Output}.");
                    return 0;
                }
            }
        }

        /// <summary>A progress bar with images/s and the remaining time when the console is interactive; a line every few seconds otherwise.</summary>
        private sealed class ProgressPrinter : IProgress<PredictionProgress>
        {
            private readonly bool _interactive;
            private readonly Stopwatch _sincePrinted = Stopwatch.StartNew();
            private ProgressTask? _task;

            public ProgressPrinter(bool interactive) => _interactive = interactive;

            public async Task RunAsync(int total, Func<Task> work)
            {
                if (!_interactive)
                {
                    await work();
                    return;
                }

                await AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .StartAsync(async context =>
                    {
                        _task = context.AddTask("classifying", maxValue: Math.Max(1, total));
                        await work();
                        _task.Value = _task.MaxValue;
                    });
            }

            public void Report(PredictionProgress value)
            {
                string text = string.Format(CultureInfo.InvariantCulture, "{0}/{1} images, {2:F1} images/s, ETA {3}{4}", value.Completed, value.Total, value.ImagesPerSecond, value.Remaining is { } r ? r.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "--:--:--", value.Failed > 0 ? string.Format(CultureInfo.InvariantCulture, ", {0} unreadable", value.Failed) : string.Empty);
                if (_task is not null)
                {
                    _task.Value = value.Completed;
                    _task.Description = text;
                }
                else if (_sincePrinted.Elapsed.TotalSeconds >= 2 || value.Completed == value.Total)
                {
                    Console.Error.WriteLine("progress: " + text);
                    _sincePrinted.Restart();
                }
            }
        }
    }
}
