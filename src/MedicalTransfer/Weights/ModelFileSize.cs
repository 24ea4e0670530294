using System;
using System.Globalization;
using MedicalTransfer.Models;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Checks, before a model described by a file is built, that the file is large enough to hold that model's
    /// weights. A 2 KB file whose metadata said <c>basic:5000,1,1,1</c> made TransferModel.Load build a
    /// 5,000-block network (18 s, 270 MB managed and GBs native), and <c>mlp:2000000000:...</c> a head of
    /// 4 TB (a native allocation failure); found by fuzzing, see docs/security.md. The count is arithmetic
    /// and stops as soon as it passes the file's size, so no description can make the check itself slow.
    /// </summary>
    internal static class ModelFileSize
    {
        /// <summary>Throws <see cref="WeightsFormatException"/> when <paramref name="fileBytes"/> cannot hold the described model's float32 weights.</summary>
        public static void Check(string path, long fileBytes, BackboneArchitecture architecture, int inputChannels, int classes, HeadSpec head)
        {
            long budget = fileBytes / 4; // parameters and buffers the file can hold, as float32
            long count = 0;

            bool Add(long parameters)
            {
                count += parameters;
                return count > budget;
            }

            bool over = architecture switch
            {
                ResNetArchitecture resnet => CountResNet(resnet, inputChannels, Add),
                DenseNetArchitecture densenet => CountDenseNet(densenet, inputChannels, Add),
                _ => false, // EfficientNet: only the eight catalogued widths parse, all bounded
            };

            long features = architecture.FeatureCount;
            if (!over)
            {
                over = Add(HeadParameters(head.Layout, features, classes));
            }

            if (over)
            {
                throw new WeightsFormatException(string.Format(
                    CultureInfo.InvariantCulture,
                    "'{0}' describes a backbone '{1}' with head '{2}' for {3} classes, whose weights need more than {4:N0} bytes, but the file has only {5:N0} bytes: its metadata is damaged or crafted. Nothing was built; save the model again with TransferModel.Save.",
                    path,
                    architecture,
                    head.Layout,
                    classes,
                    count * 4,
                    fileBytes));
            }
        }

        private static long Bn(long c) => 4 * c;

        /// <summary>Adds a DenseNet's parameters and buffers block by block; true as soon as the budget is passed.</summary>
        private static bool CountDenseNet(DenseNetArchitecture architecture, long inputChannels, Func<long, bool> add)
        {
            long growth = architecture.GrowthRate, bottleneck = DenseNetArchitecture.BottleneckSize * growth;
            long channels = architecture.InitialFeatures;
            bool over = add((channels * inputChannels * 7 * 7) + Bn(channels));
            for (int b = 0; b < architecture.BlockDepths.Count && !over; b++)
            {
                for (int l = 0; l < architecture.BlockDepths[b] && !over; l++)
                {
                    over = add(Bn(channels) + (channels * bottleneck) + Bn(bottleneck) + (bottleneck * growth * 9));
                    channels += growth;
                }

                if (b < architecture.BlockDepths.Count - 1 && !over)
                {
                    over = add(Bn(channels) + (channels * (channels / 2)));
                    channels /= 2;
                }
            }

            return over || add(Bn(channels));
        }

        /// <summary>Adds a ResNet's parameters and buffers block by block; true as soon as the budget is passed.</summary>
        private static bool CountResNet(ResNetArchitecture architecture, long inputChannels, Func<long, bool> add)
        {
            bool over = add((64L * inputChannels * 7 * 7) + Bn(64));
            long inplanes = 64;
            int expansion = architecture.Expansion;
            for (int s = 0; s < 4 && !over; s++)
            {
                long planes = 64L << s;
                for (int j = 0; j < architecture.StageDepths[s] && !over; j++)
                {
                    long block = architecture.Block == BlockKind.Basic
                        ? (planes * inplanes * 9) + (planes * planes * 9) + (2 * Bn(planes))
                        : (planes * inplanes) + (planes * planes * 9) + (planes * expansion * planes) + (2 * Bn(planes)) + Bn(planes * expansion);
                    if (j == 0 && (s > 0 || inplanes != planes * expansion))
                    {
                        block += (planes * expansion * inplanes) + Bn(planes * expansion);
                    }

                    over = add(block);
                    inplanes = planes * expansion;
                }
            }

            return over;
        }

        private static long HeadParameters(string layout, long features, long classes)
        {
            string[] parts = layout.Split(':');
            if (parts[0] == "mlp" && parts.Length == 5 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long hidden) && hidden > 0)
            {
                bool bn = parts[4] == "bn";
                return Math.Min(long.MaxValue / 4, (features * hidden) + hidden + (bn ? 4 * hidden : 0) + (hidden * classes) + classes);
            }

            // linear; a custom head is the caller's own module, sized by the caller.
            return layout == "linear" ? (features * classes) + classes : 0;
        }
    }
}
