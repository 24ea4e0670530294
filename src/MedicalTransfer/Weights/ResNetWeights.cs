using System;
using System.Globalization;
using System.IO;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// The catalogue of pretrained ResNet weights: torchvision's ImageNet checkpoints (downloaded
    /// once from <c>download.pytorch.org</c>, verified and cached; see <see cref="PretrainedWeightsOptions"/>),
    /// files you already have, and ONNX models, including the ImageNet ResNet-18 that ships in a
    /// Microsoft NuGet package and needs no internet. Each value carries its preprocessing.
    /// </summary>
    /// <remarks>
    /// Checkpoints (torchvision 0.14 <c>models/resnet.py</c>; top-1 ImageNet accuracy from torchvision's documentation):
    /// <list type="table">
    /// <listheader><term>Depth</term><description>IMAGENET1K_V1 / IMAGENET1K_V2 file</description></listheader>
    /// <item><term>18</term><description>resnet18-f37072fd.pth / none</description></item>
    /// <item><term>34</term><description>resnet34-b627a593.pth / none</description></item>
    /// <item><term>50</term><description>resnet50-0676ba61.pth / resnet50-11ad3fa6.pth</description></item>
    /// <item><term>101</term><description>resnet101-63fe2227.pth / resnet101-cd907fc2.pth</description></item>
    /// <item><term>152</term><description>resnet152-394f9c45.pth / resnet152-f82ba261.pth</description></item>
    /// </list>
    /// The eight hex digits in each name are the start of the file's SHA-256, the only part torchvision
    /// publishes; downloads and cached files are checked against it.
    /// </remarks>
    public static class ResNetWeights
    {
        /// <summary>
        /// torchvision's best ImageNet weights for the model's depth, as its <c>DEFAULT</c>:
        /// IMAGENET1K_V1 for ResNet-18 and -34 (the only ones published), IMAGENET1K_V2 for
        /// ResNet-50, -101 and -152 (resize 232 instead of 256). Fails for custom layouts.
        /// </summary>
        public static PretrainedWeights ImageNet { get; } = new(
            "ImageNet (torchvision DEFAULT: IMAGENET1K_V1 for ResNet-18/34, IMAGENET1K_V2 for ResNet-50/101/152)",
            Preprocessing.ImageNet,
            new CatalogSource(a => a is ResNetArchitecture ? WeightsCatalog.FindDefault(a) : null, "ResNetWeights.FromFile for other layouts"));

        /// <summary>torchvision's original ImageNet weights (IMAGENET1K_V1), published for all five depths.</summary>
        public static PretrainedWeights ImageNetV1 { get; } = new(
            "ImageNet V1 (torchvision IMAGENET1K_V1)",
            Preprocessing.ImageNet,
            new CatalogSource(a => a is ResNetArchitecture ? WeightsCatalog.Find(a, WeightsCatalog.V1) : null, "ResNetWeights.FromFile for other layouts"));

        /// <summary>
        /// torchvision's improved-recipe ImageNet weights (IMAGENET1K_V2), published for ResNet-50, -101
        /// and -152 only; evaluated at resize 232, crop 224. Other depths fail with a message naming
        /// <see cref="ImageNetV1"/>.
        /// </summary>
        public static PretrainedWeights ImageNetV2 { get; } = new(
            "ImageNet V2 (torchvision IMAGENET1K_V2)",
            Preprocessing.ImageNetV2,
            new CatalogSource(a => a is ResNetArchitecture ? WeightsCatalog.Find(a, WeightsCatalog.V2) : null, "ResNetWeights.ImageNetV1 or ResNetWeights.ImageNet"));

        /// <summary>
        /// The preprocessing of <see cref="MLNetResNet18"/>: resize to 224x224, BGR, pixel values 0..255,
        /// minus the channel means of the package's 224x224 mean image, no scaling by a standard deviation.
        /// </summary>
        /// <remarks>
        /// The package subtracts a whole mean image (<c>ResNetPreprocess.onnx</c>); its per-pixel values
        /// stay within about 13 of these channel means, which is what a per-channel preprocessing can express.
        /// Declared before <see cref="MLNetResNet18"/>, which reads it during type initialisation.
        /// </remarks>
        internal static Preprocessing MLNetPreprocessing { get; } = new()
        {
            ResizeSize = 224,
            CropSize = 224,
            ChannelOrder = ChannelOrder.Bgr,
            PixelScale = 255f,
            Mean = new[] { 103.062624f, 115.902882f, 123.151631f },
            Std = new[] { 1f, 1f, 1f },
        };

        /// <summary>
        /// The ImageNet ResNet-18 shipped as <c>ResNet18.onnx</c> in NuGet package
        /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (a CNTK export): no download and no Python.
        /// Its last stage has three blocks, so build the model with
        /// <c>ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3)</c>. It has no classifier. It expects
        /// BGR pixels in 0..255 minus the per-channel means (B 103.06, G 115.90, R 123.15) and no
        /// division by a standard deviation. The file is looked for in the application's output folder
        /// (<c>DnnImageModels/ResNet18Onnx/</c>, where the package puts it) and then in the NuGet package cache.
        /// </summary>
        public static PretrainedWeights MLNetResNet18 { get; } = new(
            "ImageNet ResNet-18 from NuGet package " + OnnxMlNetLocator.PackageId,
            MLNetPreprocessing,
            new OnnxSource(OnnxMlNetLocator.Locate, MLNetPreprocessing, ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3)));

        /// <summary>
        /// Weights from a state-dict file you already have: a PyTorch checkpoint (<c>torch.save(model.state_dict())</c>)
        /// or a <c>.safetensors</c> file, with torchvision's key names. The file is read safely (a pickle
        /// holding anything but tensors is refused) when the model is built.
        /// </summary>
        /// <param name="path">The file.</param>
        /// <param name="preprocessing">The input the weights expect; <see langword="null"/> means torchvision's ImageNet preprocessing.</param>
        /// <returns>The weights.</returns>
        /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
        public static PretrainedWeights FromFile(string path, Preprocessing? preprocessing = null)
        {
            Guard.NotNullOrWhiteSpace(path);
            string full = Path.GetFullPath(path);
            return new PretrainedWeights(full, preprocessing ?? Preprocessing.ImageNet, new FileSource(full, preprocessing ?? Preprocessing.ImageNet));
        }

        /// <summary>
        /// Weights imported from a ResNet-topology ONNX model (Conv, BatchNormalization, Relu, Add, MaxPool,
        /// average pooling, optionally Flatten and Gemm). Block type and stage depths are inferred from the
        /// graph: <c>TransferBuilder.FromPretrained(ResNetWeights.FromOnnx(path))</c> builds that layout, and
        /// <c>FromResNet(...).WithPretrained(...)</c> requires the model's architecture to match it. Anything else
        /// fails with the first node that could not be mapped. External data files must lie inside the model's folder.
        /// </summary>
        /// <param name="path">The <c>.onnx</c> file.</param>
        /// <param name="preprocessing">The input the model expects; <see langword="null"/> means torchvision's ImageNet preprocessing.</param>
        /// <returns>The weights.</returns>
        /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
        public static PretrainedWeights FromOnnx(string path, Preprocessing? preprocessing = null)
        {
            Guard.NotNullOrWhiteSpace(path);
            string full = Path.GetFullPath(path);
            var chosen = preprocessing ?? Preprocessing.ImageNet;
            return new PretrainedWeights(string.Format(CultureInfo.InvariantCulture, "ONNX {0}", full), chosen, new OnnxSource(() => full, chosen, null));
        }

        /// <summary>One catalogue checkpoint as weights (tests inject entries with their own files and hashes).</summary>
        internal static PretrainedWeights FromCatalogEntry(CatalogEntry entry) =>
            new(entry.DisplayName, entry.Preprocessing, CatalogSource.Single(entry));
    }
}
