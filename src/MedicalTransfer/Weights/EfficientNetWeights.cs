using System.IO;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// The catalogue of pretrained EfficientNet weights: torchvision's ImageNet checkpoints (downloaded once from
    /// <c>download.pytorch.org</c>, verified and cached exactly as <see cref="ResNetWeights"/>' are) and files you
    /// already have. Each width was trained at its own resolution, which the built model's preprocessing carries.
    /// </summary>
    /// <remarks>
    /// Checkpoints (torchvision 0.14 <c>models/efficientnet.py</c>), with the evaluation resize and center crop:
    /// <list type="table">
    /// <listheader><term>Width</term><description>IMAGENET1K_V1 file (resize, crop); parameters with the 1000-class head</description></listheader>
    /// <item><term>B0</term><description>efficientnet_b0_rwightman-3dd342df.pth (256, 224); 5,288,548</description></item>
    /// <item><term>B1</term><description>efficientnet_b1_rwightman-533bc792.pth (256, 240), and IMAGENET1K_V2 efficientnet_b1-c27df63c.pth (255, 240); 7,794,184</description></item>
    /// <item><term>B2</term><description>efficientnet_b2_rwightman-bcdf34b7.pth (288, 288); 9,109,994</description></item>
    /// <item><term>B3</term><description>efficientnet_b3_rwightman-cf984f9c.pth (320, 300); 12,233,232</description></item>
    /// <item><term>B4</term><description>efficientnet_b4_rwightman-7eb33cd5.pth (384, 380); 19,341,616</description></item>
    /// <item><term>B5</term><description>efficientnet_b5_lukemelas-b6417697.pth (456, 456); 30,389,784</description></item>
    /// <item><term>B6</term><description>efficientnet_b6_lukemelas-c76e70fd.pth (528, 528); 43,040,704</description></item>
    /// <item><term>B7</term><description>efficientnet_b7_lukemelas-dcc49843.pth (600, 600); 66,347,960</description></item>
    /// </list>
    /// All use ImageNet's mean and standard deviation. torchvision resizes the V1 checkpoints' inputs bicubically
    /// (B1's V2 bilinearly); MedicalTransfer has one resampler, bilinear with antialiasing as PIL's, so its inputs to a
    /// V1 EfficientNet differ slightly from torchvision's (docs/architectures.md measures by how much).
    /// </remarks>
    public static class EfficientNetWeights
    {
        /// <summary>torchvision's DEFAULT weights for the model's width: IMAGENET1K_V1, except IMAGENET1K_V2 for B1.</summary>
        public static PretrainedWeights ImageNet { get; } = new(
            "ImageNet (torchvision DEFAULT: IMAGENET1K_V1, IMAGENET1K_V2 for B1)",
            Preprocessing.ImageNet,
            new CatalogSource(a => a is EfficientNetArchitecture ? WeightsCatalog.FindDefault(a) : null, "EfficientNetWeights.FromFile", "widths"));

        /// <summary>torchvision's IMAGENET1K_V1 weights for every width (ported from timm for B0 to B4, from EfficientNet-PyTorch for B5 to B7).</summary>
        public static PretrainedWeights ImageNetV1 { get; } = new(
            "ImageNet V1 (torchvision IMAGENET1K_V1)",
            Preprocessing.ImageNet,
            new CatalogSource(a => a is EfficientNetArchitecture ? WeightsCatalog.Find(a, WeightsCatalog.V1) : null, "EfficientNetWeights.FromFile", "widths"));

        /// <summary>
        /// Weights from a state-dict file you already have (<c>torch.save(model.state_dict())</c> or <c>.safetensors</c>),
        /// with torchvision's EfficientNet key names. The file is read safely when the model is built.
        /// </summary>
        /// <param name="path">The file.</param>
        /// <param name="preprocessing">The input the weights expect; <see langword="null"/> means torchvision's ImageNet preprocessing at 224.</param>
        /// <returns>The weights.</returns>
        public static PretrainedWeights FromFile(string path, Preprocessing? preprocessing = null)
        {
            Guard.NotNullOrWhiteSpace(path);
            string full = Path.GetFullPath(path);
            return new PretrainedWeights(full, preprocessing ?? Preprocessing.ImageNet, new FileSource(full, preprocessing ?? Preprocessing.ImageNet, "EfficientNetWeights.FromFile"));
        }
    }
}
