using System;
using System.Collections.Generic;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Where torchvision's crops start: the one definition behind <see cref="Transforms.CenterCrop(int)"/>,
    /// the evaluation pipeline, five-crop test-time augmentation and the heatmap overlay's projection back
    /// onto the original image. Checked against torchvision 0.14's <c>center_crop</c> and <c>five_crop</c>
    /// (Fixtures/Data/crop_boxes.json).
    /// </summary>
    internal static class CropBoxes
    {
        /// <summary>
        /// torchvision's <c>center_crop</c> offset along one side: <c>round((size - crop) / 2)</c> with Python's
        /// rounding (half to even), or, for a crop larger than the image, minus the padding torchvision adds
        /// before it (<c>(crop - size) // 2</c>).
        /// </summary>
        public static int CenterOffset(int size, int crop) =>
            crop > size
                ? -((crop - size) / 2)
                : (int)Math.Round((size - crop) / 2.0, MidpointRounding.ToEven);

        /// <summary>
        /// torchvision's <c>five_crop</c>, in its order: top-left, top-right, bottom-left, bottom-right, center
        /// (the center as <see cref="CenterOffset"/>). The crop must fit the image.
        /// </summary>
        public static IReadOnlyList<(int Top, int Left)> FiveCrop(int height, int width, int cropHeight, int cropWidth)
        {
            if (cropHeight > height || cropWidth > width)
            {
                throw new ArgumentException($"A five-crop of {cropHeight}x{cropWidth} does not fit a {height}x{width} image.", nameof(cropHeight));
            }

            return new[]
            {
                (0, 0),
                (0, width - cropWidth),
                (height - cropHeight, 0),
                (height - cropHeight, width - cropWidth),
                (CenterOffset(height, cropHeight), CenterOffset(width, cropWidth)),
            };
        }
    }
}
