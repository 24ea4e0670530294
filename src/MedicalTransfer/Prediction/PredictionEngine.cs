using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;

namespace MedicalTransfer.Prediction
{
    /// <summary>
    /// The one prediction path of every classifier: the data pipeline's decoder, the evaluation transform of the
    /// classifier's preprocessing (the one <see cref="Evaluator"/> uses), test-time views cut from the prepared image,
    /// probabilities averaged over the views, and the decision threshold. Folder prediction decodes the next batches
    /// on worker threads while the classifier runs the current one.
    /// </summary>
    internal sealed class PredictionEngine
    {
        private readonly IImageClassifier classifier;
        private readonly ImagePredictionOptions options;
        private readonly ImageTransform transform;
        private readonly int crop;
        private readonly int prepared;
        private readonly bool fiveCrop;
        private readonly bool flip;
        private readonly int views;
        private readonly int classes;
        private readonly int channels;
        private readonly int positive;
        private readonly double[]? findingThresholds;

        public PredictionEngine(IImageClassifier classifier, ImagePredictionOptions? options)
        {
            this.classifier = classifier;
            this.options = (options ?? new ImagePredictionOptions()).Validate();
            if (classifier is TorchClassifier own)
            {
                own.Precision = this.options.Precision;
            }
            else if (this.options.Precision != Models.ComputePrecision.Float32)
            {
                throw new ArgumentException(string.Format(System.Globalization.CultureInfo.InvariantCulture, "ImagePredictionOptions.Precision is {0}, but {1} computes in its own precision; reduced precision applies to a TransferModel's own classifier (model.AsClassifier()).", this.options.Precision, classifier.GetType().Name), nameof(options));
            }
            var p = classifier.Preprocessing;
            fiveCrop = (this.options.Augmentation & TestTimeAugmentation.FiveCrop) != 0;
            flip = (this.options.Augmentation & TestTimeAugmentation.HorizontalFlip) != 0;
            transform = Evaluator.TransformFor(p, this.options.Augmentation);
            crop = p.CropSize;
            prepared = fiveCrop ? p.ResizeSize : p.CropSize;
            views = (fiveCrop ? 5 : 1) * (flip ? 2 : 1);
            classes = classifier.ClassNames.Count;
            channels = p.Channels;
            if (classifier.FixedInputSize is { } fixedSize && fixedSize != crop)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The classifier takes {0}x{0} images but its preprocessing crops {1}x{1}; export the model with its own crop size (the default of OnnxExportOptions.InputSize).", fixedSize, crop));
            }

            positive = this.options.ApplyDecisionThreshold && classifier.DecisionThreshold is { } t ? t.PositiveIndex(classifier.ClassNames) : -1;
            if (classifier.TaskKind == TaskKind.MultiLabel)
            {
                findingThresholds = (this.options.ApplyDecisionThreshold ? classifier.FindingThresholds?.ToArray() : null) ?? Enumerable.Repeat(0.5, classes).ToArray();
                positive = -1;
            }
        }

        private int PlaneLength => channels * prepared * prepared;

        public ImagePrediction PredictFile(string path) => PredictDecoded(path, ImageDecoder.Decode(path, options.Decoding));

