using System;
using System.Globalization;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer
{
    /// <summary>Classifier heads for <see cref="TransferBuilder.WithHead"/>.</summary>
    public static class Head
    {
        /// <summary>One linear layer from the pooled features to the classes (torchvision's <c>fc</c> or <c>classifier</c>; the default).</summary>
        /// <returns>The head spec.</returns>
        public static HeadSpec Linear() => new("linear", (inFeatures, classes) => nn.Linear(inFeatures, classes));

        /// <summary>
        /// A multi-layer head: Dropout(<paramref name="inputDropout"/>), Linear to <paramref name="hiddenUnits"/>,
        /// ReLU, BatchNorm1d (or identity), Dropout(<paramref name="hiddenDropout"/>), Linear to the classes.
        /// With the defaults it is exactly the article's head, with the same state-dict keys on a ResNet
        /// (<c>fc.1.weight</c>, <c>fc.3.running_mean</c>, <c>fc.5.weight</c>; <c>classifier.1.weight</c>... on a DenseNet).
        /// </summary>
        /// <param name="hiddenUnits">Width of the hidden layer (the article uses 512).</param>
        /// <param name="inputDropout">Dropout probability before the first linear layer; the default is 0.5.</param>
        /// <param name="hiddenDropout">Dropout probability before the last linear layer; the default is 0.3.</param>
        /// <param name="batchNorm">Whether to batch-normalise the hidden layer; the default is <see langword="true"/>.</param>
        /// <returns>The head spec.</returns>
        public static HeadSpec Mlp(int hiddenUnits, double inputDropout = 0.5, double hiddenDropout = 0.3, bool batchNorm = true)
        {
            Guard.Positive(hiddenUnits);
            Guard.InRange(inputDropout, 0, 0.99);
            Guard.InRange(hiddenDropout, 0, 0.99);
            string layout = string.Format(CultureInfo.InvariantCulture, "mlp:{0}:{1:R}:{2:R}:{3}", hiddenUnits, inputDropout, hiddenDropout, batchNorm ? "bn" : "nobn");
            return new HeadSpec(layout, (inFeatures, classes) => Sequential(
                Dropout(inputDropout),
                nn.Linear(inFeatures, hiddenUnits),
                ReLU(),
                batchNorm ? BatchNorm1d(hiddenUnits) : Identity(),
                Dropout(hiddenDropout),
                nn.Linear(hiddenUnits, classes)));
        }

        /// <summary>
        /// A head of your own: <paramref name="factory"/> receives the number of pooled features and of
        /// classes and returns a module mapping [N, features] to [N, classes] logits. Model files record
        /// only <paramref name="name"/>; pass the same factory to <see cref="TransferModel.Load"/>.
        /// </summary>
        /// <param name="name">A name recorded in saved models.</param>
        /// <param name="factory">Creates the module from (features, classes).</param>
        /// <returns>The head spec.</returns>
        public static HeadSpec Custom(string name, Func<int, int, Module<Tensor, Tensor>> factory)
        {
            Guard.NotNullOrWhiteSpace(name);
            Guard.NotNull(factory);
            return new HeadSpec("custom:" + name, factory);
        }
    }
}
