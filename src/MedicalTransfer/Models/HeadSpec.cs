using System;
using System.Globalization;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// Describes the classifier placed after global average pooling, registered under the backbone's classifier
    /// name so that checkpoint keys match torchvision's: <c>fc</c> for a ResNet (<c>fc.weight</c>, and the article's
    /// <c>model.fc = nn.Sequential(...)</c>: <c>fc.1.weight</c>, <c>fc.3.running_mean</c>, <c>fc.5.weight</c>),
    /// <c>classifier</c> for a DenseNet (<c>classifier.weight</c>), <c>classifier.1</c> for an EfficientNet, behind its
    /// dropout (<c>classifier.1.weight</c>). Create specs with <see cref="Head"/>.
    /// </summary>
    public sealed class HeadSpec
    {
        private readonly Func<int, int, Module<Tensor, Tensor>> _factory;

        internal HeadSpec(string layout, Func<int, int, Module<Tensor, Tensor>> factory)
        {
            Layout = layout;
            _factory = factory;
        }

        /// <summary>
        /// The head's layout as saved in model files: <c>linear</c>, <c>mlp:512:0.5:0.3:bn</c>, or
        /// <c>custom:&lt;name&gt;</c> (a custom head must be supplied again when loading).
        /// </summary>
        public string Layout { get; }

        /// <summary>Whether this is a user-supplied module that model files cannot describe.</summary>
        public bool IsCustom => Layout.StartsWith("custom:", StringComparison.Ordinal);

        /// <summary>Creates the head module.</summary>
        internal Module<Tensor, Tensor> Create(int inFeatures, int classes)
        {
            var module = _factory(inFeatures, classes);
            if (module is null)
            {
                throw new InvalidOperationException("The head factory for '" + Layout + "' returned null; it must return a module mapping [N, " + inFeatures.ToString(CultureInfo.InvariantCulture) + "] features to [N, " + classes.ToString(CultureInfo.InvariantCulture) + "] logits.");
            }

            return module;
        }

        /// <summary>Rebuilds a spec from its saved <see cref="Layout"/>; custom heads need the caller's factory.</summary>
        internal static HeadSpec Parse(string layout, Func<int, int, Module<Tensor, Tensor>>? customFactory)
        {
            Guard.NotNull(layout);
            if (layout == "linear")
            {
                return Head.Linear();
            }

            var parts = layout.Split(':');
            if (parts[0] == "mlp" && parts.Length == 5)
            {
                return Head.Mlp(
                    int.Parse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture),
                    double.Parse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture),
                    double.Parse(parts[3], NumberStyles.Float, CultureInfo.InvariantCulture),
                    parts[4] == "bn");
            }

            if (parts[0] == "custom")
            {
                if (customFactory is null)
                {
                    throw new InvalidOperationException("The model was saved with a custom head ('" + layout + "'). Pass the same head factory to TransferModel.Load(path, customHead: ...) to load it.");
                }

                return new HeadSpec(layout, customFactory);
            }

            throw new FormatException("Unknown head layout '" + layout + "'. Expected 'linear', 'mlp:<hidden>:<p_in>:<p_hidden>:<bn|nobn>' or 'custom:<name>'.");
        }

        /// <inheritdoc />
        public override string ToString() => Layout;
    }
}
