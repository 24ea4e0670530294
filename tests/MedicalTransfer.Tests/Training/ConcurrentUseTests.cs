using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    /// <summary>
    /// Verbs that switch a model between training and evaluation mode, change its parameters or seed the global
    /// random generator must not overlap on one model: a second one on another thread is refused, naming both.
    /// Synchronised with events (the training blocks in a callback until released), never with sleeps.
    /// </summary>
    [Collection(TrainingCollection.Name)]
    public sealed class ConcurrentUseTests
    {
        private static readonly string[] Classes = { SyntheticChestXRay.NormalClass, SyntheticChestXRay.PneumoniaClass };

        [Fact]
        public async Task Verbs_WhileFitRunsOnAnotherThread_AreRefusedNamingBothOperations()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 32 });
            var data = ImageFolder.Load(folder.Path);
            using var model = TinyModel(classes: Classes);
            using var images = randn(2, 3, 32, 32);
            var refusals = new List<(string Name, Action Act)>
            {
                ("Grad-CAM.Explain", () => new GradCam().Explain(model, images)),
                ("Grad-CAM++.Explain", () => new GradCamPlusPlus().Explain(model, data.Samples.Select(s => s.Path).ToArray())),
                ("Faithfulness.ProbabilityDrop", () => Faithfulness.ProbabilityDrop(model, images, Array.Empty<Explanation>().Concat(new[] { Fake(), Fake() }).ToArray())),
                ("RankLayerImportance", () => LayerImportanceExtensions.Rank(model, Source(4, shuffle: false), ImportanceGranularity.Stages, NullLogger.Instance, default)),
                ("Evaluator.Predict", () => Evaluator.Predict(model, data, new PredictionOptions { Loader = new LoaderOptions { Workers = 1 } })),
                ("Evaluator.Predict", () => Evaluator.Evaluate(model, new TestSet(data))),
                ("training (Fit)", () => Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 1 })),
            };

            using var blocked = new BlockingCallback();
            var training = Task.Run(() => Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 2, Seed = 3, Callbacks = new ITrainingCallback[] { blocked } }));
            blocked.WaitUntilInside(training);
            try
            {
                foreach (var (name, act) in refusals)
                {
                    var ex = Assert.Throws<InvalidOperationException>(act);
                    Assert.StartsWith(name + " cannot start on this model: training (Fit) is using it on another thread", ex.Message, StringComparison.Ordinal);
                    Assert.Contains("give the other work its own copy of the model", ex.Message, StringComparison.Ordinal);
                }
            }
            finally
            {
                blocked.Release();
            }

            var result = await training;
            Assert.Equal(2, result.History.Epochs.Count);

            // Released: the same verbs run now.
            Assert.Equal(2, new GradCam().Explain(model, images).Count);
            Assert.Equal(4, Evaluator.Predict(model, data).Count);
        }

        [Fact]
        public void Verbs_FromATrainingCallbackOnTheTrainingThread_RunInsideTheTraining()
        {
            using var model = TinyModel();
            using var images = randn(2, 3, 32, 32);
            int explained = 0;
            var callback = new EpochCallback(_ =>
            {
                explained += new GradCam().Explain(model, images).Count;
                LayerImportanceExtensions.Rank(model, Source(4, shuffle: false), ImportanceGranularity.Stages, NullLogger.Instance, default);
            });

            var result = Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 2, Callbacks = new ITrainingCallback[] { callback } });

            Assert.Equal(2, result.History.Epochs.Count);
            Assert.Equal(4, explained);
        }

        [Fact]
        public async Task Lease_AfterAFailedOperation_IsReleased()
        {
            using var model = TinyModel();
            Assert.Throws<TrainingDivergedException>(() => Fit(model, new PoisonedSource(Source(8), 0, 1), Source(8, shuffle: false), new TrainingOptions { Epochs = 1 }));

            using var images = randn(1, 3, 32, 32);
            var fromAnotherThread = await Task.Run(() => new GradCam().Explain(model, images).Count);

            Assert.Equal(1, fromAnotherThread);
            Assert.Null(model.Use.Current);
        }

        [Fact]
        public async Task Fit_TwoModelsAtOnce_IsNotRefused()
        {
            using var first = TinyModel(seed: 1);
            using var second = TinyModel(seed: 2);
            using var blocked = new BlockingCallback();
            var training = Task.Run(() => Fit(first, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 1, Callbacks = new ITrainingCallback[] { blocked } }));
            blocked.WaitUntilInside(training);
            try
            {
                Assert.Single(Fit(second, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 1 }).History.Epochs);
            }
            finally
            {
                blocked.Release();
            }

            await training;
        }

        private static Explanation Fake() => new(
            "layer4", 0, "A", new[] { 0.5, 0.5 }, 0, "A", new Heatmap(1, 1, new[] { 1f }), new Heatmap(32, 32, Enumerable.Repeat(0.5f, 32 * 32).ToArray()));

        /// <summary>Blocks the training thread at its first epoch end until released.</summary>
        private sealed class BlockingCallback : ITrainingCallback, IDisposable
        {
            private readonly ManualResetEventSlim inside = new();
            private readonly ManualResetEventSlim release = new();

            public void OnEpochEnd(TrainingContext context)
            {
                inside.Set();
                release.Wait();
            }

            /// <summary>Returns once the training is blocked in the callback (or rethrows what ended it first).</summary>
            public void WaitUntilInside(Task training)
            {
                int which = WaitHandle.WaitAny(new[] { inside.WaitHandle, ((IAsyncResult)training).AsyncWaitHandle });
                if (which == 1)
                {
                    throw new InvalidOperationException("The training ended before reaching its first epoch end.", training.Exception);
                }
            }

            public void Release() => release.Set();

            public void Dispose()
            {
                release.Set();
                inside.Dispose();
                release.Dispose();
            }
        }

        private sealed class EpochCallback : ITrainingCallback
        {
            private readonly Action<TrainingContext> action;

            public EpochCallback(Action<TrainingContext> action) => this.action = action;

            public void OnEpochEnd(TrainingContext context) => action(context);
        }
    }
}
