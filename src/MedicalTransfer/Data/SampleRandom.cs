using System;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// A small SplitMix64 generator. Each sample gets its own stream derived from (seed, epoch,
    /// position), so augmentation does not depend on which worker thread runs it or in which order;
    /// <see cref="Random"/> is avoided because its sequence is not guaranteed across .NET versions.
    /// </summary>
    internal struct SampleRandom
    {
        private ulong state;

        public SampleRandom(ulong seed)
        {
            state = seed;
        }

        public static SampleRandom For(long seed, long epoch, long position) =>
            new(Mix(Mix(Mix((ulong)seed ^ 0x6A09E667F3BCC909UL) ^ (ulong)epoch) ^ (ulong)position));

        public ulong NextUInt64()
        {
            state += 0x9E3779B97F4A7C15UL;
            return Mix(state);
        }

        /// <summary>Uniform in [0, 1).</summary>
        public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

        /// <summary>Uniform in [min, max).</summary>
        public double Uniform(double min, double max) => min + ((max - min) * NextDouble());

        /// <summary>Uniform integer in [0, maxExclusive).</summary>
        public int NextInt(int maxExclusive) => (int)(((NextUInt64() >> 32) * (ulong)maxExclusive) >> 32);

        /// <summary>Standard normal deviate (Box-Muller).</summary>
        public double NextGaussian()
        {
            double u1 = 1.0 - NextDouble();
            double u2 = NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        }

        public void Shuffle(Span<int> values)
        {
            for (int i = values.Length - 1; i > 0; i--)
            {
                int j = NextInt(i + 1);
                (values[i], values[j]) = (values[j], values[i]);
            }
        }

        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
