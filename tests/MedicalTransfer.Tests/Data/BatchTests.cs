using System.Buffers;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Data
{
    public sealed class BatchTests
    {
        [Fact]
        public void ImagesAndLabels_ReadByManyThreadsAtOnce_CreateOneTensorEach()
        {
            // A batch large enough (16 x 3 x 96 x 96) that copying it takes long: without a lock, threads released
            // together each find no tensor and make their own (and return the pooled buffer more than once).
            const int threads = 8;
            for (int round = 0; round < 10; round++)
            {
                int length = 16 * 3 * 96 * 96;
                float[] pixels = ArrayPool<float>.Shared.Rent(length);
                for (int i = 0; i < length; i++)
                {
                    pixels[i] = i % 251;
                }

                using var batch = new Batch(pixels, 16, 3, 96, 96, Enumerable.Range(0, 16).Select(i => i % 2).ToArray(), Enumerable.Range(0, 16).ToArray(), null);
                var images = new Tensor[threads];
                var labels = new Tensor[threads];
                using var start = new Barrier(threads);
                var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
                {
                    start.SignalAndWait();
                    images[t] = batch.Images;
                    labels[t] = batch.Labels;
                })).ToArray();
                foreach (var worker in workers)
                {
                    worker.Start();
                }

                foreach (var worker in workers)
                {
                    worker.Join();
                }

                Assert.All(images, t => Assert.Same(images[0], t));
                Assert.All(labels, t => Assert.Same(labels[0], t));
                Assert.Equal(250f, images[0].max().item<float>());
                Assert.Equal(new long[] { 0, 1, 0 }, labels[0][..3].data<long>().ToArray());
            }
        }
    }
}
