using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Weights
{
    /// <summary>Where a <see cref="PretrainedWeights"/> gets its tensors.</summary>
    internal abstract class WeightsSource
    {
        public virtual BackboneArchitecture? Architecture => null;

        /// <summary>The one architecture the weights fit, read from the weights themselves where they describe it (an ONNX graph); otherwise <see cref="Architecture"/>.</summary>
        public virtual BackboneArchitecture? InferArchitecture() => Architecture;

        public virtual Preprocessing? PreprocessingFor(BackboneArchitecture architecture) => null;

        public abstract ResolvedWeights Resolve(PretrainedWeights weights, BackboneArchitecture architecture, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct);

        protected static ResolvedWeights ReadCheckpoint(string path, Preprocessing preprocessing) =>
            new(StateDictFile.Read(path), preprocessing, path);
    }

    /// <summary>torchvision checkpoints chosen by architecture (one entry per architecture, or none).</summary>
    internal sealed class CatalogSource : WeightsSource
    {
        private readonly Func<BackboneArchitecture, CatalogEntry?> _pick;
        private readonly string _alternatives;
        private readonly string _variants;

        /// <param name="pick">The entry for an architecture, or null.</param>
        /// <param name="alternatives">What to use instead, for the message when there is no entry.</param>
        /// <param name="variants">What the family's architectures differ by ("depths", "widths"), for that message.</param>
        public CatalogSource(Func<BackboneArchitecture, CatalogEntry?> pick, string alternatives, string variants = "depths")
        {
            _pick = pick;
            _alternatives = alternatives;
            _variants = variants;
        }

        /// <summary>A source for exactly one checkpoint (tests inject entries with their own hashes this way).</summary>
        public static CatalogSource Single(CatalogEntry entry) =>
            new(architecture => architecture.Equals(entry.Architecture) ? entry : null, "weights made for the model's architecture");

        public override Preprocessing? PreprocessingFor(BackboneArchitecture architecture) => _pick(architecture)?.Preprocessing;

        public override ResolvedWeights Resolve(PretrainedWeights weights, BackboneArchitecture architecture, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
        {
            var entry = _pick(architecture);
            if (entry is null)
            {
                var available = WeightsCatalog.Entries.Select(e => e.Architecture).Distinct().Where(a => _pick(a) is not null).Select(a => a.Name);
                throw new WeightsMismatchException(string.Format(
                    CultureInfo.InvariantCulture,
                    "The weights '{0}' exist for {1}; the model is a {2} ({3}). Build a model of one of those {4}, or use {5}.",
                    weights.Name, string.Join(", ", available), architecture.Name, architecture, _variants, _alternatives));
            }

            string path = WeightsCache.GetOrDownload(entry, options, logger, ct);
            return ReadCheckpoint(path, entry.Preprocessing);
        }
    }

    /// <summary>A state-dict file the user already has (.pth or .safetensors).</summary>
    internal sealed class FileSource : WeightsSource
    {
        private readonly string _path;
        private readonly Preprocessing _preprocessing;
        private readonly string _origin;

        /// <param name="path">The file.</param>
        /// <param name="preprocessing">The input its weights expect.</param>
        /// <param name="origin">The call that made this source, for messages.</param>
        public FileSource(string path, Preprocessing preprocessing, string origin = "ResNetWeights.FromFile")
        {
            _path = path;
            _preprocessing = preprocessing;
            _origin = origin;
        }

        public override ResolvedWeights Resolve(PretrainedWeights weights, BackboneArchitecture architecture, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
        {
            if (!File.Exists(_path))
            {
                throw new FileNotFoundException(string.Format(CultureInfo.InvariantCulture, "The weights file '{0}' given to {1} does not exist. Check the path.", _path, _origin), _path);
            }

            // Whether the keys fit the architecture is the loader's check, with its detailed report.
            return ReadCheckpoint(_path, _preprocessing);
        }
    }

    /// <summary>A ResNet imported from an ONNX graph; its architecture is inferred from the graph.</summary>
    internal sealed class OnnxSource : WeightsSource
    {
        private readonly Func<string> _locate;
        private readonly Preprocessing _preprocessing;

        public OnnxSource(Func<string> locate, Preprocessing preprocessing, BackboneArchitecture? architecture)
        {
            _locate = locate;
            _preprocessing = preprocessing;
            Architecture = architecture;
        }

        public override BackboneArchitecture? Architecture { get; }

        public override BackboneArchitecture? InferArchitecture() => Architecture ?? OnnxResNetImporter.ReadArchitecture(_locate());

        public override ResolvedWeights Resolve(PretrainedWeights weights, BackboneArchitecture architecture, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
        {
            string path = _locate();
            var imported = OnnxResNetImporter.Import(path, logger);
            if (!imported.Architecture.Equals(architecture))
            {
                imported.Dispose();
                throw new WeightsMismatchException(string.Format(
                    CultureInfo.InvariantCulture,
                    "The ONNX model '{0}' is a {1} ({2} blocks, stages [{3}]); the model is a {4} ({5}). Build the model with ResNetArchitecture.Custom(BlockKind.{2}, {3}).",
                    path, imported.Architecture.Name, imported.Architecture.Block, string.Join(", ", imported.Architecture.StageDepths), architecture.Name, architecture));
            }

            return new ResolvedWeights(imported.StateDict, _preprocessing, path);
        }
    }
}
