using System.IO;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// The catalogue of pretrained DenseNet weights: torchvision's ImageNet checkpoints (downloaded once from
    /// <c>download.pytorch.org</c>, verified and cached exactly as <see cref="ResNetWeights"/>' are; see
    /// <see cref="PretrainedWeightsOptions"/>) and files you already have. CheXNet (Rajpurkar et al., 2017)
    /// fine-tuned DenseNet-121 from these ImageNet weights.
    /// </summary>
    /// <remarks>
    /// Checkpoints (torchvision 0.14 <c>models/densenet.py</c>, IMAGENET1K_V1, the only ones published; all evaluated at
    /// resize 256, center crop 224, bilinear, ImageNet mean and standard deviation):
    /// <list type="table">
    /// <listheader><term>Depth</term><description>file, parameters with the 1000-class head</description></listheader>
    /// <item><term>121</term><description>densenet121-a639ec97.pth, 7,978,856</description></item>
    /// <item><term>161</term><description>densenet161-8d451a50.pth, 28,681,000</description></item>
    /// <item><term>169</term><description>densenet169-b2777c0a.pth, 14,149,480</description></item>
    /// <item><term>201</term><description>densenet201-c1103571.pth, 20,013,928</description></item>
    /// </list>
    /// These files name the dense layers' parameters as PyTorch did before 0.4 (<c>denselayer1.norm.1.weight</c>);
    /// they are loaded under today's names (<c>denselayer1.norm1.weight</c>), as torchvision's own loader renames them.
    /// </remarks>
    public static class DenseNetWeights
    {
        /// <summary>torchvision's ImageNet weights (IMAGENET1K_V1, its DEFAULT) for the model's depth: 121, 161, 169 or 201.</summary>
        public static PretrainedWeights ImageNet { get; } = new(
            "ImageNet (torchvision IMAGENET1K_V1)",
            Preprocessing.ImageNet,
            new CatalogSource(a => a is DenseNetArchitecture ? WeightsCatalog.Find(a, WeightsCatalog.V1) : null, "DenseNetWeights.FromFile for other layouts"));

        /// <summary>
        /// Weights from a state-dict file you already have (<c>torch.save(model.state_dict())</c> or <c>.safetensors</c>),
        /// with torchvision's DenseNet key names, current or pre-0.4. The file is read safely (a pickle holding anything but
        /// tensors is refused) when the model is built.
        /// </summary>
        /// <param name="path">The file.</param>
        /// <param name="preprocessing">The input the weights expect; <see langword="null"/> means torchvision's ImageNet preprocessing.</param>
        /// <returns>The weights.</returns>
        public static PretrainedWeights FromFile(string path, Preprocessing? preprocessing = null)
        {
            Guard.NotNullOrWhiteSpace(path);
            string full = Path.GetFullPath(path);
            return new PretrainedWeights(full, preprocessing ?? Preprocessing.ImageNet, new FileSource(full, preprocessing ?? Preprocessing.ImageNet, "DenseNetWeights.FromFile"));
        }
    }
}
