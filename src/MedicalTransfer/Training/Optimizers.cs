using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Training
{
    /// <summary>A named group of parameters sharing a learning rate (one per stage with discriminative rates).</summary>
    internal sealed record ParameterGroup(string Name, IReadOnlyList<(string Name, Parameter Parameter)> Parameters, double BaseLearningRate);

    /// <summary>
    /// AdamW and SGD over named parameter groups. The updates are TorchSharp's own (same operations in the same
    /// order, so results match <c>torch.optim.AdamW</c>/<c>SGD</c> bit for bit), but the state is keyed by
    /// parameter name, so checkpoints are readable, checked key by key, and survive a change of freezing. A
    /// parameter that does not train (no gradient, or frozen since the backward pass) is skipped entirely: no decay, no momentum.
    /// </summary>
    internal abstract class ParameterOptimizer : IDisposable
    {
        protected ParameterOptimizer(IReadOnlyList<ParameterGroup> groups)
        {
            Groups = groups;
            LearningRates = groups.Select(g => g.BaseLearningRate).ToArray();
        }

        public IReadOnlyList<ParameterGroup> Groups { get; }

        /// <summary>The current rate of each group; the trainer sets them before every step.</summary>
        public double[] LearningRates { get; }

        public abstract string Kind { get; }

        protected Dictionary<string, Dictionary<string, Tensor>> State { get; } = new(StringComparer.Ordinal);

        protected Dictionary<string, long> Steps { get; } = new(StringComparer.Ordinal);

        public static ParameterOptimizer Create(TrainingOptions options, IReadOnlyList<ParameterGroup> groups) => options.Optimizer switch
        {
            OptimizerKind.Sgd => new SgdOptimizer(groups, options.Momentum, options.WeightDecay),
            _ => new AdamWOptimizer(groups, options.Betas.Beta1, options.Betas.Beta2, 1e-8, options.WeightDecay),
        };

        public IEnumerable<Parameter> AllParameters => Groups.SelectMany(g => g.Parameters.Select(p => p.Parameter));

        public void Step()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            for (int g = 0; g < Groups.Count; g++)
            {
                foreach (var (name, parameter) in Groups[g].Parameters)
                {
                    // One scope per parameter: its temporaries go back to the allocator before the next
                    // parameter's are made, as libtorch's own optimizers do, instead of all piling up to the end.
                    using var parameterScope = NewDisposeScope();
                    var grad = parameter.grad;
                    if (grad is null || !parameter.requires_grad)
                    {
                        continue;
                    }

                    Update(name, parameter, grad, LearningRates[g]);
                }
            }
        }

        /// <summary>
        /// Clears the gradients after a step. Trainable parameters keep their gradient buffers, zeroed in place
        /// (as TorchSharp's own optimizers do): setting them to none made every backward pass allocate them afresh,
        /// 100 MB of new pages a step for a ResNet-50, which slowed CPU training. Parameters that no
        /// longer train (frozen since the last step) lose theirs, and <see cref="Step"/> skips them either way.
        /// </summary>
        public void ZeroGradients()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            foreach (var parameter in AllParameters)
            {
                var grad = parameter.grad;
                if (grad is null)
                {
                    continue;
                }

                if (parameter.requires_grad)
                {
                    grad.zero_();
                }
                else
                {
                    parameter.grad = null;
                }
            }
        }

        /// <summary>Every state tensor as <c>name/slot</c>, plus the step counts, for a checkpoint.</summary>
        public IEnumerable<KeyValuePair<string, Tensor>> StateTensors() =>
            State.OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => kv.Value.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new KeyValuePair<string, Tensor>(kv.Key + "/" + s.Key, s.Value)));

        public IReadOnlyDictionary<string, long> StepCounts => Steps;

        /// <summary>
        /// Replaces the state from a checkpoint, all or nothing: every saved entry must belong to a parameter of
        /// this optimizer and match its shape, and every slot must be known.
        /// </summary>
        public void LoadState(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, long> steps, string source)
        {
            var shapes = Groups.SelectMany(g => g.Parameters).ToDictionary(p => p.Name, p => p.Parameter, StringComparer.Ordinal);
            var problems = new List<string>();
            var parsed = new List<(string Param, string Slot, Tensor Value)>();
            foreach (var (key, value) in tensors)
            {
                int slash = key.LastIndexOf('/');
                string param = slash < 0 ? key : key[..slash];
                string slot = slash < 0 ? string.Empty : key[(slash + 1)..];
                if (!shapes.TryGetValue(param, out var p))
                {
                    problems.Add(string.Format(CultureInfo.InvariantCulture, "state for '{0}', which this phase does not train", param));
                }
                else if (!IsSlot(slot))
                {
                    problems.Add(string.Format(CultureInfo.InvariantCulture, "unknown {0} state slot '{1}' for '{2}' (saved by another optimizer?)", Kind, slot, param));
                }
                else if (!value.shape.SequenceEqual(p.shape))
                {
                    problems.Add(string.Format(CultureInfo.InvariantCulture, "'{0}/{1}' has shape [{2}], the parameter has [{3}]", param, slot, string.Join(", ", value.shape), string.Join(", ", p.shape)));
                }
                else
                {
                    parsed.Add((param, slot, value));
                }
            }

            foreach (var name in steps.Keys.Where(k => !shapes.ContainsKey(k)))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "a step count for '{0}', which this phase does not train", name));
            }

            if (problems.Count > 0)
            {
                throw new WeightsMismatchException(string.Format(
                    CultureInfo.InvariantCulture,
                    "The optimizer state in '{0}' does not fit this {1} optimizer: {2}. Resume with the same phases, freeze specs and optimizer that wrote the checkpoint.",
                    source,
                    Kind,
                    string.Join("; ", problems.Take(8))));
            }

            DisposeState();
            foreach (var (param, slot, value) in parsed)
            {
                if (!State.TryGetValue(param, out var slots))
                {
                    State[param] = slots = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                }

                slots[slot] = value.to(shapes[param].device).clone().DetachFromDisposeScope();
            }

            foreach (var (name, count) in steps)
            {
                Steps[name] = count;
            }
        }

        public void Dispose()
        {
            DisposeState();
            GC.SuppressFinalize(this);
        }

        protected abstract bool IsSlot(string slot);

        protected abstract void Update(string name, Parameter parameter, Tensor grad, double lr);

        protected Tensor Slot(string name, string slot, Parameter parameter, bool zeros = true)
        {
            if (!State.TryGetValue(name, out var slots))
            {
                State[name] = slots = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            }

            if (!slots.TryGetValue(slot, out var tensor))
            {
                tensor = zeros_like(parameter).DetachFromDisposeScope();
                slots[slot] = tensor;
            }

            return tensor;
        }

        protected bool HasSlot(string name, string slot) => State.TryGetValue(name, out var slots) && slots.ContainsKey(slot);

        protected void SetSlot(string name, string slot, Tensor value)
        {
            if (!State.TryGetValue(name, out var slots))
            {
                State[name] = slots = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            }

            slots[slot] = value.DetachFromDisposeScope();
        }

        private void DisposeState()
        {
            foreach (var slots in State.Values)
            {
                foreach (var t in slots.Values)
                {
                    t.Dispose();
                }
            }

            State.Clear();
            Steps.Clear();
        }
    }

    /// <summary>AdamW exactly as <c>torch.optim.AdamW</c> in TorchSharp 0.107 (no amsgrad).</summary>
    internal sealed class AdamWOptimizer : ParameterOptimizer
    {
        private readonly double beta1;
        private readonly double beta2;
        private readonly double eps;
        private readonly double weightDecay;

        public AdamWOptimizer(IReadOnlyList<ParameterGroup> groups, double beta1, double beta2, double eps, double weightDecay)
            : base(groups)
        {
            this.beta1 = beta1;
            this.beta2 = beta2;
            this.eps = eps;
            this.weightDecay = weightDecay;
        }

        public override string Kind => "AdamW";

        protected override bool IsSlot(string slot) => slot is "exp_avg" or "exp_avg_sq";

        protected override void Update(string name, Parameter parameter, Tensor grad, double lr)
        {
            long step = Steps.TryGetValue(name, out var s) ? s + 1 : 1;
            Steps[name] = step;
            var expAvg = Slot(name, "exp_avg", parameter);
            var expAvgSq = Slot(name, "exp_avg_sq", parameter);
            parameter.mul_(1 - (lr * weightDecay));
            double biasCorrection1 = 1 - Math.Pow(beta1, step);
            double biasCorrection2 = 1 - Math.Pow(beta2, step);
            expAvg.mul_(beta1).add_(grad, alpha: 1 - beta1);
            expAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
            var denom = (expAvgSq.sqrt() / Math.Sqrt(biasCorrection2)).add_(eps);
            parameter.addcdiv_(expAvg, denom, value: -(lr / biasCorrection1));
        }
    }

    /// <summary>SGD with momentum and L2 weight decay, exactly as <c>torch.optim.SGD</c> (dampening 0, no Nesterov).</summary>
    internal sealed class SgdOptimizer : ParameterOptimizer
    {
        private readonly double momentum;
        private readonly double weightDecay;

        public SgdOptimizer(IReadOnlyList<ParameterGroup> groups, double momentum, double weightDecay)
            : base(groups)
        {
            this.momentum = momentum;
            this.weightDecay = weightDecay;
        }

        public override string Kind => "SGD";

        protected override bool IsSlot(string slot) => slot == "momentum_buffer";

        protected override void Update(string name, Parameter parameter, Tensor grad, double lr)
        {
            Steps[name] = Steps.TryGetValue(name, out var s) ? s + 1 : 1;
            if (weightDecay != 0)
            {
                grad = grad.add(parameter, alpha: weightDecay);
            }

            if (momentum != 0)
            {
                if (!HasSlot(name, "momentum_buffer"))
                {
                    SetSlot(name, "momentum_buffer", grad.clone().detach());
                }
                else
                {
                    Slot(name, "momentum_buffer", parameter).mul_(momentum).add_(grad, alpha: 1);
                }

                grad = Slot(name, "momentum_buffer", parameter);
            }

            parameter.add_(grad, alpha: -lr);
        }
    }
}
