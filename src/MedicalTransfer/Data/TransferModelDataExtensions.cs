using System;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Loaders built from a model, so that the model's <see cref="TransferModel.Preprocessing"/> (channel order, pixel
    /// scale, mean, standard deviation, input size) is the one the data gets, with no setting copied by hand:
    /// <code>
    /// var train = model.CreateLoader(splits.Train, training: true, new LoaderOptions { BatchSize = 32 });
    /// var validation = model.CreateLoader(splits.Validation, training: false);
    /// var result = model.Fit(train, validation, new TrainingOptions { Epochs = 10 });
    /// </code>
    /// Model verbs that take a loader refuse one whose normalisation differs from the model's (see
    /// <see cref="LoaderOptions.SkipNormalizationCheck"/>).
    /// </summary>
    public static class TransferModelDataExtensions
    {
        /// <summary>
        /// A loader with the model's own pipeline: for training the reference article's augmentation
        /// (<see cref="Transforms.ForTraining"/>), for evaluation resize, center crop and normalisation
        /// (<see cref="Transforms.ForEvaluation"/>), both with the model's preprocessing.
        /// </summary>
        /// <param name="model">The model whose preprocessing the loader applies.</param>
        /// <param name="dataset">Training or validation images.</param>
        /// <param name="training">Augment (training) or not (validation); an evaluation loader is always sequential and keeps every image.</param>
        /// <param name="options">Batching, workers, device, decoding; <see langword="null"/> for the defaults.</param>
        /// <returns>The loader.</returns>
        public static DataLoader CreateLoader(this TransferModel model, ImageDataset dataset, bool training, LoaderOptions? options = null)
        {
            Guard.NotNull(model);
            Guard.NotNull(dataset);
            var transform = training ? Transforms.ForTraining(model.Preprocessing) : Transforms.ForEvaluation(model.Preprocessing);
            return new DataLoader(dataset, transform, ForMode(options, training));
        }

        /// <summary>
        /// A loader with your own steps (augmentation, windowing, cropping) followed by the model's normalisation. End
        /// <paramref name="transform"/> with a fixed-size step; leave normalisation out (the model's is appended), or
        /// end with one that equals the model's.
        /// </summary>
        /// <param name="model">The model whose normalisation the loader applies.</param>
        /// <param name="dataset">Training or validation images.</param>
        /// <param name="transform">Your steps, for example <c>Transforms.Compose(Transforms.Window(2048, 4096), Transforms.RandomResizedCrop(224))</c>.</param>
        /// <param name="options">Batching, sampling, workers, device, decoding; <see langword="null"/> for the defaults.</param>
        /// <returns>The loader.</returns>
        /// <exception cref="ArgumentException"><paramref name="transform"/> normalises differently from the model.</exception>
        public static DataLoader CreateLoader(this TransferModel model, ImageDataset dataset, ImageTransform transform, LoaderOptions? options = null)
        {
            Guard.NotNull(model);
            Guard.NotNull(dataset);
            Guard.NotNull(transform);
            var p = model.Preprocessing;
            var expected = InputNormalization.From(p);
            var own = transform.Steps.OfType<NormalizeTransform>().LastOrDefault();
            if (own is not null && !own.Normalization.SameAs(expected))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "The transform normalises {0}; the model's weights expect {1}. Leave the Normalize step out: CreateLoader appends the model's.", own.Normalization.Describe(), expected.Describe()),
                    nameof(transform));
            }

            ImageTransform pipeline = own is not null ? transform : new ComposeTransform(new[] { transform, new NormalizeTransform(p.Mean, p.Std, p.PixelScale, p.ChannelOrder) });
            return new DataLoader(dataset, pipeline, options);
        }

        /// <summary>Refuses a loader whose normalisation differs from the model's (unless the loader opted out).</summary>
        internal static void RequireModelNormalization(TransferModel model, DataLoader loader, string parameterName, string role)
        {
            if (loader.Options.SkipNormalizationCheck)
            {
                return;
            }

            var expected = InputNormalization.From(model.Preprocessing);
            if (!loader.Normalization.SameAs(expected))
            {
                throw new ArgumentException(
                    string.Format(
                        CultureInfo.InvariantCulture,
                        "The {0} loader normalises {1}; the model's weights expect {2}. Build the loader from the model: model.CreateLoader(dataset, training: {3}) (or model.CreateLoader(dataset, yourAugmentation) to keep your own steps), or end your pipeline with Transforms.{4}(model.Preprocessing). If the difference is intended, set LoaderOptions.SkipNormalizationCheck = true.",
                        role, loader.Normalization.Describe(), expected.Describe(), role == "training" ? "true" : "false", role == "training" ? "ForTraining" : "ForEvaluation"),
                    parameterName);
            }
        }

        private static LoaderOptions? ForMode(LoaderOptions? options, bool training) =>
            training ? options : (options ?? new LoaderOptions()) with { Sampling = SamplingMode.Sequential, DropLast = false };
    }
}
