using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Freezing;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging;
using Log = MedicalTransfer.Internal.Log;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer
{
    /// <summary>
    /// Fluent entry point: describe a transfer-learning model, then <see cref="Build"/> it.
    /// The builder holds only a description and allocates no tensors until <see cref="Build"/>; it
    /// checks each argument when given and the combination at <see cref="Build"/>, reporting every
    /// problem in one message.
    /// </summary>
    /// <example>
    /// <code>
    /// using var model = TransferBuilder.FromResNet(50)
    ///     .WithPretrained(ResNetWeights.ImageNet)
    ///     .Freeze(Layers.UpTo(2))
    ///     .WithHead(Head.Mlp(512))
    ///     .ForClasses("NORMAL", "PNEUMONIA")
    ///     .Build();
    /// </code>
    /// </example>
    public sealed class TransferBuilder
    {
        private readonly BackboneArchitecture _architecture;
        private readonly List<string> _problems = new();
        private string? _weightsPath;
        private PretrainedWeights? _pretrained;
        private PretrainedWeightsOptions? _pretrainedOptions;
        private bool _strictWeights = true;
        private FreezeSpec? _freeze;
        private bool _trainBatchNorm;
        private HeadSpec? _head;
        private string[]? _classes;
        private TaskKind _task;
        private Device? _device;
        private Preprocessing? _preprocessing;
        private int? _seed;
        private int? _inputChannels;
        private ILogger _logger = NullLogger.Instance;

        private TransferBuilder(BackboneArchitecture architecture) => _architecture = architecture;

        /// <summary>The task the builder describes so far (single-label unless <see cref="ForFindings(string[])"/> was called), read by runners that check it against their data before training.</summary>
        internal TaskKind Kind => _task;

        /// <summary>The class names or findings given so far, or <see langword="null"/> before ForClasses/ForFindings.</summary>
        internal IReadOnlyList<string>? Outputs => _classes;

        /// <summary>Starts from a torchvision ResNet of a standard depth.</summary>
        /// <param name="depth">18, 34, 50, 101 or 152 (the article suggests deeper networks only for more data).</param>
        /// <returns>A builder.</returns>
        /// <exception cref="ArgumentException"><paramref name="depth"/> is not supported; the message lists the supported depths.</exception>
        public static TransferBuilder FromResNet(int depth) => new(ResNetArchitecture.ForDepth(depth));

        /// <summary>Starts from any ResNet layout, for example <c>ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3)</c>.</summary>
        /// <param name="architecture">Block type and stage depths.</param>
        /// <returns>A builder.</returns>
        public static TransferBuilder FromResNet(ResNetArchitecture architecture) => new(Guard.NotNull(architecture));

        /// <summary>Starts from a torchvision DenseNet-BC of a standard depth; DenseNet-121 is CheXNet's backbone.</summary>
        /// <param name="depth">121, 161, 169 or 201.</param>
        /// <returns>A builder.</returns>
        /// <exception cref="ArgumentException"><paramref name="depth"/> is not supported; the message lists the supported depths.</exception>
        public static TransferBuilder FromDenseNet(int depth) => new(DenseNetArchitecture.ForDepth(depth));

        /// <summary>Starts from any DenseNet-BC layout, for example <c>DenseNetArchitecture.Custom(16, 32, 4, 8, 12, 8)</c>.</summary>
        /// <param name="architecture">Growth rate, first-convolution width and dense-block depths.</param>
        /// <returns>A builder.</returns>
        public static TransferBuilder FromDenseNet(DenseNetArchitecture architecture) => new(Guard.NotNull(architecture));

        /// <summary>Starts from a torchvision EfficientNet of a width, B0 to B7.</summary>
        /// <param name="width">0 (B0) to 7 (B7).</param>
        /// <returns>A builder.</returns>
        /// <exception cref="ArgumentException"><paramref name="width"/> is not 0 to 7.</exception>
        public static TransferBuilder FromEfficientNet(int width) => new(EfficientNetArchitecture.ForWidth(width));

        /// <summary>Starts from an EfficientNet architecture.</summary>
        /// <param name="architecture">The width.</param>
        /// <returns>A builder.</returns>
        public static TransferBuilder FromEfficientNet(EfficientNetArchitecture architecture) => new(Guard.NotNull(architecture));

        /// <summary>Starts from any backbone, for example one of <see cref="ResNetArchitecture"/>, <see cref="DenseNetArchitecture"/> or <see cref="EfficientNetArchitecture"/>.</summary>
        /// <param name="architecture">The backbone's architecture.</param>
        /// <returns>A builder.</returns>
        public static TransferBuilder From(BackboneArchitecture architecture) => new(Guard.NotNull(architecture));

        /// <summary>
        /// Starts from the one architecture a set of pretrained weights is made for, for example
        /// <see cref="ResNetWeights.MLNetResNet18"/> (basic blocks, stages [2, 2, 2, 3]), and loads them. For
        /// <see cref="ResNetWeights.FromOnnx"/> the block type and stage depths are read from the graph here (no
        /// tensor is created until <see cref="Build"/>).
        /// </summary>
        /// <param name="weights">Weights whose architecture is fixed or described by their file.</param>
        /// <param name="options">Download, cache and offline settings; the default is <see cref="PretrainedWeightsOptions.Default"/>.</param>
        /// <returns>A builder.</returns>
        /// <exception cref="ArgumentException">The weights exist for several depths; use <see cref="FromResNet(int)"/> and <see cref="WithPretrained"/>.</exception>
        /// <exception cref="FileNotFoundException">The ONNX file of <see cref="ResNetWeights.FromOnnx"/> does not exist.</exception>
        /// <exception cref="WeightsFormatException">The ONNX graph is not a ResNet the importer maps; the message names the first node that is not.</exception>
        public static TransferBuilder FromPretrained(PretrainedWeights weights, PretrainedWeightsOptions? options = null)
        {
            Guard.NotNull(weights);
            var architecture = weights.Architecture ?? weights.InferArchitecture() ?? throw new ArgumentException(
                $"'{weights.Name}' exists for several architectures; choose one with TransferBuilder.FromResNet(depth).WithPretrained(weights).", nameof(weights));
            return new TransferBuilder(architecture).WithPretrained(weights, options);
        }

        /// <summary>
        /// Initialises the backbone from pretrained weights, for example <see cref="ResNetWeights.ImageNet"/>:
        /// torchvision's checkpoint for this depth is downloaded once, verified, cached and loaded when the
        /// model is built. The weights also set the model's <see cref="TransferModel.Preprocessing"/>.
        /// </summary>
        /// <param name="weights">From <see cref="ResNetWeights"/>.</param>
        /// <param name="options">Download, cache and offline settings; the default is <see cref="PretrainedWeightsOptions.Default"/>.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder WithPretrained(PretrainedWeights weights, PretrainedWeightsOptions? options = null)
        {
            Guard.NotNull(weights);
            options?.Validate();
            if (_pretrained is not null)
            {
                _problems.Add($"Pretrained weights were given twice ('{_pretrained.Name}' and '{weights.Name}'): call WithPretrained once.");
            }

            _pretrained = weights;
            _pretrainedOptions = options;
            return this;
        }

        /// <summary>
        /// Initialises the network from a weights file: a PyTorch <c>state_dict</c> saved with
        /// <c>torch.save</c> (<c>.pth</c>/<c>.pt</c>), a <c>.safetensors</c> file, or a model saved by
        /// <see cref="TransferModel.Save"/>. The source's classifier keys are skipped when the new head differs.
        /// </summary>
        /// <param name="path">The file.</param>
        /// <param name="strict">When <see langword="true"/> (the default) every backbone key must match; otherwise only matching keys are copied and the rest reported.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder WithWeights(string path, bool strict = true)
        {
            Guard.NotNullOrWhiteSpace(path);
            if (_weightsPath is not null)
            {
                _problems.Add($"Weights were given twice ('{_weightsPath}' and '{path}'): call WithWeights once.");
            }

            _weightsPath = path;
            _strictWeights = strict;
            return this;
        }

        /// <summary>Freezes what <paramref name="spec"/> names; see <see cref="Layers"/>.</summary>
        /// <param name="spec">For example <c>Layers.UpTo(2)</c>.</param>
        /// <param name="trainBatchNorm">Let frozen stages' BatchNorm layers keep updating running statistics; the default keeps them fixed.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder Freeze(FreezeSpec spec, bool trainBatchNorm = false)
        {
            Guard.NotNull(spec);
            if (_freeze is not null)
            {
                _problems.Add($"Freeze was called twice ({_freeze.Description} and {spec.Description}): call it once with the spec you want.");
            }

            _freeze = spec;
            _trainBatchNorm = trainBatchNorm;
            return this;
        }

        /// <summary>Sets the classifier head; the default is <see cref="MedicalTransfer.Head.Linear"/>.</summary>
        /// <param name="head">For example <c>Head.Mlp(512)</c>.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder WithHead(HeadSpec head)
        {
            Guard.NotNull(head);
            if (_head is not null)
            {
                _problems.Add($"Two heads were given ({_head.Layout} and {head.Layout}): call WithHead once.");
            }

            _head = head;
            return this;
        }

        /// <summary>Names the classes, in the order of the logits (and of the data's class indices).</summary>
        /// <param name="classNames">At least two distinct, non-empty names.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder ForClasses(params string[] classNames)
        {
            Guard.NotNull(classNames);
            if (classNames.Length < 2)
            {
                throw new ArgumentException($"A classifier needs at least two classes; found {classNames.Length}.", nameof(classNames));
            }

            var blank = Array.FindIndex(classNames, string.IsNullOrWhiteSpace);
            if (blank >= 0)
            {
                throw new ArgumentException($"Class name at index {blank} is empty.", nameof(classNames));
            }

            var duplicate = classNames.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                throw new ArgumentException($"Class name '{duplicate.Key}' appears {duplicate.Count()} times; names must be distinct.", nameof(classNames));
            }

            if (_classes is not null)
            {
                _problems.Add(_task == TaskKind.MultiLabel ? "Both ForFindings and ForClasses were called: a model is single-label (ForClasses) or multi-label (ForFindings), not both." : "ForClasses was called twice: call it once with all class names.");
            }

            _classes = (string[])classNames.Clone();
            return this;
        }

        /// <summary>
        /// Names the classes, in the order of the logits, from any sequence: <c>.ForClasses(splits.Train.Classes)</c>
        /// takes a dataset's classes in its label order.
        /// </summary>
        /// <param name="classNames">At least two distinct, non-empty names.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder ForClasses(IEnumerable<string> classNames) => ForClasses(Guard.NotNull(classNames).ToArray());

        /// <summary>
        /// Names the 1000 ImageNet-1k classes in torchvision's order (<see cref="ImageNetClasses.Names"/>): with
        /// <see cref="ResNetWeights.ImageNet"/> (and no other head than the default linear one) the checkpoint's own
        /// classifier is loaded, so the model is torchvision's ImageNet classifier.
        /// </summary>
        /// <returns>This builder.</returns>
        public TransferBuilder ForImageNetClasses() => ForClasses(ImageNetClasses.Names);

        /// <summary>
        /// Makes a multi-label model (<see cref="TaskKind.MultiLabel"/>, CheXNet/CheXpert style): one logit per finding, in this
        /// order, each read through its own sigmoid, so an image can show several findings at once. Train it on a table with
        /// finding columns (<see cref="ImageTable"/>); see docs/multi-label.md. Use instead of <see cref="ForClasses(string[])"/>.
        /// </summary>
        /// <param name="findings">At least one distinct, non-empty finding name, for example "Atelectasis", "Cardiomegaly".</param>
        /// <returns>This builder.</returns>
        public TransferBuilder ForFindings(params string[] findings)
        {
            Guard.NotNull(findings);
            if (findings.Length < 1)
            {
                throw new ArgumentException("A multi-label model needs at least one finding; found none.", nameof(findings));
            }

            var blank = Array.FindIndex(findings, string.IsNullOrWhiteSpace);
            if (blank >= 0)
            {
                throw new ArgumentException($"Finding name at index {blank} is empty.", nameof(findings));
            }

            var duplicate = findings.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                throw new ArgumentException($"Finding '{duplicate.Key}' appears {duplicate.Count()} times; names must be distinct.", nameof(findings));
            }

            if (_classes is not null)
            {
                _problems.Add(_task == TaskKind.MultiLabel ? "ForFindings was called twice: call it once with all findings." : "Both ForClasses and ForFindings were called: a model is single-label (ForClasses) or multi-label (ForFindings), not both.");
            }

            _classes = (string[])findings.Clone();
            _task = TaskKind.MultiLabel;
            return this;
        }

        /// <summary>Makes a multi-label model; see <see cref="ForFindings(string[])"/>.</summary>
        /// <param name="findings">At least one distinct, non-empty finding name, for example a multi-label dataset's <c>Findings</c>.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder ForFindings(IEnumerable<string> findings) => ForFindings(Guard.NotNull(findings).ToArray());

        /// <summary>Places the model on a device; the default is CUDA when available, else CPU.</summary>
        /// <param name="device">For example <c>torch.CPU</c> or <c>torch.CUDA</c>.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder OnDevice(Device device)
        {
            _device = Guard.NotNull(device);
            return this;
        }

        /// <summary>Overrides the preprocessing the model declares; the default is the weights' own (ImageNet's for torchvision files).</summary>
        /// <param name="preprocessing">The preprocessing data pipelines should apply.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder WithPreprocessing(Preprocessing preprocessing)
        {
            _preprocessing = Guard.NotNull(preprocessing).Validate();
            return this;
        }

        /// <summary>
        /// Builds the model for images with <paramref name="channels"/> channels. With 1, the backbone's first
        /// convolution takes gray images directly: pretrained RGB weights are summed over their three input channels
        /// when loaded (timm's <c>adapt_input_conv</c>), so the model computes exactly what the RGB model computes on
        /// three copies of the normalised gray plane; the preprocessing then has one mean and one standard deviation
        /// (the averages of the weights' three), and loaders built from it deliver one channel instead of three copies.
        /// </summary>
        /// <param name="channels">1 (gray) or 3 (RGB, the default).</param>
        /// <returns>This builder.</returns>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is neither 1 nor 3.</exception>
        public TransferBuilder WithInputChannels(int channels)
        {
            if (channels is not (1 or 3))
            {
                throw new ArgumentOutOfRangeException(nameof(channels), channels, "A backbone takes 1 (gray) or 3 (RGB) input channels.");
            }

            if (_inputChannels is not null)
            {
                _problems.Add($"WithInputChannels was called twice ({_inputChannels} and {channels}): call it once.");
            }

            _inputChannels = channels;
            return this;
        }

        /// <summary>
        /// Initialises the network (before any weights are loaded) from a private generator with this seed,
        /// so the same seed gives the same model whatever else uses TorchSharp's global generator.
        /// </summary>
        /// <param name="seed">The seed.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder WithSeed(int seed)
        {
            _seed = seed;
            return this;
        }

        /// <summary>Logs what <see cref="Build"/> does (weights loaded, heads skipped, parameters trainable).</summary>
        /// <param name="logger">The logger; the default discards messages.</param>
        /// <returns>This builder.</returns>
        public TransferBuilder WithLogger(ILogger logger)
        {
            _logger = Guard.NotNull(logger);
            return this;
        }

        /// <summary>Creates the model, loads (and if needed downloads) weights, applies freezing and moves it to the device.</summary>
        /// <param name="cancellationToken">Cancels a download of pretrained weights.</param>
        /// <returns>The model, in training mode.</returns>
        /// <exception cref="InvalidOperationException">The description is incomplete or contradictory; the message lists every problem and what to change.</exception>
        /// <exception cref="WeightsMismatchException">The weights do not fit the architecture.</exception>
        /// <exception cref="WeightsFormatException">The weights file cannot be read.</exception>
        /// <exception cref="NativeLibraryException">TorchSharp's native library cannot load.</exception>
        /// <exception cref="DownloadVerificationException">A downloaded or cached checkpoint has the wrong hash.</exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
        public TransferModel Build(CancellationToken cancellationToken = default)
        {
            var problems = new List<string>(_problems);
            if (_classes is null)
            {
                problems.Add("No classes were given: call ForClasses(\"NORMAL\", \"PNEUMONIA\") with your class names, or ForFindings(...) for a multi-label model.");
            }

            if (_freeze is not null)
            {
                try
                {
                    _freeze.For(_architecture);
                }
                catch (ArgumentException ex)
                {
                    problems.Add(ex.Message);
                }
            }

            if (_weightsPath is not null && _pretrained is not null)
            {
                problems.Add($"Both a weights file ('{_weightsPath}') and pretrained weights ('{_pretrained.Name}') were given: keep one of WithWeights and WithPretrained.");
            }

            if (_pretrained?.Architecture is { } fixedArchitecture && !fixedArchitecture.Equals(_architecture))
            {
                problems.Add($"'{_pretrained.Name}' is made for {fixedArchitecture.Name} ({fixedArchitecture}), not {_architecture.Name}: start with TransferBuilder.FromPretrained(weights) or FromResNet(ResNetArchitecture.Custom(...)) with that layout.");
            }

            if (_inputChannels == 3 && _preprocessing is { Channels: 1 })
            {
                problems.Add("WithInputChannels(3) was given with a one-channel preprocessing (WithPreprocessing): give a preprocessing with three means and standard deviations, or build for gray images with WithInputChannels(1).");
            }

            if (_weightsPath is not null && !File.Exists(_weightsPath))
            {
                problems.Add($"The weights file '{Path.GetFullPath(_weightsPath)}' does not exist: check the path given to WithWeights.");
            }

            if (problems.Count > 0)
            {
                throw new InvalidOperationException(
                    $"TransferBuilder cannot build the {_architecture.Name} model:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)));
            }

            TorchRuntime.EnsureAvailable();
            var preprocessing = _preprocessing
                ?? _pretrained?.PreprocessingFor(_architecture)
                ?? (_weightsPath is null ? null : SavedPreprocessing(_weightsPath))
                ?? _architecture.Preprocessing;
            int channels = _inputChannels ?? preprocessing.Channels;
            if (channels == 1 && preprocessing.Channels == 3)
            {
                preprocessing = SingleChannelInput.Preprocessing(preprocessing);
            }
            else if (channels == 3 && preprocessing.Channels == 1)
            {
                throw new InvalidOperationException(
                    $"TransferBuilder cannot build the {_architecture.Name} model:" + Environment.NewLine + $"  - WithInputChannels(3) was given, but the weights file '{_weightsPath}' is a model for gray images (one-channel preprocessing): build it with WithInputChannels(1).");
            }

            var model = new TransferModel(_architecture, channels, _head ?? Head.Linear(), _classes!, preprocessing, _task);
            try
            {
                if (_seed is int seed)
                {
                    using var generator = new torch.Generator((ulong)seed);
                    Initialization.Reset(model, generator);
                }

                if (_weightsPath is not null)
                {
                    var tensors = StateDictFile.Read(_weightsPath);
                    try
                    {
                        model.WeightsReport = WeightLoader.Apply(model, tensors, _weightsPath, _strictWeights);
                    }
                    finally
                    {
                        foreach (var t in tensors.Values)
                        {
                            t.Dispose();
                        }
                    }

                    Log.WeightsLoaded(_logger, model.WeightsReport.ToString());
                }

                if (_pretrained is not null)
                {
                    using var resolved = _pretrained.Resolve(_architecture, _pretrainedOptions ?? PretrainedWeightsOptions.Default, _logger, cancellationToken);
                    model.WeightsReport = WeightLoader.Apply(model, resolved.StateDict, resolved.Source);
                    Log.WeightsLoaded(_logger, model.WeightsReport.ToString());
                }

                // Also resets requires_grad, which some readers clear on every loaded parameter.
                model.Freeze(_freeze ?? Layers.None, _trainBatchNorm);
                model.to(_device ?? TorchRuntime.DefaultDevice());
            }
            catch
            {
                model.Dispose();
                throw;
            }

            var summary = model.Summary();
            Log.ModelBuilt(_logger, channels == 1 ? _architecture.Name + " (gray input)" : _architecture.Name, _classes!.Length, model.Head.Layout, model.FreezeSpec.ToString(), model.Device.ToString(), summary.TrainableParameters, summary.TotalParameters);
            return model;
        }

        // A model saved by TransferModel.Save carries its preprocessing; plain state dicts do not.
        private static Preprocessing? SavedPreprocessing(string path)
        {
            using (var stream = File.OpenRead(path))
            {
                Span<byte> magic = stackalloc byte[2];
                if (stream.Read(magic) < 2 || (magic[0] == (byte)'P' && magic[1] == (byte)'K'))
                {
                    return null;
                }
            }

            var metadata = StateDictFile.ReadSafetensorsMetadata(path);
            return metadata.TryGetValue("format", out var f) && f == TransferModel.FormatName && metadata.TryGetValue("preprocessing", out var json)
                ? PreprocessingJson.Parse(json)
                : null;
        }
    }
}
