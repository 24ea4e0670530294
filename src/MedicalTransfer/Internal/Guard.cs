using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace MedicalTransfer.Internal
{
    /// <summary>Argument checks with messages that say what was expected and what was found.</summary>
    internal static class Guard
    {
        public static T NotNull<T>([NotNull] T? value, [CallerArgumentExpression(nameof(value))] string? name = null)
            where T : class
        {
            if (value is null)
            {
                throw new ArgumentNullException(name);
            }

            return value;
        }

        public static string NotNullOrWhiteSpace([NotNull] string? value, [CallerArgumentExpression(nameof(value))] string? name = null)
        {
            if (value is null)
            {
                throw new ArgumentNullException(name);
            }

            if (string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException("Value must not be empty or white space.", name);
            }

            return value;
        }

        public static int InRange(int value, int min, int max, [CallerArgumentExpression(nameof(value))] string? name = null)
        {
            if (value < min || value > max)
            {
                throw new ArgumentOutOfRangeException(name, value, string.Format(CultureInfo.InvariantCulture, "Expected a value from {0} to {1}; found {2}.", min, max, value));
            }

            return value;
        }

        public static double InRange(double value, double min, double max, [CallerArgumentExpression(nameof(value))] string? name = null)
        {
            if (double.IsNaN(value) || value < min || value > max)
            {
                throw new ArgumentOutOfRangeException(name, value, string.Format(CultureInfo.InvariantCulture, "Expected a value from {0} to {1}; found {2}.", min, max, value));
            }

            return value;
        }

        public static int Positive(int value, [CallerArgumentExpression(nameof(value))] string? name = null)
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(name, value, string.Format(CultureInfo.InvariantCulture, "Expected a positive value; found {0}.", value));
            }

            return value;
        }

        public static double Positive(double value, [CallerArgumentExpression(nameof(value))] string? name = null)
        {
            if (double.IsNaN(value) || value <= 0 || double.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(name, value, string.Format(CultureInfo.InvariantCulture, "Expected a finite positive value; found {0}.", value));
            }

            return value;
        }

        public static IReadOnlyList<T> NotEmpty<T>([NotNull] IReadOnlyList<T>? value, [CallerArgumentExpression(nameof(value))] string? name = null)
        {
            if (value is null)
            {
                throw new ArgumentNullException(name);
            }

            if (value.Count == 0)
            {
                throw new ArgumentException("Expected at least one element; found none.", name);
            }

            return value;
        }
    }
}
