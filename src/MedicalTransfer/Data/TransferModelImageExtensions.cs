using System;
using System.Globalization;
using MedicalTransfer.Internal;
using static TorchSharp.torch;

namespace MedicalTransfer.Data
{
    /// <summary>Single-image verbs on <see cref="TransferModel"/>: what the model's evaluation pipeline feeds it for one file.</summary>
    public static class TransferModelImageExtensions
    {
        /// <summary>
        /// Decodes one file with the one decoder and applies the model's evaluation preprocessing (resize, center
        /// crop, scale, channel order, normalisation, the model's channel count): the tensor an evaluation loader
        /// built by <c>model.CreateLoader(data, training: false)</c> puts in its batch for this file.
        /// </summary>
        /// <param name="model">The model whose preprocessing applies.</param>
        /// <param name="path">A PNG, JPEG, BMP or DICOM file.</param>
        /// <param name="options">Pixel limit and DICOM decoding; <see langword="null"/> for the defaults.</param>
        /// <returns>A float32 tensor [channels, crop, crop] on the CPU; the caller owns it. Add a batch dimension with <c>unsqueeze(0)</c> to run the model on it.</returns>
        /// <exception cref="ImageDataException">The file cannot be read or decoded.</exception>
        public static Tensor PrepareImage(this TransferModel model, string path, ImageLoadOptions? options = null)
        {
            Guard.NotNull(model);
            Guard.NotNullOrWhiteSpace(path);
            var transform = Transforms.ForEvaluation(model.Preprocessing);
            var random = SampleRandom.For(0, 0, 0);
            FloatImage decoded = ImageDecoder.Decode(path, (options ?? ImageLoadOptions.Default).Validate());
            FloatImage prepared;
            try
            {
                prepared = transform.Apply(decoded, ref random).ToChannels(transform.OutputChannels ?? 3);
            }
            catch (Exception e) when (e is not ImageDataException and not OutOfMemoryException)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The preprocessing {0} failed on '{1}': {2}", transform, path, e.Message), e);
            }

            using (prepared)
            {
                return tensor(prepared.Pixels.ToArray(), new long[] { prepared.Channels, prepared.Height, prepared.Width });
            }
        }
    }
}
