using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// One epoch of a <see cref="DataLoader"/>: workers claim positions in order, wait while their
    /// batch is more than PrefetchBatches ahead of the consumer, and write each prepared sample
    /// straight into its batch's pooled buffer. No tensor is created here.
    /// </summary>
    internal sealed class EpochRun : IDisposable
    {
        private readonly DataLoader loader;
        private readonly int epoch;
        private readonly int[] order;
        private readonly int batchSize;
        private readonly int batchCount;
        private readonly int total;
        private readonly object gate = new();
        private readonly Dictionary<int, Slot> slots = new();
        private readonly Task[] workers;
        private readonly CancellationToken cancellationToken;
        private readonly CancellationTokenRegistration registration;
        private int next = -1;
        private int handedOut;
        private bool stopping;
        private ExceptionDispatchInfo? failure;

        public EpochRun(DataLoader loader, int epoch, int[] order, CancellationToken cancellationToken)
        {
            this.loader = loader;
            this.epoch = epoch;
            this.order = order;
            this.cancellationToken = cancellationToken;
            batchSize = loader.Options.BatchSize;
            batchCount = loader.Options.DropLast ? order.Length / batchSize : (order.Length + batchSize - 1) / batchSize;
            total = Math.Min(order.Length, batchCount * batchSize);
            registration = cancellationToken.Register(Wake);
            workers = new Task[Math.Min(loader.Options.Workers, Math.Max(1, total))];
            for (int w = 0; w < workers.Length; w++)
            {
                workers[w] = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
        }

        /// <summary>The next complete batch, or null at the end of the epoch. Called by the consumer only.</summary>
        public Batch? Next()
        {
            while (true)
            {
                int b;
                Slot? slot;
                lock (gate)
                {
                    b = handedOut;
                    if (b >= batchCount)
                    {
                        return null;
                    }

                    while (!(slots.TryGetValue(b, out slot) && slot.Remaining == 0) && failure is null && !cancellationToken.IsCancellationRequested)
                    {
                        Monitor.Wait(gate);
                    }

                    failure?.Throw();
                    cancellationToken.ThrowIfCancellationRequested();
                    slots.Remove(b);
                    handedOut++;
                    Monitor.PulseAll(gate);
                }

                Batch? batch = slot!.ToBatch(loader.Options.Device);
                if (batch is not null)
                {
                    return batch;
                }
            }
        }

        public void Dispose()
        {
            lock (gate)
            {
                stopping = true;
                Monitor.PulseAll(gate);
            }

            Task.WaitAll(workers);
            registration.Dispose();
            foreach (Slot slot in slots.Values)
            {
                slot.Release();
            }

            slots.Clear();
        }

        private void Wake()
        {
            lock (gate)
            {
                Monitor.PulseAll(gate);
            }
        }

        private void Work()
        {
            while (true)
            {
                int position = Interlocked.Increment(ref next);
                if (position >= total)
                {
                    return;
                }

                int b = position / batchSize;
                Slot slot;
                lock (gate)
                {
                    while (!stopping && failure is null && !cancellationToken.IsCancellationRequested && b >= handedOut + loader.Options.PrefetchBatches)
                    {
                        Interlocked.Increment(ref loader.ParkedWorkers);
                        Monitor.Wait(gate);
                        Interlocked.Decrement(ref loader.ParkedWorkers);
                    }

                    if (stopping || failure is not null || cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }

                    if (!slots.TryGetValue(b, out slot!))
                    {
                        int size = Math.Min(batchSize, total - (b * batchSize));
                        slots[b] = slot = new Slot(size);
                    }
                }

                int index = order[position];
                FloatImage? image = null;
                try
                {
                    image = loader.Prepare(index, epoch, position);
                    if (image is not null)
                    {
                        slot.Write(position - (b * batchSize), image, index, loader.Label(index), loader.Options.BatchSize);
                    }
                }
                catch (Exception e)
                {
                    lock (gate)
                    {
                        failure ??= ExceptionDispatchInfo.Capture(e);
                        Monitor.PulseAll(gate);
                    }

                    return;
                }
                finally
                {
                    image?.Dispose();
                }

                if (Interlocked.Decrement(ref slot.Remaining) == 0)
                {
                    Wake();
                }
            }
        }

        /// <summary>A batch being filled: a pooled pixel buffer sized by its first sample.</summary>
        private sealed class Slot
        {
            private readonly int[] labels;
            private readonly int[] indices;
            private readonly bool[] filled;
            private float[]? pixels;
            private int width;
            private int height;
            private int channels;
            private string? firstPath;

            public Slot(int size)
            {
                labels = new int[size];
                indices = new int[size];
                filled = new bool[size];
                Remaining = size;
            }

#pragma warning disable SA1401, CA1051 // Interlocked needs a field.
            public int Remaining;
#pragma warning restore SA1401, CA1051

            public void Write(int offset, FloatImage image, int index, int label, int capacity)
            {
                lock (filled)
                {
                    if (pixels is null)
                    {
                        width = image.Width;
                        height = image.Height;
                        channels = image.Channels;
                        firstPath = index.ToString(CultureInfo.InvariantCulture);
                        pixels = ArrayPool<float>.Shared.Rent(capacity * channels * width * height);
                    }
                    else if (image.Width != width || image.Height != height)
                    {
                        throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The transform produced a {0}x{1} image for sample {2} but {3}x{4} for sample {5} of the same batch; end the pipeline with a fixed-size step (CenterCrop, RandomResizedCrop or Resize(height, width)).", image.Width, image.Height, index, width, height, firstPath));
                    }
                }

                int length = channels * width * height;
                image.Pixels.CopyTo(pixels.AsSpan(offset * length, length));
                labels[offset] = label;
                indices[offset] = index;
                filled[offset] = true;
            }

            public Batch? ToBatch(TorchSharp.torch.Device? device)
            {
                if (pixels is null)
                {
                    return null;
                }

                int length = channels * width * height;
                var keptLabels = new List<int>(filled.Length);
                var keptIndices = new List<int>(filled.Length);
                for (int i = 0; i < filled.Length; i++)
                {
                    if (!filled[i])
                    {
                        continue; // skipped file: close the gap
                    }

                    int target = keptIndices.Count;
                    if (target != i)
                    {
                        pixels.AsSpan(i * length, length).CopyTo(pixels.AsSpan(target * length, length));
                    }

                    keptIndices.Add(indices[i]);
                    keptLabels.Add(labels[i]);
                }

                float[] data = pixels;
                pixels = null;
                return new Batch(data, keptIndices.Count, channels, height, width, keptLabels.ToArray(), keptIndices.ToArray(), device);
            }

            public void Release()
            {
                if (pixels is not null)
                {
                    ArrayPool<float>.Shared.Return(pixels);
                    pixels = null;
                }
            }
        }
    }
}
