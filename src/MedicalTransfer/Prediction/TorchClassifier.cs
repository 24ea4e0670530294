using System;
using System.Collections.Generic;
using MedicalTransfer.Data;
using static TorchSharp.torch;

namespace MedicalTransfer.Prediction
{
    /// <summary>A <see cref="TransferModel"/> as an <see cref="IImageClassifier"/>: eval mode, no gradients, probabilities computed as evaluation computes them (calibration temperature included).</summary>
    internal sealed class TorchClassifier : IImageClassifier
    {
        private readonly TransferModel model;

        public TorchClassifier(TransferModel model) => this.model = model;

        /// <summary>Precision of the backbone's stages, from <see cref="ImagePredictionOptions.Precision"/>.</summary>
        internal Models.ComputePrecision Precision { get; set; }

        public IReadOnlyList<string> ClassNames => model.ClassNames;

        public Preprocessing Preprocessing => model.Preprocessing;

        public DecisionThreshold? DecisionThreshold => model.DecisionThreshold;

        public int? FixedInputSize => null;

        public TaskKind TaskKind => model.TaskKind;

        public IReadOnlyList<double>? FindingThresholds => model.FindingThresholds?.Values;

        public void Classify(float[] images, int count, int size, double[] probabilities)
        {
            using var use = model.Use.Acquire("Predict");
            using var precision = Models.PrecisionChoice.ForInference(model, Precision, "ImagePredictionOptions.Precision", logger: null);
            bool wasTraining = model.training;
            model.eval();
            try
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                int channels = model.InputChannels;
                int length = count * channels * size * size;
                var cpu = empty(new long[] { count, channels, size, size }, ScalarType.Float32);
                cpu.data<float>().CopyFrom(new ReadOnlySpan<float>(images, 0, length), 0, 0);
                var device = model.Device;
                var input = device.type == TorchSharp.DeviceType.CPU ? cpu : cpu.to(device);
                var p = Evaluation.Evaluator.ViewProbabilities(model, input).cpu().contiguous();
                var values = p.data<double>().ToArray();
                Array.Copy(values, probabilities, values.Length);
            }
            finally
            {
                model.train(wasTraining);
            }
        }
    }
}
