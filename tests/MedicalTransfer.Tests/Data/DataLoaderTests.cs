using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Data
{
    public sealed class DataLoaderTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void GetBatches_Sequential_ShapesTypesLabelsAndPartialLastBatch()
        {
            ImageDataset data = Dataset(("a", 6), ("b", 4));
            var loader = new DataLoader(data, Transforms.Resize(8, 8), new LoaderOptions { BatchSize = 4, Sampling = SamplingMode.Sequential, Workers = 2 });

            List<(long[] Shape, ScalarType Type, long[] Labels, float[] Means, int[] Indices)> seen = Read(loader, 0);

            Assert.Equal(3, loader.BatchesPerEpoch);
            Assert.Equal(new[] { 4, 4, 2 }, seen.Select(b => (int)b.Shape[0]));
            Assert.Equal(new long[] { 4, 3, 8, 8 }, seen[0].Shape);
            Assert.All(seen, b => Assert.Equal(ScalarType.Float32, b.Type));
            Assert.Equal(Enumerable.Range(0, 10), seen.SelectMany(b => b.Indices));
            Assert.Equal(new long[] { 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 }, seen.SelectMany(b => b.Labels));
            // Class a images are 40/255, class b 200/255 (gray replicated to three channels).
            Assert.All(seen.SelectMany(b => b.Labels.Zip(b.Means)), p => Assert.Equal(p.First == 0 ? 40 / 255.0 : 200 / 255.0, p.Second, 5));
        }

        [Fact]
        public void GetBatches_DropLast_LeavesOutPartialBatch()
        {
            var loader = new DataLoader(Dataset(("a", 6), ("b", 4)), Transforms.Resize(8, 8), new LoaderOptions { BatchSize = 4, DropLast = true });

            Assert.Equal(2, loader.BatchesPerEpoch);
            Assert.Equal(new[] { 4, 4 }, Read(loader, 0).Select(b => b.Indices.Length));
        }

        [Fact]
        public void GetBatches_Shuffle_EachImageOncePerEpochNewOrderEachEpochSameForSameSeed()
        {
            ImageDataset data = Dataset(("a", 10), ("b", 10));
            var options = new LoaderOptions { BatchSize = 6, Seed = 9 };

            int[] epoch0 = Read(new DataLoader(data, Transforms.Resize(4, 4), options), 0).SelectMany(b => b.Indices).ToArray();
            int[] epoch1 = Read(new DataLoader(data, Transforms.Resize(4, 4), options), 1).SelectMany(b => b.Indices).ToArray();
            int[] epoch0Again = Read(new DataLoader(data, Transforms.Resize(4, 4), options), 0).SelectMany(b => b.Indices).ToArray();

            Assert.Equal(Enumerable.Range(0, 20), epoch0.OrderBy(i => i));
            Assert.NotEqual(Enumerable.Range(0, 20), epoch0);
            Assert.NotEqual(epoch0, epoch1);
            Assert.Equal(epoch0, epoch0Again);
        }

        [Fact]
        public void GetBatches_TrainingPipeline_IdenticalTensorsWithOneOrFourWorkers()
        {
            ImageDataset data = Phantoms(12);
            float[] Pixels(int workers)
            {
                var loader = new DataLoader(data, Transforms.ForTraining(new Preprocessing { ResizeSize = 32, CropSize = 24 }), new LoaderOptions { BatchSize = 5, Workers = workers, Seed = 3 });
                var all = new List<float>();
                foreach (Batch batch in loader.GetBatches(2))
                {
                    using (batch)
                    {
                        all.AddRange(batch.Images.data<float>().ToArray());
                    }
                }

                return all.ToArray();
            }

            float[] one = Pixels(1);
            float[] four = Pixels(4);

            Assert.Equal(12 * 3 * 24 * 24, one.Length);
            Assert.Equal(one, four);
        }

        [Fact]
        public void GetBatches_CacheFull_KeepsWithinCacheMaxBytesAndGivesTheSameBatches()
        {
            // 10 phantoms of 48 x 48, cached at shorter side 24 (1 channel): 24 * 24 * 4 = 2304 bytes each; room for 3.
            ImageDataset data = Phantoms(10);
            var transform = Transforms.Compose(Transforms.RandomHorizontalFlip(), Transforms.CenterCrop(20));
            var options = new LoaderOptions { BatchSize = 4, Workers = 2, Seed = 4, CacheShorterSide = 24 };
            using var bounded = new DataLoader(data, transform, options with { CacheMaxBytes = 3 * 2304 });
            using var unbounded = new DataLoader(data, transform, options);

            float[] boundedPixels = Pixels(bounded, 0).Concat(Pixels(bounded, 1)).ToArray();
            float[] unboundedPixels = Pixels(unbounded, 0).Concat(Pixels(unbounded, 1)).ToArray();

            Assert.Equal(3, bounded.CachedImages);
            Assert.Equal(3 * 2304, bounded.CachedBytes);
            Assert.Equal(10, unbounded.CachedImages);
            Assert.Equal(unboundedPixels, boundedPixels);
        }

        [Fact]
        public void Dispose_CachedLoader_ReleasesTheCacheAndRefusesFurtherEpochs()
        {
            var loader = new DataLoader(Phantoms(6), Transforms.CenterCrop(16), new LoaderOptions { BatchSize = 3, CacheShorterSide = 16 });
            Pixels(loader, 0);
            Assert.Equal(6, loader.CachedImages);

            loader.Dispose();
            loader.Dispose();

            Assert.Equal(0, loader.CachedImages);
            Assert.Throws<ObjectDisposedException>(() => loader.GetBatches(1));
        }

        [Fact]
        public void Dispose_DuringAnEpoch_TheEpochFinishesThenTheCacheIsReleased()
        {
            var loader = new DataLoader(Phantoms(8), Transforms.CenterCrop(16), new LoaderOptions { BatchSize = 2, Workers = 2, CacheShorterSide = 16, Sampling = SamplingMode.Sequential });
            float[] expected = Pixels(loader, 0);
            var seen = new List<float>();
            foreach (Batch batch in loader.GetBatches(0))
            {
                using (batch)
                {
                    seen.AddRange(batch.Images.data<float>().ToArray());
                }

                loader.Dispose(); // from inside the loop, as a callback might
                Assert.Equal(8, loader.CachedImages);
            }

            Assert.Equal(expected, seen);
            Assert.Equal(0, loader.CachedImages);
        }

        [Fact]
        public void GetBatches_ClassBalanced_DrawsMinorityClassAboutHalfTheTime()
        {
            ImageDataset data = Dataset(("major", 45), ("minor", 5));
            var loader = new DataLoader(data, Transforms.Resize(2, 2), new LoaderOptions { BatchSize = 50, Sampling = SamplingMode.ClassBalanced, Seed = 1 });

            long[] labels = Enumerable.Range(0, 8).SelectMany(e => Read(loader, e).SelectMany(b => b.Labels)).ToArray();

            Assert.Equal(400, labels.Length);
            Assert.InRange(labels.Count(l => l == 1) / 400.0, 0.42, 0.58); // 10% in the data
        }

        [Fact]
        public void GetBatches_BadFileUnderThrow_ThrowsImageDataExceptionNamingFile()
        {
            ImageDataset data = Dataset(("a", 4), ("b", 4));
            string bad = data.Samples[5].Path;
            File.WriteAllBytes(bad, Array.Empty<byte>());
            var loader = new DataLoader(data, Transforms.Resize(4, 4), new LoaderOptions { BatchSize = 2 });

            var e = Assert.Throws<ImageDataException>(() => Read(loader, 0));

            Assert.Equal(bad, e.Path);
        }

        [Fact]
        public void GetBatches_CorruptFilesUnderSkip_SkippedLoggedCountedOnce()
        {
            ImageDataset data = Dataset(("a", 5), ("b", 5));
            File.WriteAllBytes(data.Samples[1].Path, Array.Empty<byte>());
            byte[] png = File.ReadAllBytes(data.Samples[7].Path);
            File.WriteAllBytes(data.Samples[7].Path, png[..(png.Length / 2)]);
            var logger = new ListLogger();
            var loader = new DataLoader(data, Transforms.Resize(4, 4), new LoaderOptions
            {
                BatchSize = 3,
                Sampling = SamplingMode.Sequential,
                Logger = logger,
                Decoding = new ImageLoadOptions { BadImages = BadImagePolicy.Skip },
            });

            int[] first = Read(loader, 0).SelectMany(b => b.Indices).ToArray();
            int[] second = Read(loader, 1).SelectMany(b => b.Indices).ToArray();

            int[] expected = Enumerable.Range(0, 10).Except(new[] { 1, 7 }).ToArray();
            Assert.Equal(expected, first);
            Assert.Equal(expected, second);
            Assert.Equal(2, loader.Report.SkippedCount);
            Assert.Equal(new[] { data.Samples[1].Path, data.Samples[7].Path }, loader.Report.Skipped.Select(s => s.Path));
            Assert.Contains(data.Samples[7].Path, loader.Report.Skipped[1].Reason, StringComparison.Ordinal);
            Assert.Contains("empty (0 bytes)", loader.Report.Skipped[0].Reason, StringComparison.Ordinal);
            Assert.Equal(2, logger.Entries.Count(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning));
            Assert.Equal(3, loader.BatchesPerEpoch);
        }

        [Fact]
        public void GetBatches_Cancelled_ThrowsOperationCanceled()
        {
            var loader = new DataLoader(Phantoms(16), Transforms.Resize(8, 8), new LoaderOptions { BatchSize = 2, Workers = 2 });
            using var cancellation = new CancellationTokenSource();

            Assert.ThrowsAny<OperationCanceledException>(() =>
            {
                foreach (Batch batch in loader.GetBatches(0, cancellation.Token))
                {
                    batch.Dispose();
                    cancellation.Cancel();
                }
            });
        }

        [Fact]
        public void GetBatches_LeavingEarly_StopsWorkersAndLaterEpochsStillRun()
        {
            var loader = new DataLoader(Phantoms(16), Transforms.Resize(8, 8), new LoaderOptions { BatchSize = 2, Workers = 3 });

            foreach (Batch batch in loader.GetBatches(0))
            {
                batch.Dispose();
                break;
            }

            Assert.Equal(16, Read(loader, 1).Sum(b => b.Indices.Length));
        }

        [Fact]
        public void GetBatches_Prefetch_WorkersStayWithinBoundAheadOfConsumer()
        {
            var counter = new CountingTransform();
            var loader = new DataLoader(Dataset(("a", 10), ("b", 10)), Transforms.Compose(counter, Transforms.Resize(4, 4)), new LoaderOptions { BatchSize = 2, Workers = 3, PrefetchBatches = 1, Sampling = SamplingMode.Sequential });

            using IEnumerator<Batch> batches = loader.GetBatches(0).GetEnumerator();
            Assert.True(batches.MoveNext());
            batches.Current.Dispose();

            // No sleep. Handed out: batch 0; allowed ahead: batch 1. The state this reaches, on any machine: batches 0 and 1
            // prepared (4 images) and all three workers waiting for the consumer with positions 4, 5 and 6 (batches 2 and 3).
            // Without the bound the workers never wait, and with a looser one more images are prepared: either way the
            // state is never reached and the guard fails after 30 s. (A count of waiting workers alone can be stale:
            // workers woken by the hand-out decrement it only once they hold the lock again.)
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref loader.ParkedWorkers) == 3 && counter.Count == 4, TimeSpan.FromSeconds(30)), $"after the first batch: {Volatile.Read(ref loader.ParkedWorkers)} workers waiting, {counter.Count} images prepared; expected 3 and 4");
            Assert.True(batches.MoveNext());
            batches.Current.Dispose();
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref loader.ParkedWorkers) == 3 && counter.Count == 6, TimeSpan.FromSeconds(30)), $"after the second batch: {Volatile.Read(ref loader.ParkedWorkers)} workers waiting, {counter.Count} images prepared; expected 3 and 6");
        }

        [Fact]
        public void GetBatches_ConsumedInsideDisposeScopes_LiveTensorCountStaysFlat()
        {
            var loader = new DataLoader(Phantoms(10), Transforms.ForEvaluation(new Preprocessing { ResizeSize = 16, CropSize = 16 }), new LoaderOptions { BatchSize = 4, Workers = 2 });
            long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            long before = Live();
            var perEpoch = new List<long>();

            for (int epoch = 0; epoch < 4; epoch++)
            {
                foreach (Batch batch in loader.GetBatches(epoch))
                {
                    using var scope = NewDisposeScope();
                    Tensor mean = batch.Images.mean() + batch.Labels.to_type(ScalarType.Float32).mean();
                    Assert.True(mean.item<float>() > -10);
                }

                perEpoch.Add(Live() - before);
            }

            Assert.Equal(new long[] { 0, 0, 0, 0 }, perEpoch);
        }

        [Fact]
        public void Batch_DisposedWithoutScope_ReleasesItsTensors()
        {
            var loader = new DataLoader(Phantoms(4), Transforms.Resize(8, 8), new LoaderOptions { BatchSize = 2 });
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

            foreach (Batch batch in loader.GetBatches(0))
            {
                using (batch)
                {
                    Assert.Equal(2, batch.Images.shape[0]);
                    Assert.Equal(ScalarType.Int64, batch.Labels.dtype);
                    Assert.Equal(DeviceType.CPU, batch.Images.device_type);
                }

                Assert.Throws<ObjectDisposedException>(() => batch.Images);
            }

            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }

        [Fact]
        public void GetBatches_Cache_LaterEpochsNeedNoFiles()
        {
            ImageDataset data = Dataset(("a", 3), ("b", 3));
            var loader = new DataLoader(data, Transforms.CenterCrop(8), new LoaderOptions { BatchSize = 6, Sampling = SamplingMode.Sequential, CacheShorterSide = 16 });
            float[] first = Pixels(loader, 0);

            foreach (ImageSample sample in data.Samples)
            {
                File.Delete(sample.Path);
            }

            float[] second = Pixels(loader, 1);

            Assert.Equal(first, second);
        }

        [Fact]
        public void GetBatches_TransformWithoutFixedSize_ThrowsExplaining()
        {
            folder.WriteGrayPng("data/a/1.png", 10, 10, (_, _) => 1);
            folder.WriteGrayPng("data/b/2.png", 12, 10, (_, _) => 1);
            var loader = new DataLoader(ImageFolder.Load(folder.PathOf("data")), Transforms.Resize(10), new LoaderOptions { BatchSize = 2, Workers = 1 });

            var e = Assert.Throws<InvalidOperationException>(() => Read(loader, 0));

            Assert.Contains("end the pipeline with a fixed-size step", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void TestSetGetBatches_ShuffleAndDropLastOptions_StillEveryImageOnceInOrder()
        {
            SyntheticChestXRay.WriteImageFolder(folder.PathOf("all"), new SyntheticChestXRayOptions { Count = 40, Size = 32 });
            DatasetSplits splits = ImageFolder.Load(folder.PathOf("all")).Split(new SplitOptions { TestFraction = 0.25 });

            int[] indices = splits.Test.GetBatches(Transforms.Resize(8, 8), new LoaderOptions { BatchSize = 3, DropLast = true, Sampling = SamplingMode.Shuffle })
                .SelectMany(b => { using (b) { return b.Indices.ToArray(); } })
                .ToArray();

            Assert.Equal(Enumerable.Range(0, splits.Test.Count), indices);
        }

        [Fact]
        public void WholePipeline_NeverModifiesTheDataFolder()
        {
            string root = folder.PathOf("user-data");
            SyntheticChestXRay.WriteImageFolder(Path.Combine(root, "train"), new SyntheticChestXRayOptions { Count = 24, Size = 40, Seed = 1 });
            SyntheticChestXRay.WriteImageFolder(Path.Combine(root, "test"), new SyntheticChestXRayOptions { Count = 8, Size = 40, Seed = 2 });
            File.WriteAllBytes(Path.Combine(root, "train", "NORMAL", "broken.png"), new byte[] { 1, 2, 3 });
            File.WriteAllText(Path.Combine(root, "train", "NORMAL", "notes.txt"), "keep me");
            string before = TempFolder.HashTree(root);

            DatasetSplits splits = ImageFolder.LoadSplits(root, new SplitOptions { GroupPattern = @"^(patient\d+)_" });
            var options = new LoaderOptions { BatchSize = 4, CacheShorterSide = 32, Decoding = new ImageLoadOptions { BadImages = BadImagePolicy.Skip } };
            var loader = new DataLoader(splits.Train, Transforms.ForTraining(new Preprocessing { ResizeSize = 32, CropSize = 28 }), options);
            for (int epoch = 0; epoch < 2; epoch++)
            {
                foreach (Batch batch in loader.GetBatches(epoch))
                {
                    batch.Dispose();
                }
            }

            foreach (Batch batch in splits.Test.GetBatches(Transforms.ForEvaluation(new Preprocessing { ResizeSize = 32, CropSize = 28 })))
            {
                batch.Dispose();
            }

            Assert.Equal(before, TempFolder.HashTree(root));
        }

        private static float[] Pixels(DataLoader loader, int epoch)
        {
            var all = new List<float>();
            foreach (Batch batch in loader.GetBatches(epoch))
            {
                using (batch)
                {
                    all.AddRange(batch.Images.data<float>().ToArray());
                }
            }

            return all.ToArray();
        }

        private static List<(long[] Shape, ScalarType Type, long[] Labels, float[] Means, int[] Indices)> Read(DataLoader loader, int epoch)
        {
            var seen = new List<(long[], ScalarType, long[], float[], int[])>();
            foreach (Batch batch in loader.GetBatches(epoch))
            {
                using var scope = NewDisposeScope();
                using (batch)
                {
                    float[] means = batch.Images.mean(new long[] { 1, 2, 3 }).data<float>().ToArray();
                    seen.Add((batch.Images.shape, batch.Images.dtype, batch.Labels.data<long>().ToArray(), means, batch.Indices.ToArray()));
                }
            }

            return seen;
        }

        private ImageDataset Dataset(params (string Name, int Count)[] classes)
        {
            string root = folder.PathOf("data");
            foreach ((string name, int count) in classes)
            {
                byte value = name == classes[0].Name ? (byte)40 : (byte)200;
                for (int i = 0; i < count; i++)
                {
                    folder.WriteGrayPng(Path.Combine("data", name, i.ToString("D3", System.Globalization.CultureInfo.InvariantCulture) + ".png"), 12, 12, (_, _) => value);
                }
            }

            return ImageFolder.Load(root);
        }

        private ImageDataset Phantoms(int count)
        {
            string root = folder.PathOf("phantoms");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = count, Size = 48 });
            return ImageFolder.Load(root);
        }

        /// <summary>Counts the samples the workers have prepared.</summary>
        private sealed class CountingTransform : ImageTransform
        {
            private int count;

            public int Count => Volatile.Read(ref count);

            internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
            {
                Interlocked.Increment(ref count);
                return image;
            }
        }
    }
}
