using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using SixLabors.ImageSharp;

namespace MedicalTransfer.Prediction
{
    /// <summary>
    /// Prediction verbs for any <see cref="IImageClassifier"/>: one image from a file, a stream or memory, or every
    /// image of a folder (or a list of files) as a stream of results. Images are decoded by the data pipeline's
    /// decoder (PNG 8/16-bit, JPEG, BMP, EXIF orientation, pixel limit) and preprocessed with the classifier's own
    /// <see cref="IImageClassifier.Preprocessing"/>, exactly as evaluation does.
    /// <code>
    /// await foreach (ImagePrediction p in classifier.PredictFolder("archive/2024", new ImagePredictionOptions { BatchSize = 32 }))
    /// {
    ///     Console.WriteLine(p.Succeeded ? $"{p.Source}: {p.PredictedClass} {p.Probability("PNEUMONIA"):F3}" : $"{p.Source}: {p.Error}");
    /// }
    /// </code>
    /// </summary>
    public static class ImageClassifierExtensions
    {
        /// <summary>Classifies one image file.</summary>
        /// <param name="classifier">The classifier.</param>
        /// <param name="path">A PNG, JPEG or BMP file.</param>
        /// <param name="options">Test-time augmentation, decision threshold, decoding; <see langword="null"/> for the defaults.</param>
        /// <returns>The probabilities and the predicted class.</returns>
        /// <exception cref="ImageDataException">The file cannot be read or decoded; the message names it.</exception>
        public static ImagePrediction Predict(this IImageClassifier classifier, string path, ImagePredictionOptions? options = null)
        {
            Guard.NotNull(classifier);
            Guard.NotNullOrWhiteSpace(path);
            return new PredictionEngine(classifier, options).PredictFile(path);
        }

        /// <summary>Classifies an encoded image (PNG, JPEG or BMP bytes) read from a stream.</summary>
        /// <param name="classifier">The classifier.</param>
        /// <param name="stream">The encoded image; read to its end, not disposed.</param>
        /// <param name="name">What error messages and <see cref="ImagePrediction.Source"/> call the image.</param>
        /// <param name="options">Test-time augmentation, decision threshold, decoding; <see langword="null"/> for the defaults.</param>
        /// <returns>The probabilities and the predicted class.</returns>
        /// <exception cref="ImageDataException">The bytes are not a readable image.</exception>
        public static ImagePrediction Predict(this IImageClassifier classifier, Stream stream, string name = "stream", ImagePredictionOptions? options = null)
        {
            Guard.NotNull(classifier);
            Guard.NotNull(stream);
            Guard.NotNull(name);
            return new PredictionEngine(classifier, options).PredictStream(stream, name);
        }

        /// <summary>
        /// Classifies an ImageSharp image in memory (for example <c>Image&lt;L16&gt;</c> for a 16-bit X-ray); it goes
        /// through the same decoder as files, losslessly.
        /// </summary>
        /// <param name="classifier">The classifier.</param>
        /// <param name="image">The image.</param>
        /// <param name="name">What <see cref="ImagePrediction.Source"/> calls the image.</param>
        /// <param name="options">Test-time augmentation, decision threshold; <see langword="null"/> for the defaults.</param>
        /// <returns>The probabilities and the predicted class.</returns>
        public static ImagePrediction Predict(this IImageClassifier classifier, Image image, string name = "image", ImagePredictionOptions? options = null)
        {
            Guard.NotNull(classifier);
            Guard.NotNull(image);
            Guard.NotNull(name);
            return new PredictionEngine(classifier, options).PredictImage(image, name);
        }

        /// <summary>
        /// Classifies every .png, .jpg, .jpeg and .bmp file under <paramref name="folder"/> (all subfolders, in ordinal
        /// path order), streaming one result per file as its batch completes. Worker threads decode the next batches
        /// while the classifier runs; an unreadable file gives a result with its <see cref="ImagePrediction.Error"/>
        /// (unless <see cref="ImagePredictionOptions.Decoding"/> says to throw). Nothing in the folder is written.
        /// </summary>
        /// <param name="classifier">The classifier.</param>
        /// <param name="folder">The folder.</param>
        /// <param name="options">Batching, workers, augmentation, threshold, bad-file policy, progress; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops the run; the enumeration then throws <see cref="System.OperationCanceledException"/>.</param>
        /// <returns>The results, in file order.</returns>
        /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
        public static IAsyncEnumerable<ImagePrediction> PredictFolder(this IImageClassifier classifier, string folder, ImagePredictionOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(classifier);
            return PredictFolder(classifier, ImageFiles(folder), options, cancellationToken);
        }

        /// <summary>Classifies the given image files, in the given order, as <see cref="PredictFolder(IImageClassifier, string, ImagePredictionOptions?, CancellationToken)"/> does.</summary>
        /// <param name="classifier">The classifier.</param>
        /// <param name="files">The files.</param>
        /// <param name="options">Batching, workers, augmentation, threshold, bad-file policy, progress; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops the run.</param>
        /// <returns>The results, in the given order.</returns>
        public static IAsyncEnumerable<ImagePrediction> PredictFolder(this IImageClassifier classifier, IEnumerable<string> files, ImagePredictionOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(classifier);
            Guard.NotNull(files);
            var list = files.Select(f => Guard.NotNullOrWhiteSpace(f, nameof(files))).ToArray();
            return new PredictionEngine(classifier, options).PredictMany(list, cancellationToken);
        }

        /// <summary>The image files under a folder, recursively, in ordinal order of their full paths (dot files left out).</summary>
        /// <param name="folder">The folder.</param>
        /// <returns>Full paths.</returns>
        /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
        public static IReadOnlyList<string> ImageFiles(string folder)
        {
            Guard.NotNullOrWhiteSpace(folder);
            string root = Path.GetFullPath(folder);
            if (!Directory.Exists(root))
            {
                throw new DirectoryNotFoundException(string.Format(CultureInfo.InvariantCulture, "The folder '{0}' does not exist. Check the path.", root));
            }

            var extensions = new HashSet<string>(ImageFolder.Extensions, System.StringComparer.OrdinalIgnoreCase);
            return Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
                .Where(f => Path.GetFileName(f) is { Length: > 0 } name && name[0] != '.' && extensions.Contains(Path.GetExtension(name)))
                .OrderBy(f => f, System.StringComparer.Ordinal)
                .ToArray();
        }
    }
}
