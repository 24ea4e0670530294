using System;
using System.Collections.Generic;
using System.Globalization;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Explainability
{
    /// <summary>A map of importance values in [0, 1] (1 = most important), row-major.</summary>
    public sealed class Heatmap
    {
        private readonly float[] values;
        private readonly IReadOnlyList<float> readOnlyValues;

        /// <summary>Creates a heatmap from row-major values.</summary>
        /// <param name="width">Columns.</param>
        /// <param name="height">Rows.</param>
        /// <param name="values">width x height values in [0, 1]; they are copied.</param>
        /// <exception cref="ArgumentException">The count differs from width x height, or a value is outside [0, 1].</exception>
        public Heatmap(int width, int height, float[] values)
        {
            Guard.Positive(width);
            Guard.Positive(height);

            // Validated and kept as a copy: the caller's array may change afterwards (or while it is checked).
            values = (float[])Guard.NotNull(values).Clone();
            if (values.Length != width * height)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected {0} x {1} = {2} values; found {3}.", width, height, width * height, values.Length), nameof(values));
            }

            for (int i = 0; i < values.Length; i++)
            {
                if (!(values[i] >= 0 && values[i] <= 1))
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Value {0} is {1}; a heatmap holds values in [0, 1].", i, values[i]), nameof(values));
                }
            }

            Width = width;
            Height = height;
            this.values = values;
            readOnlyValues = Array.AsReadOnly(values);
        }

        /// <summary>Columns.</summary>
        public int Width { get; }

        /// <summary>Rows.</summary>
        public int Height { get; }

        /// <summary>The values, row-major.</summary>
        public IReadOnlyList<float> Values => readOnlyValues;

        /// <summary>The value at column <paramref name="x"/>, row <paramref name="y"/>.</summary>
        /// <param name="x">Column.</param>
        /// <param name="y">Row.</param>
        /// <returns>The value.</returns>
        public float this[int x, int y] => values[(y * Width) + x];

        /// <summary>The map as a 2-D array indexed [row, column] (<c>map[y, x]</c>), <see cref="Height"/> by <see cref="Width"/>; a copy.</summary>
        /// <returns>The values.</returns>
        public float[,] ToArray()
        {
            var map = new float[Height, Width];
            Buffer.BlockCopy(values, 0, map, 0, values.Length * sizeof(float));
            return map;
        }

        internal float[] Raw => values;

        /// <summary>Samples the map at continuous pixel coordinates with bilinear interpolation (pixel centers at integer + 0.5, edges clamped: PyTorch's align_corners=False).</summary>
        internal float Sample(double x, double y)
        {
            double sx = Math.Clamp(x - 0.5, 0, Width - 1), sy = Math.Clamp(y - 0.5, 0, Height - 1);
            int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
            int x1 = Math.Min(x0 + 1, Width - 1), y1 = Math.Min(y0 + 1, Height - 1);
            double fx = sx - x0, fy = sy - y0;
            double top = (this[x0, y0] * (1 - fx)) + (this[x1, y0] * fx);
            double bottom = (this[x0, y1] * (1 - fx)) + (this[x1, y1] * fx);
            return (float)((top * (1 - fy)) + (bottom * fy));
        }

        /// <summary>Divides by the maximum; an all-zero map stays zero.</summary>
        internal static float[] Normalize(float[] raw)
        {
            float max = 0;
            foreach (float v in raw)
            {
                max = Math.Max(max, v);
            }

            var result = new float[raw.Length];
            if (max > 0)
            {
                for (int i = 0; i < raw.Length; i++)
                {
                    result[i] = Math.Clamp(raw[i] / max, 0f, 1f);
                }
            }

            return result;
        }

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "heatmap {0}x{1}", Width, Height);
    }
}