        public ImagePrediction PredictStream(Stream stream, string name)
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return PredictDecoded(name, ImageDecoder.Decode(name, copy.GetBuffer(), (int)copy.Length, options.Decoding));
        }

        /// <summary>An in-memory image goes through the same decoder as files: it is written as a lossless PNG first.</summary>
        public ImagePrediction PredictImage(Image image, string name)
        {
            using var png = new MemoryStream();
            image.Save(png, new PngEncoder { CompressionLevel = PngCompressionLevel.BestSpeed });
            return PredictDecoded(name, ImageDecoder.Decode(name, png.GetBuffer(), (int)png.Length, options.Decoding));
        }

        public async IAsyncEnumerable<ImagePrediction> PredictMany(IReadOnlyList<string> files, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var channel = Channel.CreateBounded<PreparedBatch>(new BoundedChannelOptions(options.PrefetchBatches) { SingleReader = true, SingleWriter = true });
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var producer = Task.Run(() => Produce(files, channel.Writer, stop.Token), CancellationToken.None);
            var clock = Stopwatch.StartNew();
            int completed = 0, failed = 0;
            try
            {
                while (await channel.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    while (channel.Reader.TryRead(out var batch))
                    {
                        ImagePrediction[] results;
                        using (batch)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            results = Classify(batch);
                        }

                        completed += results.Length;
                        failed += results.Count(r => !r.Succeeded);
                        options.Progress?.Report(new PredictionProgress(completed, failed, files.Count, clock.Elapsed));
                        foreach (var result in results)
                        {
                            yield return result;
                        }
                    }
                }

                await producer.ConfigureAwait(false);
            }
            finally
            {
                await stop.CancelAsync().ConfigureAwait(false);
                try
                {
                    await producer.ConfigureAwait(false);
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    // Already reported above, or the run was left early; the producer only needs to stop.
                }

                while (channel.Reader.TryRead(out var left))
                {
                    left.Dispose();
                }
            }
        }

        private ImagePrediction PredictDecoded(string source, FloatImage decoded)
        {
            using var batch = new PreparedBatch(new[] { source }, PlaneLength);
            batch.Put(0, Prepare(decoded, source));
            return Classify(batch)[0];
        }

        private FloatImage Prepare(FloatImage decoded, string source)
        {
            var random = SampleRandom.For(0, 0, 0);
            FloatImage image;
            try
            {
                image = transform.Apply(decoded, ref random).ToChannels(channels);
            }
            catch (Exception e) when (e is not ImageDataException and not OutOfMemoryException)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The preprocessing {0} failed on '{1}': {2}", transform, source, e.Message), e);
            }

            if (image.Width != prepared || image.Height != prepared)
            {
                image.Dispose();
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "Preprocessing '{0}' gave {1}x{2} pixels; expected {3}x{3}.", source, image.Width, image.Height, prepared));
            }

            return image;
        }

        private void Produce(IReadOnlyList<string> files, ChannelWriter<PreparedBatch> writer, CancellationToken cancellationToken)
        {
            try
            {
                int batchSize = options.BatchSize;
                var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Workers, CancellationToken = cancellationToken };
                for (int start = 0; start < files.Count; start += batchSize)
                {
                    int n = Math.Min(batchSize, files.Count - start);
                    var batch = new PreparedBatch(files.Skip(start).Take(n).ToArray(), PlaneLength);
                    try
                    {
                        Parallel.For(0, n, parallel, i =>
                        {
                            string path = batch.Sources[i];
                            FloatImage decoded;
                            try
                            {
                                decoded = ImageDecoder.Decode(path, options.Decoding);
                            }
                            catch (ImageDataException e) when (options.Decoding.BadImages == BadImagePolicy.Skip)
                            {
                                batch.Errors[i] = e.Message;
                                return;
                            }

                            batch.Put(i, Prepare(decoded, path));
                        });
                    }
                    catch (AggregateException e) when (e.InnerExceptions.Count > 0)
                    {
                        batch.Dispose();
                        ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
                    }
                    catch
                    {
                        batch.Dispose();
                        throw;
                    }

                    if (!writer.TryWrite(batch))
                    {
                        try
                        {
                            writer.WriteAsync(batch, cancellationToken).AsTask().GetAwaiter().GetResult();
                        }
                        catch
                        {
                            batch.Dispose();
                            throw;
                        }
                    }
                }
            }
            finally
            {
                writer.TryComplete();
            }
        }

        private ImagePrediction[] Classify(PreparedBatch batch)
        {
            int n = batch.Sources.Length;
            var ok = Enumerable.Range(0, n).Where(i => batch.Errors[i] is null).ToArray();
            var results = new ImagePrediction[n];
            if (ok.Length > 0)
            {
                int viewLength = channels * crop * crop;
                int count = ok.Length * views;
                float[] input = views == 1 && ok.Length == n ? batch.Pixels : ArrayPool<float>.Shared.Rent(count * viewLength);
                double[] output = ArrayPool<double>.Shared.Rent(count * classes);
                try
                {
                    if (!ReferenceEquals(input, batch.Pixels))
                    {
                        for (int k = 0; k < ok.Length; k++)
                        {
                            WriteViews(batch.Pixels.AsSpan(ok[k] * PlaneLength, PlaneLength), input.AsSpan(k * views * viewLength, views * viewLength));
                        }
                    }

                    classifier.Classify(input, count, crop, output);
                    for (int k = 0; k < ok.Length; k++)
                    {
                        var p = new double[classes];
                        for (int v = 0; v < views; v++)
                        {
                            for (int c = 0; c < classes; c++)
                            {
                                p[c] += output[(((k * views) + v) * classes) + c];
                            }
                        }

                        for (int c = 0; c < classes; c++)
                        {
                            p[c] /= views;
                        }

                        results[ok[k]] = findingThresholds is null
                            ? new ImagePrediction(batch.Sources[ok[k]], classifier.ClassNames, p, Decide(p), null)
                            : new ImagePrediction(batch.Sources[ok[k]], classifier.ClassNames, p, -1, null) { Present = Enumerable.Range(0, classes).Where(c => p[c] >= findingThresholds[c]).Select(c => classifier.ClassNames[c]).ToArray() };
                    }
                }
                finally
                {
                    if (!ReferenceEquals(input, batch.Pixels))
                    {
                        ArrayPool<float>.Shared.Return(input);
                    }

                    ArrayPool<double>.Shared.Return(output);
                }
            }

            for (int i = 0; i < n; i++)
            {
                results[i] ??= new ImagePrediction(batch.Sources[i], classifier.ClassNames, Array.Empty<double>(), -1, batch.Errors[i]) { Present = findingThresholds is null ? null : Array.Empty<string>() };
            }

            return results;
        }

        private int Decide(double[] p) =>
            positive >= 0 ? classifier.DecisionThreshold!.Decide(p, positive) : Predictions.Argmax(p);

        /// <summary>The views of one prepared image, as Evaluator cuts them: center and corner crops, then their mirrors.</summary>
        private void WriteViews(ReadOnlySpan<float> image, Span<float> target)
        {
            int viewLength = channels * crop * crop;
            // The one five-crop (torchvision's, center rounded half to even); the mean over views does not depend on their order.
            IReadOnlyList<(int Top, int Left)> offsets = fiveCrop ? CropBoxes.FiveCrop(prepared, prepared, crop, crop) : new[] { (0, 0) };

            int v = 0;
            foreach (bool mirrored in flip ? new[] { false, true } : new[] { false })
            {
                foreach (var (top, left) in offsets)
                {
                    var view = target.Slice(v++ * viewLength, viewLength);
                    for (int c = 0; c < channels; c++)
                    {
                        for (int y = 0; y < crop; y++)
                        {
                            var row = image.Slice((c * prepared * prepared) + ((top + y) * prepared) + left, crop);
                            var destination = view.Slice((c * crop * crop) + (y * crop), crop);
                            row.CopyTo(destination);
                            if (mirrored)
                            {
                                destination.Reverse();
                            }
                        }
                    }
                }
            }
        }

        /// <summary>A batch being prepared: pooled pixels, one slot per file, and the error of each failed file.</summary>
        private sealed class PreparedBatch : IDisposable
        {
            private readonly int planeLength;

            public PreparedBatch(string[] sources, int planeLength)
            {
                this.planeLength = planeLength;
                Sources = sources;
                Errors = new string?[sources.Length];
                Pixels = ArrayPool<float>.Shared.Rent(Math.Max(1, sources.Length * planeLength));
            }

            public string[] Sources { get; }

            public string?[] Errors { get; }

            public float[] Pixels { get; private set; }

            public void Put(int index, FloatImage image)
            {
                using (image)
                {
                    image.Pixels.CopyTo(Pixels.AsSpan(index * planeLength, planeLength));
                }
            }

            public void Dispose()
            {
                if (Pixels.Length > 0)
                {
                    ArrayPool<float>.Shared.Return(Pixels);
                    Pixels = Array.Empty<float>();
                }
            }
        }
    }
}
