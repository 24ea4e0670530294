using System;
using System.Collections.Generic;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Pretrained weights for a backbone and the preprocessing they were trained with: a catalogue checkpoint that
    /// is downloaded, verified and cached on first use, a file on disk, or an imported ONNX model. Obtain instances
    /// from <see cref="ResNetWeights"/>, <see cref="DenseNetWeights"/> and <see cref="EfficientNetWeights"/>. Nothing
    /// is read or downloaded until a model is built with them.
    /// </summary>
    public sealed class PretrainedWeights
    {
        private readonly WeightsSource _source;

        internal PretrainedWeights(string name, Preprocessing preprocessing, WeightsSource source)
        {
            Name = name;
            Preprocessing = preprocessing.Validate();
            _source = source;
        }

        /// <summary>A readable name, such as <c>ImageNet (torchvision IMAGENET1K_V1)</c> or the file path.</summary>
        public string Name { get; }

        /// <summary>
        /// The input these weights expect (resize, crop, channel order, scale, mean, std). Data
        /// pipelines built with these weights use it by default. For <see cref="ResNetWeights.ImageNet"/>,
        /// which picks a checkpoint per depth, this is the V1 preprocessing; a built model reports the
        /// exact one of the checkpoint it loaded (V2's resize is 232 instead of 256). Catalogue weights of
        /// EfficientNet likewise report B0's; each width's checkpoint has its own sizes.
        /// </summary>
        public Preprocessing Preprocessing { get; }

        /// <summary>The one architecture these weights are made for, when it is fixed (for example the ML.NET ResNet-18's basic [2, 2, 2, 3]); otherwise <see langword="null"/>.</summary>
        internal BackboneArchitecture? Architecture => _source.Architecture;

        /// <summary>The architecture the weights fit, inferred from the file where it describes one (an ONNX graph); reads the file but creates no tensor.</summary>
        internal BackboneArchitecture? InferArchitecture() => _source.InferArchitecture();

        /// <inheritdoc />
        public override string ToString() => Name;

        /// <summary>The preprocessing of the weights this resolves to for <paramref name="architecture"/>.</summary>
        internal Preprocessing PreprocessingFor(BackboneArchitecture architecture) => _source.PreprocessingFor(Guard.NotNull(architecture)) ?? Preprocessing;

        /// <summary>
        /// Produces the state dictionary for <paramref name="architecture"/> in torchvision's key names,
        /// downloading and verifying a checkpoint when needed. The caller owns (and disposes) the result.
        /// </summary>
        /// <exception cref="WeightsMismatchException">These weights do not exist for that architecture.</exception>
        /// <exception cref="WeightsUnavailableException">The weights could not be downloaded or found.</exception>
        /// <exception cref="DownloadVerificationException">A downloaded or cached file has the wrong hash.</exception>
        /// <exception cref="WeightsFormatException">The file cannot be read or imported.</exception>
        internal ResolvedWeights Resolve(BackboneArchitecture architecture, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
        {
            Guard.NotNull(architecture);
            Guard.NotNull(options).Validate();
            Guard.NotNull(logger);
            ct.ThrowIfCancellationRequested();
            return _source.Resolve(this, architecture, options, logger, ct);
        }
    }

    /// <summary>A state dictionary ready to apply to a model, with the preprocessing it expects and where it came from.</summary>
    internal sealed class ResolvedWeights : IDisposable
    {
        public ResolvedWeights(Dictionary<string, torch.Tensor> stateDict, Preprocessing preprocessing, string source)
        {
            StateDict = stateDict;
            Preprocessing = preprocessing;
            Source = source;
        }

        /// <summary>Tensors keyed by torchvision's state-dict names (<c>conv1.weight</c>, <c>layer2.0.downsample.1.weight</c>...).</summary>
        public Dictionary<string, torch.Tensor> StateDict { get; }

        public Preprocessing Preprocessing { get; }

        /// <summary>Where the tensors came from (a file path, for messages and model metadata).</summary>
        public string Source { get; }

        public void Dispose()
        {
            foreach (var tensor in StateDict.Values)
            {
                tensor.Dispose();
            }

            StateDict.Clear();
        }
    }
}
