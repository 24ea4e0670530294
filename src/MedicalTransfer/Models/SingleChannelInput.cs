using System.Linq;
using MedicalTransfer.Data;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// What a backbone built for gray images changes: its first convolution takes one channel, pretrained RGB weights
    /// are summed over their input channels to fit it (timm's <c>adapt_input_conv</c>), and the preprocessing
    /// normalises the one channel with the averages of the three means and standard deviations.
    /// </summary>
    /// <remarks>
    /// The sum makes the gray model compute exactly what the RGB model computes on an input whose three channels are
    /// equal: conv(W, [x, x, x]) = conv(W_R + W_G + W_B, x), zero padding included, since padding is zero in both.
    /// "Equal channels" is meant after normalisation: the RGB model fed the gray model's normalised plane three times.
    /// Replicating the gray image before ImageNet's per-channel normalisation gives three slightly different planes
    /// ((g - 0.485) / 0.229, (g - 0.456) / 0.224, (g - 0.406) / 0.225), which no single-channel model reproduces
    /// exactly; for g in [0, 1] they differ from the gray model's (g - 0.449) / 0.226 by at most 0.2 (about 11 gray
    /// levels of 255), a shift the fine-tuning absorbs.
    /// </remarks>
    internal static class SingleChannelInput
    {
        /// <summary>The one-channel form of an RGB preprocessing: same geometry and scale, mean and std averaged over the channels.</summary>
        public static Preprocessing Preprocessing(Preprocessing rgb) => new Preprocessing
        {
            ResizeSize = rgb.ResizeSize,
            CropSize = rgb.CropSize,
            ChannelOrder = rgb.ChannelOrder,
            PixelScale = rgb.PixelScale,
            Mean = new[] { rgb.Mean.Average() },
            Std = new[] { rgb.Std.Average() },
        }.Validate();

        /// <summary>Whether a checkpoint's first-convolution weight (<paramref name="source"/>) fits a gray model's (<paramref name="target"/>) once summed.</summary>
        public static bool CanAdapt(Tensor source, Tensor target) =>
            source.dim() == 4 && target.dim() == 4 && source.shape[1] == 3 && target.shape[1] == 1 &&
            source.shape[0] == target.shape[0] && source.shape[2] == target.shape[2] && source.shape[3] == target.shape[3];

        /// <summary>Sums an RGB convolution weight [out, 3, kh, kw] over its input channels: [out, 1, kh, kw].</summary>
        public static Tensor Adapt(Tensor rgbWeight) => rgbWeight.sum(1, keepdim: true);
    }
}
