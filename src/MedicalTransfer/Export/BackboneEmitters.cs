using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Models;
using static TorchSharp.torch;

namespace MedicalTransfer.Export
{
    /// <summary>
    /// Writes one architecture's backbone (everything before the head) as ONNX nodes: from the images to the pooled,
    /// flattened features [N, <see cref="BackboneArchitecture.FeatureCount"/>]. The network's head is written after it
    /// by <see cref="BackboneNetworkEmitter"/>, so every backbone gets every exportable head.
    /// </summary>
    internal interface IBackboneEmitter
    {
        /// <summary>The architecture this emitter writes (<see cref="ResNetArchitecture"/>, ...).</summary>
        Type ArchitectureType { get; }

        /// <summary>Writes the backbone of <paramref name="network"/> applied to <paramref name="input"/>; returns the pooled features' value name.</summary>
        string EmitFeatures(OnnxEmitContext context, BackboneNetwork network, string input);
    }

    /// <summary>
    /// Any <see cref="BackboneNetwork"/> (a <see cref="TransferModel"/> or a plain torchvision network): its backbone
    /// through the emitter registered for its architecture, then the module registered under the architecture's head
    /// key (<c>fc</c>, <c>classifier</c>), under that name.
    /// </summary>
    internal sealed class BackboneNetworkEmitter : IOnnxEmitter
    {
        private static readonly Dictionary<Type, IBackboneEmitter> Backbones = new IBackboneEmitter[]
        {
            new ResNetEmitter(),
            new DenseNetEmitter(),
            new EfficientNetEmitter(),
        }.ToDictionary(e => e.ArchitectureType);

        public Type ModuleType => typeof(BackboneNetwork);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var network = (BackboneNetwork)module;
            var architecture = network.Body.Architecture;
            if (!Backbones.TryGetValue(architecture.GetType(), out var backbone))
            {
                throw new NotSupportedException(string.Format(
                    CultureInfo.InvariantCulture,
                    "ONNX export of {0} models is not available: the exporter writes {1} backbones. Use the model through TorchSharp (Predict, PredictFolder).",
                    architecture.Name,
                    string.Join(", ", Backbones.Keys.Select(t => t.Name.Replace("Architecture", string.Empty, StringComparison.Ordinal)).OrderBy(n => n, StringComparer.Ordinal))));
            }

            string features = backbone.EmitFeatures(context, network, input);
            return context.Emit(network.HeadModule, features, architecture.HeadKey);
        }
    }
}
