using System;
using System.Buffers;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// A batch of images <c>[N, C, H, W]</c> (float32; C is 3, or 1 for a model built for gray images) and labels <c>[N]</c> (int64). The tensors
    /// are created on first access, on the thread that reads them: they join the DisposeScope active
    /// at that moment, so consuming each batch inside <c>torch.NewDisposeScope()</c> frees them. Dispose
    /// the batch otherwise. Reading <see cref="Images"/> and <see cref="Labels"/> from several threads is safe
    /// (each tensor is created once); the tensors themselves are TorchSharp's and follow its rules.
    /// </summary>
    public sealed class Batch : IDisposable
    {
        private readonly int[] labels;
        private readonly int channels;
        private readonly int height;
        private readonly int width;
        private readonly Device? device;
        private readonly object gate = new();
        private float[]? pixels;
        private Tensor? images;
        private Tensor? labelTensor;
        private float[]? targetValues;
        private float[]? maskValues;
        private int findings;
        private Tensor? targetTensor;
        private Tensor? maskTensor;
        private bool disposed;

        internal Batch(float[] pixels, int count, int channels, int height, int width, int[] labels, int[] indices, Device? device)
        {
            this.pixels = pixels;
            this.labels = labels;
            this.channels = channels;
            this.height = height;
            this.width = width;
            this.device = device;
            Count = count;
            Indices = indices;
        }

        /// <summary>Number of images.</summary>
        public int Count { get; }

        /// <summary>For each image, its index in the dataset's samples (to recover file names).</summary>
        public IReadOnlyList<int> Indices { get; }

        /// <summary>Label of each image, as plain integers.</summary>
        public IReadOnlyList<int> LabelValues => labels;

        /// <summary>The images, <c>[N, C, H, W]</c> float32 on the loader's device (C from the pipeline's normalisation: 3, or 1 for gray input).</summary>
        public Tensor Images
        {
            get
            {
                lock (gate)
                {
                    ObjectDisposedException.ThrowIf(disposed, this);
                    if (images is null)
                    {
                        float[] data = pixels!;
                        Tensor cpu = empty(new long[] { Count, channels, height, width }, ScalarType.Float32);
                        cpu.data<float>().CopyFrom(new ReadOnlySpan<float>(data, 0, Count * channels * height * width), 0, 0);
                        images = MoveToDevice(cpu);
                        pixels = null;
                        ArrayPool<float>.Shared.Return(data);
                    }

                    return images;
                }
            }
        }

        /// <summary>Whether the batch is from a multi-label dataset (it has <see cref="Targets"/> and <see cref="TargetMask"/>, no <see cref="Labels"/>).</summary>
        public bool IsMultiLabel => targetValues is not null;

        /// <summary>
        /// The multi-label targets, <c>[N, findings]</c> float32 (1 positive, 0 negative, after the loader's
        /// <see cref="LoaderOptions.Uncertainty"/>) on the loader's device.
        /// </summary>
        /// <exception cref="InvalidOperationException">The batch is single-label: read <see cref="Labels"/>.</exception>
        public Tensor Targets => MultiLabelTensor(ref targetTensor, targetValues);

        /// <summary>
        /// Which targets count, <c>[N, findings]</c> float32: 1 observed, 0 missing or uncertain under U-Ignore (left out of the loss and the metrics).
        /// </summary>
        /// <exception cref="InvalidOperationException">The batch is single-label: read <see cref="Labels"/>.</exception>
        public Tensor TargetMask => MultiLabelTensor(ref maskTensor, maskValues);

        /// <summary>The labels, <c>[N]</c> int64 on the loader's device.</summary>
        /// <exception cref="InvalidOperationException">The batch is multi-label: read <see cref="Targets"/> and <see cref="TargetMask"/>.</exception>
        public Tensor Labels
        {
            get
            {
                lock (gate)
                {
                    ObjectDisposedException.ThrowIf(disposed, this);
                    if (targetValues is not null)
                    {
                        throw new InvalidOperationException("This batch is from a multi-label dataset: it has no class labels. Read Batch.Targets and Batch.TargetMask [N, findings].");
                    }

                    if (labelTensor is null)
                    {
                        var values = new long[Count];
                        for (int i = 0; i < Count; i++)
                        {
                            values[i] = labels[i];
                        }

                        labelTensor = MoveToDevice(tensor(values, new long[] { Count }));
                    }

                    return labelTensor;
                }
            }
        }

        /// <summary>Disposes the tensors (if created) and returns the pixel buffer to its pool.</summary>
        public void Dispose()
        {
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }

                disposed = true;
                images?.Dispose();
                labelTensor?.Dispose();
                targetTensor?.Dispose();
                maskTensor?.Dispose();
                if (pixels is not null)
                {
                    ArrayPool<float>.Shared.Return(pixels);
                    pixels = null;
                }
            }
        }

        internal void AttachTargets(float[] targets, float[] mask, int findingCount)
        {
            targetValues = targets;
            maskValues = mask;
            findings = findingCount;
        }

        private Tensor MultiLabelTensor(ref Tensor? created, float[]? values)
        {
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                if (values is null)
                {
                    throw new InvalidOperationException("This batch is from a single-label dataset: it has no multi-label targets. Read Batch.Labels.");
                }

                return created ??= MoveToDevice(tensor(values, new long[] { Count, findings }));
            }
        }

        private Tensor MoveToDevice(Tensor cpu)
        {
            if (device is null || device.type == DeviceType.CPU)
            {
                return cpu;
            }

            Tensor moved = cpu.to(device);
            cpu.Dispose();
            return moved;
        }
    }
}
