using System;
using System.Collections.Generic;
using System.Globalization;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// A network made of a backbone and a classifier head: <see cref="ResNet"/>, <see cref="DenseNet"/>,
    /// <see cref="EfficientNet"/> (the plain torchvision networks) and <see cref="TransferModel"/>. The backbone's
    /// modules and the head sit at the top level under torchvision's names, so the state dict has exactly
    /// torchvision's keys. The stages are those of the architecture (<see cref="BackboneArchitecture.StageNames"/>),
    /// and <see cref="ForwardTo"/> and <see cref="ForwardFrom"/> run part of the network.
    /// </summary>
    public abstract class BackboneNetwork : nn.Module<Tensor, Tensor>
    {
        // Not registered by reflection (see RegisterComponents): the backbone's modules and the head are registered under torchvision's names.
        private readonly Backbone _body;
        private readonly nn.Module<Tensor, Tensor> _classifier;
        private readonly nn.Module<Tensor, Tensor> _headModule;

        private protected BackboneNetwork(string name, Backbone body, nn.Module<Tensor, Tensor> head)
            : base(name)
        {
            _body = Guard.NotNull(body);
            _headModule = Guard.NotNull(head);
            _classifier = body.Architecture.WrapHead(head);
            foreach (var (moduleName, module) in body.Modules)
            {
                register_module(moduleName, module);
            }

            register_module(body.Architecture.HeadKey, _classifier);
        }

        /// <summary>Channels of the images the network takes: 3, or 1 for a network built for gray input.</summary>
        public int InputChannels => _body.InputChannels;

        /// <summary>
        /// Whether the backbone's stages run with channels-last activations on the CPU (the input is copied once into
        /// that layout and the convolutions keep it), which oneDNN's convolutions can compute faster; results equal
        /// the NCHW ones within floating-point reordering (docs/training.md), but an image alone and the same image in
        /// a batch may then differ in the last bits. Outputs keep their shapes; a feature map from
        /// <see cref="ForwardTo"/> may be channels-last in memory (call <c>contiguous()</c> before reading its raw
        /// data). Has no effect on CUDA. Off by default until it is measured faster on a quiet machine
        /// (docs/performance.md).
        /// </summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool ChannelsLast { get; set; }

        /// <summary>
        /// Whether a convolution followed by a BatchNorm in evaluation mode (a frozen stage while training, every
        /// stage in evaluation mode) runs as one convolution with bias whose weights are folded from the current
        /// parameters and running statistics at each call. A runtime view: parameters, state dict and checkpoints
        /// are unchanged, and a trainable stage in training mode is never folded. What folds: every BatchNorm of a
        /// ResNet and of an EfficientNet (each follows its convolution); in a DenseNet only <c>norm0</c> (into
        /// <c>conv0</c>) and each dense layer's <c>norm2</c> (into its <c>conv1</c>), 59 of DenseNet-121's 121. A
        /// DenseNet's other BatchNorms (each dense layer's <c>norm1</c>, the transitions' <c>norm</c>, <c>norm5</c>)
        /// are pre-activation: they normalise a concatenation ahead of a ReLU, no convolution computes exactly their
        /// input and a ReLU separates them from the next one, so they cannot fold and run as BatchNorms.
        /// Off by default until it is measured faster on a quiet machine (docs/performance.md).
        /// </summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool FoldBatchNorm { get; set; }

        /// <summary>Precision of the backbone's stages when autograd is off (prediction, evaluation); set by their options for the duration of a call.</summary>
        internal ComputePrecision InferencePrecision { get; set; }

        /// <summary>Whether the backbone can compute in <see cref="ComputePrecision.BFloat16"/>.</summary>
        internal bool SupportsBFloat16 => _body.SupportsBFloat16;

        /// <summary>The backbone's modules and how to run its stages.</summary>
        internal Backbone Body => _body;

        /// <summary>The module registered as the head key (<c>fc</c>, <c>classifier</c>): the head, wrapped as the architecture requires.</summary>
        internal nn.Module<Tensor, Tensor> HeadModule => _classifier;

        /// <summary>The head itself, as its <see cref="HeadSpec"/> created it.</summary>
        internal nn.Module<Tensor, Tensor> Classifier => _headModule;

        /// <summary>Runs the whole network.</summary>
        /// <param name="input">Images [N, <see cref="InputChannels"/>, H, W], normalised as the weights expect.</param>
        /// <returns>Logits [N, classes].</returns>
        /// <exception cref="ArgumentException">The input is not [N, <see cref="InputChannels"/>, H, W].</exception>
        public override Tensor forward(Tensor input)
        {
            CheckInput(input);
            using var scope = NewDisposeScope();
            return RunStages(input, 0, _body.Architecture.StageNames.Count - 1).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Runs the network up to and including a stage and returns that stage's output, without running later
        /// stages: a feature map [N, C, h, w] for a backbone stage, pooled features [N, features] for <c>pooling</c>,
        /// logits for <c>head</c>.
        /// </summary>
        /// <param name="input">Images [N, <see cref="InputChannels"/>, H, W].</param>
        /// <param name="stage">One of the architecture's <see cref="BackboneArchitecture.StageNames"/>.</param>
        /// <returns>The stage's output.</returns>
        /// <exception cref="ArgumentException"><paramref name="stage"/> is not a stage name, or the input has the wrong shape.</exception>
        public Tensor ForwardTo(Tensor input, string stage)
        {
            int last = _body.Architecture.StageIndex(stage);
            CheckInput(input);
            using var scope = NewDisposeScope();
            return RunStages(input, 0, last).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Runs the stages after <paramref name="stage"/> on that stage's output (for example to finish the forward
        /// pass from the last backbone stage's activation, as Grad-CAM does).
        /// </summary>
        /// <param name="stageOutput">The output of <paramref name="stage"/>.</param>
        /// <param name="stage">One of the architecture's <see cref="BackboneArchitecture.StageNames"/>.</param>
        /// <returns>Logits [N, classes].</returns>
        public Tensor ForwardFrom(Tensor stageOutput, string stage)
        {
            Guard.NotNull(stageOutput);
            int count = _body.Architecture.StageNames.Count;
            int first = _body.Architecture.StageIndex(stage) + 1;
            using var scope = NewDisposeScope();
            var result = first >= count ? stageOutput.alias() : RunStages(stageOutput, first, count - 1);
            return result.MoveToOuterDisposeScope();
        }

        /// <summary>Registration is explicit (the constructor registers torchvision's names); fields are not state-dict keys here.</summary>
        protected override void RegisterComponents()
        {
        }

        /// <summary>Runs stages <paramref name="first"/>..<paramref name="last"/> (indices into <see cref="BackboneArchitecture.StageNames"/>).</summary>
        private protected virtual Tensor RunStages(Tensor x, int first, int last)
        {
            bool bfloat16 = InferencePrecision == ComputePrecision.BFloat16 && !is_grad_enabled();
            for (int i = first; i <= last; i++)
            {
                x = RunStage(i, x, bfloat16);
            }

            // Whatever ran in bfloat16, callers get 32-bit floats.
            return x.dtype == ScalarType.BFloat16 ? x.to(ScalarType.Float32) : x;
        }

        /// <summary>Runs one stage; a backbone stage in bfloat16 when <paramref name="bfloat16"/> and the backbone supports it.</summary>
        private protected Tensor RunStage(int index, Tensor x, bool bfloat16 = false)
        {
            int backboneStages = _body.Architecture.BackboneStageNames.Count;
            if (index < backboneStages)
            {
                bfloat16 &= _body.SupportsBFloat16;
                if (!bfloat16 && x.dtype == ScalarType.BFloat16)
                {
                    x = x.to(ScalarType.Float32);
                }

                if (ChannelsLast && x.device_type == DeviceType.CPU)
                {
                    x = MemoryLayout.ToChannelsLast(x);
                }

                using var execution = StageExecution.Enter(FoldBatchNorm, bfloat16);
                return _body.RunStage(index, x);
            }

            if (x.dtype == ScalarType.BFloat16)
            {
                x = x.to(ScalarType.Float32);
            }

            return index == backboneStages ? _body.Pool(x) : _classifier.call(x);
        }

        private void CheckInput(Tensor input)
        {
            Guard.NotNull(input);
            if (input.dim() != 4 || input.shape[1] != InputChannels)
            {
                throw new ArgumentException(
                    string.Format(
                        CultureInfo.InvariantCulture,
                        "{0} takes images [N, {1}, H, W]; found [{2}]. Feed it images prepared by the model's own preprocessing (Transforms.ForEvaluation(model.Preprocessing)), which has {1} channel(s).",
                        _body.Architecture.Name, InputChannels, string.Join(", ", input.shape)),
                    nameof(input));
            }
        }
    }
}
