using System;
using System.Globalization;

namespace MedicalTransfer.Reporting
{
    /// <summary>Size and title of a chart.</summary>
    public sealed record ChartOptions
    {
        /// <summary>Width of the PNG in pixels (200 to 8000).</summary>
        /// <value>The default is 640.</value>
        public int Width { get; init; } = 640;

        /// <summary>Height of the PNG in pixels (200 to 8000).</summary>
        /// <value>The default is 520.</value>
        public int Height { get; init; } = 520;

        /// <summary>Title above the plot; <see langword="null"/> for the chart's default title.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? Title { get; init; }

        internal ChartOptions Validate()
        {
            if (Width < 200 || Width > 8000 || Height < 200 || Height > 8000)
            {
                throw new ArgumentOutOfRangeException(nameof(Width), string.Format(CultureInfo.InvariantCulture, "ChartOptions.Width and Height must be from 200 to 8000 pixels; found {0}x{1}.", Width, Height));
            }

            return this;
        }
    }
}
