using System;
using System.Collections.Generic;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Prediction;

namespace MedicalTransfer.Benchmarks.Inference
{
    /// <summary>A classifier that computes nothing (uniform probabilities): PredictFolder through it measures decoding and preprocessing alone.</summary>
    internal sealed class NoInference : IImageClassifier
    {
        private readonly IImageClassifier _like;

        public NoInference(IImageClassifier like) => _like = like;

        public IReadOnlyList<string> ClassNames => _like.ClassNames;

        public Preprocessing Preprocessing => _like.Preprocessing;

        public DecisionThreshold? DecisionThreshold => null;

        public int? FixedInputSize => _like.FixedInputSize;

        public void Classify(float[] images, int count, int size, double[] probabilities) =>
            Array.Fill(probabilities, 1.0 / ClassNames.Count, 0, count * ClassNames.Count);
    }
}
