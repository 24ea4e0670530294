using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Data
{
    /// <summary>What an uncertain label (CheXpert's -1) becomes in a multi-label target (Irvin et al. 2019 compare these).</summary>
    public enum UncertainLabel
    {
        /// <summary>U-Ignore: masked out of the loss, like a missing label.</summary>
        Ignore = 0,

        /// <summary>U-Zeros: trained as negative.</summary>
        Zeros = 1,

        /// <summary>U-Ones: trained as positive.</summary>
        Ones = 2,
    }

    /// <summary>
    /// How a multi-label loader turns each finding's <see cref="FindingState"/> into a target and a mask: positive is 1,
    /// negative is 0, missing (a blank cell) is always masked, and uncertain follows the finding's <see cref="UncertainLabel"/>.
    /// Presets: <see cref="Ignore"/>, <see cref="Zeros"/>, <see cref="Ones"/>; per finding with <see cref="With"/>, for example
    /// CheXpert's best mix <c>UncertaintyPolicy.Zeros.With("Atelectasis", UncertainLabel.Ones).With("Edema", UncertainLabel.Ones)</c>.
    /// Immutable. Training records the policy in the history and in the saved model.
    /// </summary>
    public sealed class UncertaintyPolicy : IEquatable<UncertaintyPolicy>
    {
        private readonly SortedDictionary<string, UncertainLabel> overrides;

        private UncertaintyPolicy(UncertainLabel defaultLabel, SortedDictionary<string, UncertainLabel> overrides)
        {
            Default = defaultLabel;
            this.overrides = overrides;
        }

        /// <summary>U-Ignore for every finding: uncertain labels are masked out of the loss.</summary>
        public static UncertaintyPolicy Ignore { get; } = new(UncertainLabel.Ignore, new SortedDictionary<string, UncertainLabel>(StringComparer.Ordinal));

        /// <summary>U-Zeros for every finding: uncertain labels train as negative.</summary>
        public static UncertaintyPolicy Zeros { get; } = new(UncertainLabel.Zeros, new SortedDictionary<string, UncertainLabel>(StringComparer.Ordinal));

        /// <summary>U-Ones for every finding: uncertain labels train as positive.</summary>
        public static UncertaintyPolicy Ones { get; } = new(UncertainLabel.Ones, new SortedDictionary<string, UncertainLabel>(StringComparer.Ordinal));

        /// <summary>What uncertain labels of findings without their own rule become.</summary>
        public UncertainLabel Default { get; }

        /// <summary>The findings with their own rule, by name (ordinal order).</summary>
        public IReadOnlyDictionary<string, UncertainLabel> Overrides => overrides;

        /// <summary>This policy with <paramref name="finding"/>'s uncertain labels treated as <paramref name="label"/>.</summary>
        /// <param name="finding">A finding name; the loader checks that its dataset has it.</param>
        /// <param name="label">What its uncertain labels become.</param>
        /// <returns>A new policy.</returns>
        public UncertaintyPolicy With(string finding, UncertainLabel label)
        {
            Guard.NotNullOrWhiteSpace(finding);
            if (!Enum.IsDefined(label))
            {
                throw new ArgumentOutOfRangeException(nameof(label), label, "Expected Ignore, Zeros or Ones.");
            }

            var copy = new SortedDictionary<string, UncertainLabel>(overrides, StringComparer.Ordinal) { [finding] = label };
            return new UncertaintyPolicy(Default, copy);
        }

        /// <summary>What <paramref name="finding"/>'s uncertain labels become.</summary>
        /// <param name="finding">A finding name.</param>
        /// <returns>Its rule, or <see cref="Default"/>.</returns>
        public UncertainLabel For(string finding) => overrides.TryGetValue(Guard.NotNull(finding), out var label) ? label : Default;

        /// <summary>The findings this policy names that <paramref name="findings"/> does not have.</summary>
        internal IEnumerable<string> UnknownFindings(IReadOnlyList<string> findings) => overrides.Keys.Where(k => !findings.Contains(k, StringComparer.Ordinal));

        /// <summary>The target (0 or 1) and mask (1 observed, 0 left out of the loss and metrics) of one label.</summary>
        internal static (float Target, float Mask) Target(FindingState state, UncertainLabel uncertain) => state switch
        {
            FindingState.Positive => (1f, 1f),
            FindingState.Negative => (0f, 1f),
            FindingState.Uncertain => uncertain switch
            {
                UncertainLabel.Ones => (1f, 1f),
                UncertainLabel.Zeros => (0f, 1f),
                _ => (0f, 0f),
            },
            _ => (0f, 0f),
        };

        /// <summary>For example <c>U-Zeros (Atelectasis: U-Ones, Edema: U-Ones); missing masked</c>.</summary>
        /// <returns>The description.</returns>
        public override string ToString()
        {
            string text = Name(Default);
            if (overrides.Count > 0)
            {
                text += " (" + string.Join(", ", overrides.Select(o => o.Key + ": " + Name(o.Value))) + ")";
            }

            return text + "; missing masked";
        }

        /// <inheritdoc />
        public bool Equals(UncertaintyPolicy? other) =>
            other is not null && other.Default == Default && other.overrides.Count == overrides.Count && overrides.All(o => other.overrides.TryGetValue(o.Key, out var v) && v == o.Value);

        /// <inheritdoc />
        public override bool Equals(object? obj) => Equals(obj as UncertaintyPolicy);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Default, overrides.Count);

        /// <summary>The metadata form: <c>{"default":"U-Ignore","findings":{"Edema":"U-Ones"}}</c>.</summary>
        internal string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["default"] = Name(Default),
            ["findings"] = overrides.ToDictionary(o => o.Key, o => Name(o.Value), StringComparer.Ordinal),
        });

        /// <summary>Reads <see cref="ToJson"/>.</summary>
        /// <exception cref="FormatException">The text is not a policy.</exception>
        internal static UncertaintyPolicy Parse(string json)
        {
            try
            {
                using var document = JsonDocument.Parse(json);
                var root = document.RootElement;
                var policy = new UncertaintyPolicy(FromName(root.GetProperty("default").GetString()), new SortedDictionary<string, UncertainLabel>(StringComparer.Ordinal));
                foreach (var finding in root.GetProperty("findings").EnumerateObject())
                {
                    policy = policy.With(finding.Name, FromName(finding.Value.GetString()));
                }

                return policy;
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
            {
                throw new FormatException("uncertainty_policy is not a policy (" + ex.Message + ")", ex);
            }
        }

        private static string Name(UncertainLabel label) => label switch
        {
            UncertainLabel.Zeros => "U-Zeros",
            UncertainLabel.Ones => "U-Ones",
            _ => "U-Ignore",
        };

        private static UncertainLabel FromName(string? name) => name switch
        {
            "U-Ignore" => UncertainLabel.Ignore,
            "U-Zeros" => UncertainLabel.Zeros,
            "U-Ones" => UncertainLabel.Ones,
            _ => throw new FormatException(string.Format(CultureInfo.InvariantCulture, "'{0}' is not U-Ignore, U-Zeros or U-Ones", name)),
        };
    }
}
