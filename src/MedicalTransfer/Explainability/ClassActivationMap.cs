using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Explainability
{
    /// <summary>
    /// Base of the gradient-based class activation maps (<see cref="GradCam"/>, <see cref="GradCamPlusPlus"/>).
    /// It owns everything but the channel weights: it runs the network up to the target layer without
    /// gradients, makes that activation a fresh leaf that requires gradients under
    /// <c>torch.enable_grad()</c>, runs the rest, takes the gradient of the target class's logit with
    /// <c>torch.autograd.grad</c>, and aggregates ReLU(sum of weighted channels). So it works on a fully
    /// frozen model, in evaluation mode, and when the caller is inside <c>torch.no_grad()</c>. The model
    /// is put in evaluation mode while explaining and restored afterwards; its parameters and their
    /// gradients are not touched.
    /// A subclass overrides only <see cref="ChannelWeights"/>.
    /// </summary>
    public abstract class ClassActivationMap
    {
        /// <summary>Creates the method for a layer.</summary>
        /// <param name="layer">
        /// A backbone stage with a spatial output (for a ResNet <c>stem</c>, <c>layer1</c>..<c>layer4</c>; a DenseNet's
        /// <c>denseblock1</c>..<c>denseblock4</c>; an EfficientNet's <c>stage1</c>..<c>stage7</c>, <c>conv_head</c>), or a
        /// block of a stage whose blocks form a chain (<c>layer4.1</c>, <c>stage6.2</c>); <see langword="null"/> (the
        /// default) explains the model's <see cref="BackboneArchitecture.DefaultCamStage"/> (<c>layer4</c>,
        /// <c>denseblock4</c>, <c>conv_head</c>).
        /// </param>
        /// <exception cref="ArgumentException">The layer is no backbone stage or block of any backbone family.</exception>
        protected ClassActivationMap(string? layer = null)
        {
            if (layer is not null && !BackboneCatalog.IsStageOrBlockName(layer))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Layer '{0}' cannot be explained: expected a stage with a spatial output ({1}) or a block of one such as 'layer4.1', or null for the model's default.", layer, string.Join(", ", BackboneCatalog.StageNames)),
                    nameof(layer));
            }

            Layer = layer;
        }

        /// <summary>The stage or block whose activations are weighted, or <see langword="null"/> for each model's <see cref="BackboneArchitecture.DefaultCamStage"/>.</summary>
        public string? Layer { get; }

        /// <summary>The method's name, for captions.</summary>
        public abstract string Name { get; }

        /// <summary>
        /// Computes one weight per channel and image from the layer's activations and the gradients of
        /// the target class's logit with respect to them. The base class then forms
        /// ReLU(sum_c weight_c * activation_c) and normalises it.
        /// </summary>
        /// <param name="activations">The layer's output [N, C, h, w] (no gradient attached).</param>
        /// <param name="gradients">d logit[target] / d activations, [N, C, h, w].</param>
        /// <returns>Channel weights [N, C].</returns>
        protected abstract Tensor ChannelWeights(Tensor activations, Tensor gradients);

        /// <summary>Explains a batch of preprocessed images (as the model is fed them).</summary>
        /// <param name="model">The model; it may be frozen, in evaluation mode, or called under no_grad.</param>
        /// <param name="images">Images [N, C, H, W] (C the model's <see cref="BackboneNetwork.InputChannels"/>), preprocessed as <see cref="TransferModel.Preprocessing"/> says.</param>
        /// <param name="targetClasses">The class to explain for each image; <see langword="null"/> for each image's predicted class.</param>
        /// <returns>One explanation per image.</returns>
        /// <exception cref="ArgumentException">The tensor is not [N, C, H, W], a target is not a class index, or the layer is not in this model.</exception>
        public IReadOnlyList<Explanation> Explain(TransferModel model, Tensor images, IReadOnlyList<int>? targetClasses = null)
        {
            Guard.NotNull(model);
            Guard.NotNull(images);
            if (images.dim() != 4 || images.shape[1] != model.InputChannels)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected images [N, {0}, H, W]; found [{1}].", model.InputChannels, string.Join(", ", images.shape)), nameof(images));
            }

            int n = (int)images.shape[0];
            if (targetClasses is not null)
            {
                if (targetClasses.Count != n)
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one target class per image ({0}); found {1}.", n, targetClasses.Count), nameof(targetClasses));
                }

                foreach (int t in targetClasses)
                {
                    Guard.InRange(t, 0, model.ClassNames.Count - 1, nameof(targetClasses));
                }
            }

            using var use = model.Use.Acquire(Name + ".Explain");
            var target = Target(model);
            bool wasTraining = model.training;
            model.eval();
            try
            {
                using var scope = NewDisposeScope();
                var input = images.to(model.Device);
                Tensor activation;
                using (no_grad())
                {
                    activation = Before(model, target, input);
                }

                using (enable_grad())
                {
                    var leaf = activation.detach().requires_grad_(true);
                    var logits = After(model, target, leaf);
                    // A multi-label model's target is one finding's logit; its findings' probabilities are independent sigmoids.
                    var probabilities = (model.IsMultiLabel ? sigmoid(logits.detach().to(ScalarType.Float64)) : nn.functional.softmax(logits.detach().to(ScalarType.Float64), 1)).cpu();
                    var targets = targetClasses is null
                        ? logits.detach().argmax(1)
                        : tensor(targetClasses.Select(t => (long)t).ToArray(), device: logits.device);
                    var score = logits.gather(1, targets.unsqueeze(1)).sum();
                    if (!score.requires_grad)
                    {
                        // libtorch would abort the whole process on autograd.grad here.
                        throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The class score does not depend on the '{0}' activation through autograd; the model's later stages must be differentiable to explain it.", target.Layer));
                    }

                    var gradients = torch.autograd.grad(new[] { score }, new[] { leaf })[0];
                    var a = leaf.detach();
                    var weights = ChannelWeights(a, gradients.detach());
                    if (weights.dim() != 2 || weights.shape[0] != a.shape[0] || weights.shape[1] != a.shape[1])
                    {
                        throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "{0}.ChannelWeights returned [{1}]; expected [{2}, {3}].", GetType().Name, string.Join(", ", weights.shape), a.shape[0], a.shape[1]));
                    }

                    var map = nn.functional.relu((weights.unsqueeze(-1).unsqueeze(-1) * a).sum(1)).to(ScalarType.Float32).cpu().contiguous();
                    var low = Normalize(map);
                    var up = Normalize(nn.functional.interpolate(low.unsqueeze(1), new long[] { images.shape[2], images.shape[3] }, mode: InterpolationMode.Bilinear, align_corners: false).squeeze(1).contiguous());
                    return Collect(model, target.Layer, low, up, probabilities, targets.cpu());
                }
            }
            finally
            {
                model.train(wasTraining);
            }
        }

        /// <summary>Explains image files: each is preprocessed as the model expects (resize, center crop, normalise).</summary>
        /// <param name="model">The model.</param>
        /// <param name="imagePaths">Image files.</param>
        /// <param name="targetClass">The class to explain for every image, by name; <see langword="null"/> for each image's predicted class.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>One explanation per file, in order. <see cref="Explanation.Upsampled"/> is in the crop's frame; see <see cref="HeatmapOverlay"/> to show it on the original image.</returns>
        public IReadOnlyList<Explanation> Explain(TransferModel model, IReadOnlyList<string> imagePaths, string? targetClass = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotEmpty(imagePaths);
            int? target = targetClass is null ? null : ClassIndex(model.ClassNames, targetClass);
            using var use = model.Use.Acquire(Name + ".Explain");
            var result = new List<Explanation>(imagePaths.Count);
            foreach (var batch in Load(model.ClassNames, imagePaths, model.Preprocessing, cancellationToken))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    result.AddRange(Explain(model, batch.Images, target is null ? null : Enumerable.Repeat(target.Value, batch.Count).ToArray()));
                }
            }

            return result;
        }

        /// <summary>
        /// Explains the <paramref name="k"/> most probable findings of one image of a multi-label model (issue 13): one
        /// explanation per finding, each of that finding's logit, most probable first (ties: the earlier finding first).
        /// Each map is normalised to its own maximum, so panels show where the model looks for each finding, not how
        /// strongly one finding's evidence compares with another's; compare the probabilities for that.
        /// Draw them as a grid with the Reporting package's <c>ExplanationGrid.SaveTopFindings</c>.
        /// </summary>
        /// <param name="model">A multi-label model.</param>
        /// <param name="imagePath">The image file.</param>
        /// <param name="k">How many findings, from 1 to the model's number of findings; the default is 3 (or all, when fewer).</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The explanations, most probable finding first.</returns>
        /// <exception cref="ArgumentException">The model is single-label, or <paramref name="k"/> is out of range.</exception>
        public IReadOnlyList<Explanation> ExplainTopFindings(TransferModel model, string imagePath, int? k = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNullOrWhiteSpace(imagePath);
            if (!model.IsMultiLabel)
            {
                throw new ArgumentException("The model is single-label (classes " + string.Join(", ", model.ClassNames) + "); the top findings of an image need a model built with ForFindings(...). Use Explain(model, imagePaths) for the predicted class.", nameof(model));
            }

            int count = k ?? Math.Min(3, model.Findings.Count);
            Guard.InRange(count, 1, model.Findings.Count, nameof(k));
            using var use = model.Use.Acquire(Name + ".ExplainTopFindings");
            foreach (var batch in Load(model.ClassNames, new[] { imagePath }, model.Preprocessing, cancellationToken))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var probabilities = Explain(model, batch.Images)[0].Probabilities;
                    var top = Enumerable.Range(0, probabilities.Count).OrderByDescending(j => probabilities[j]).ThenBy(j => j).Take(count).ToArray();
                    return Explain(model, batch.Images.repeat(count, 1, 1, 1), top);
                }
            }

            throw new InvalidOperationException("The loader returned no batch for '" + imagePath + "'.");
        }

        /// <summary>
        /// Explains image files with an ensemble: the target is the ENSEMBLE's predicted class (or
        /// <paramref name="targetClass"/>), explained in every member; each member's map is projected onto
        /// the original image (members may preprocess differently), and the maps are averaged.
        /// </summary>
        /// <param name="ensemble">The ensemble.</param>
        /// <param name="imagePaths">Image files.</param>
        /// <param name="targetClass">The class to explain, by name; <see langword="null"/> for the ensemble's predicted class.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>One explanation per file.</returns>
        public IReadOnlyList<EnsembleExplanation> Explain(Ensemble ensemble, IReadOnlyList<string> imagePaths, string? targetClass = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(ensemble);
            Guard.NotEmpty(imagePaths);
            var classes = ensemble.ClassNames;
            int? chosen = targetClass is null ? null : ClassIndex(classes, targetClass);

            // First pass: each member's probabilities, combined by the ensemble's own rule.
            var memberPredictions = ensemble.Members.Select(m => Evaluator.Predict(m, Dataset(classes, imagePaths), new PredictionOptions { Loader = EvaluationLoader() }, cancellationToken)).ToArray();
            var combined = ensemble.Combine(memberPredictions);
            var targets = Enumerable.Range(0, imagePaths.Count).Select(i => chosen ?? combined.PredictedLabels[i]).ToArray();

            var perMember = ensemble.Members.Select(m =>
            {
                var explanations = new List<Explanation>(imagePaths.Count);
                int offset = 0;
                foreach (var batch in Load(classes, imagePaths, m.Preprocessing, cancellationToken))
                {
                    using (batch)
                    using (NewDisposeScope())
                    {
                        explanations.AddRange(Explain(m, batch.Images, targets.Skip(offset).Take(batch.Count).ToArray()));
                        offset += batch.Count;
                    }
                }

                return explanations;
            }).ToArray();

            var result = new List<EnsembleExplanation>(imagePaths.Count);
            for (int i = 0; i < imagePaths.Count; i++)
            {
                var (width, height) = HeatmapOverlay.ImageSize(imagePaths[i]);
                var maps = ensemble.Members.Select((m, k) => HeatmapOverlay.ToImageFrame(perMember[k][i].LowResolution, m.Preprocessing, width, height)).ToArray();
                var mean = new float[width * height];
                for (int k = 0; k < maps.Length; k++)
                {
                    var raw = maps[k].Raw;
                    for (int p = 0; p < mean.Length; p++)
                    {
                        mean[p] += raw[p] * (float)ensemble.Weights[k];
                    }
                }

                result.Add(new EnsembleExplanation(
                    targets[i], classes[targets[i]], combined.PredictedLabels[i], classes[combined.PredictedLabels[i]], combined.Probability(i, targets[i]),
                    perMember.Select(e => e[i]).ToArray(), maps, new Heatmap(width, height, Heatmap.Normalize(mean))));
            }

            return result;
        }

        private static int ClassIndex(IReadOnlyList<string> classes, string name)
        {
            int index = classes.ToList().IndexOf(name);
            if (index < 0)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Class '{0}' is not one of the model's classes ({1}).", name, string.Join(", ", classes)), nameof(name));
            }

            return index;
        }

        private static LoaderOptions EvaluationLoader() => new() { Sampling = SamplingMode.Sequential, BatchSize = 16, Workers = 1 };

        private static ImageDataset Dataset(IReadOnlyList<string> classes, IReadOnlyList<string> paths) =>
            new(string.Empty, classes, paths.Select(p => new ImageSample(Guard.NotNullOrWhiteSpace(p, nameof(paths)), 0)).ToArray(), 0);

        private static IEnumerable<Batch> Load(IReadOnlyList<string> classes, IReadOnlyList<string> paths, Preprocessing preprocessing, CancellationToken cancellationToken)
        {
            var loader = new DataLoader(Dataset(classes, paths), Transforms.ForEvaluation(preprocessing), EvaluationLoader());
            return DataLoader.Owning(loader, loader.GetBatches(0, cancellationToken));
        }

        /// <summary>The layer to explain in this model: a backbone stage, or a block of a stage whose blocks form a chain.</summary>
        private CamTarget Target(TransferModel model)
        {
            var architecture = model.Architecture;
            string layer = Layer ?? architecture.DefaultCamStage;
            if (architecture.FindStage(layer) is not null)
            {
                return new CamTarget(layer, layer, null, -1);
            }

            int dot = layer.IndexOf('.', StringComparison.Ordinal);
            string stage = dot > 0 ? layer[..dot] : layer;
            var layout = architecture.FindStage(stage);
            if (layout is null)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Layer '{0}' does not exist in this {1}: its stages with a spatial output are {2}.", layer, architecture.Name, string.Join(", ", architecture.BackboneStageNames)), "layer");
            }

            if (!layout.BlocksAreChain)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Layer '{0}' cannot be explained: the blocks of {1} in a {2} do not form a chain (each reads the outputs of all earlier ones). Explain the stage '{1}' instead.", layer, stage, architecture.Name), "layer");
            }

            var found = architecture.FindBlock(layer);
            if (found is null)
            {
                string Short(int i) => layout.Blocks[i].Name[(stage.Length + 1)..];
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Layer '{0}' does not exist: {1} of this {2} has {3} blocks ({4} to {5}).", layer, stage, architecture.Name, layout.Blocks.Count, Short(0), Short(layout.Blocks.Count - 1)), "layer");
            }

            int index = architecture.StageIndex(stage);
            var blocks = model.Body.ChainBlocks(index) ?? throw new InvalidOperationException("The backbone of " + architecture.Name + " does not expose the blocks of " + stage + ".");
            return new CamTarget(layer, stage, blocks, found.Value.Index);
        }

        private static Tensor Before(TransferModel model, CamTarget target, Tensor input)
        {
            if (target.Blocks is null)
            {
                return model.ForwardTo(input, target.Stage);
            }

            var x = model.ForwardTo(input, model.Architecture.StageNames[model.Architecture.StageIndex(target.Stage) - 1]);
            for (int j = 0; j <= target.Block; j++)
            {
                x = target.Blocks[j].call(x);
            }

            return x;
        }

        private static Tensor After(TransferModel model, CamTarget target, Tensor activation)
        {
            var x = activation;
            if (target.Blocks is not null)
            {
                for (int j = target.Block + 1; j < target.Blocks.Count; j++)
                {
                    x = target.Blocks[j].call(x);
                }
            }

            return model.ForwardFrom(x, target.Stage);
        }

        /// <summary>Divides each map [N, h, w] by its maximum; all-zero maps stay zero.</summary>
        private static Tensor Normalize(Tensor maps)
        {
            var max = maps.amax(new long[] { 1, 2 }, keepdim: true);
            return where(max > 0, maps / max.clamp_min(1e-30), zeros_like(maps)).clamp(0, 1);
        }

        private static IReadOnlyList<Explanation> Collect(TransferModel model, string layer, Tensor low, Tensor up, Tensor probabilities, Tensor targets)
        {
            int n = (int)low.shape[0];
            int h = (int)low.shape[1], w = (int)low.shape[2], uh = (int)up.shape[1], uw = (int)up.shape[2];
            var lowValues = low.data<float>().ToArray();
            var upValues = up.data<float>().ToArray();
            var p = probabilities.data<double>().ToArray();
            var t = targets.data<long>().ToArray();
            int k = model.ClassNames.Count;
            var result = new Explanation[n];
            for (int i = 0; i < n; i++)
            {
                var row = p.AsSpan(i * k, k).ToArray();
                int predicted = Predictions.Argmax(row);
                result[i] = new Explanation(
                    layer, (int)t[i], model.ClassNames[(int)t[i]], row, predicted, model.ClassNames[predicted],
                    new Heatmap(w, h, lowValues.AsSpan(i * h * w, h * w).ToArray()),
                    new Heatmap(uw, uh, upValues.AsSpan(i * uh * uw, uh * uw).ToArray()));
            }

            return result;
        }
    }

    /// <summary>
    /// Grad-CAM (Selvaraju et al., 2017): each channel is weighted by the mean over space of the
    /// gradient of the class score.
    /// </summary>
    public sealed class GradCam : ClassActivationMap
    {
        /// <summary>Creates Grad-CAM for a layer.</summary>
        /// <param name="layer">A stage or block, for example <c>layer3</c> or <c>layer3.5</c>; <see langword="null"/> (the default) for the model's default stage (<c>layer4</c>, <c>denseblock4</c>, <c>conv_head</c>).</param>
        public GradCam(string? layer = null) : base(layer) { }

        /// <inheritdoc />
        public override string Name => "Grad-CAM";

        /// <inheritdoc />
        protected override Tensor ChannelWeights(Tensor activations, Tensor gradients) => Guard.NotNull(gradients).mean(new long[] { 2, 3 });
    }

    /// <summary>
    /// Grad-CAM++ (Chattopadhay et al., 2018): channel weights from positive gradients, each
    /// location weighted by a second/third-order term, which localises several instances of a class
    /// better than Grad-CAM (formula as pytorch-grad-cam computes it).
    /// </summary>
    public sealed class GradCamPlusPlus : ClassActivationMap
    {
        /// <summary>Creates Grad-CAM++ for a layer.</summary>
        /// <param name="layer">A stage or block, for example <c>layer4.1</c>; <see langword="null"/> (the default) for the model's default stage.</param>
        public GradCamPlusPlus(string? layer = null) : base(layer) { }

        /// <inheritdoc />
        public override string Name => "Grad-CAM++";

        /// <inheritdoc />
        protected override Tensor ChannelWeights(Tensor activations, Tensor gradients)
        {
            Guard.NotNull(activations);
            Guard.NotNull(gradients);
            using var scope = NewDisposeScope();
            var g2 = gradients.pow(2);
            var g3 = g2 * gradients;
            var sum = activations.sum(new long[] { 2, 3 }, keepdim: true);
            var alpha = g2 / ((2 * g2) + (sum * g3) + 1e-6);
            alpha = where(gradients != 0, alpha, zeros_like(alpha));
            return (nn.functional.relu(gradients) * alpha).sum(new long[] { 2, 3 }).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Where an explanation stops the forward pass: a stage, or block <c>Block</c> of a chained stage.</summary>
    internal sealed record CamTarget(string Layer, string Stage, IReadOnlyList<nn.Module<Tensor, Tensor>>? Blocks, int Block);
}
