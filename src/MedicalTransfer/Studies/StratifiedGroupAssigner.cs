using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Data;

namespace MedicalTransfer.Studies
{
    /// <summary>
    /// Assigns whole groups (patients) to bins (folds, or train/validation) so that every bin's count in
    /// every stratum is near its share: a greedy pass (largest groups first, each to the bin where it
    /// hurts the balance least), then improving moves and swaps until none helps. Strata are count
    /// vectors per group, so a single-label class, several classes, or the findings of a multi-label
    /// image all fit: a group of three images with findings {effusion}, {effusion, edema}, {} adds
    /// (2, 1, 1) over the strata (effusion, edema, no finding).
    /// </summary>
    internal static class StratifiedGroupAssigner
    {
        /// <summary>Relative weight of a bin's image count next to its strata (keeps folds of similar size when strata overlap).</summary>
        private const double SizeWeight = 0.25;

        /// <summary>Cost of each count beyond a bin's tolerance, on top of the squared deviation: meeting the target comes first.</summary>
        private const double ExcessPenalty = 100;

        /// <summary>Most candidate swaps examined per pass: bounded work on datasets with many thousands of patients.</summary>
        private const long SwapBudget = 4_000_000;

        /// <summary>
        /// Returns each group's bin.
        /// </summary>
        /// <param name="counts">Per group, its count in each stratum.</param>
        /// <param name="sizes">Per group, its number of images.</param>
        /// <param name="shares">Each bin's share of every stratum (summing to 1).</param>
        /// <param name="random">The seeded stream that breaks ties and orders the groups.</param>
        public static int[] Assign(int[][] counts, int[] sizes, double[] shares, SampleRandom random)
        {
            int groups = counts.Length, bins = shares.Length, strata = groups == 0 ? 0 : counts[0].Length;
            var state = new State(counts, sizes, shares, strata);

            // Largest groups first (they are the hardest to place); equal sizes in a seeded order.
            var priority = new ulong[groups];
            for (int g = 0; g < groups; g++)
            {
                priority[g] = random.NextUInt64();
            }

            var order = Enumerable.Range(0, groups).OrderByDescending(g => sizes[g]).ThenBy(g => priority[g]).ToArray();
            var bin = new int[groups];
            var tie = new double[bins];
            foreach (int g in order)
            {
                int best = -1;
                double bestCost = double.PositiveInfinity;
                for (int b = 0; b < bins; b++)
                {
                    tie[b] = random.NextDouble();
                    double cost = state.AddCost(g, b);
                    if (cost < bestCost - 1e-9 || (Math.Abs(cost - bestCost) <= 1e-9 && tie[b] < tie[best]))
                    {
                        best = b;
                        bestCost = cost;
                    }
                }

                bin[g] = best;
                state.Add(g, best);
            }

            Improve(state, bin, groups, bins, random);
            return bin;
        }

        private static void Improve(State state, int[] bin, int groups, int bins, SampleRandom random)
        {
            var visit = Enumerable.Range(0, groups).ToArray();
            for (int pass = 0; pass < 50; pass++)
            {
                bool improved = false;
                random.Shuffle(visit);

                // Moves: one group to another bin.
                foreach (int g in visit)
                {
                    int from = bin[g];
                    int best = from;
                    double bestDelta = -1e-9;
                    for (int b = 0; b < bins; b++)
                    {
                        if (b != from)
                        {
                            double delta = state.MoveDelta(g, from, b);
                            if (delta < bestDelta)
                            {
                                best = b;
                                bestDelta = delta;
                            }
                        }
                    }

                    if (best != from)
                    {
                        state.Remove(g, from);
                        state.Add(g, best);
                        bin[g] = best;
                        improved = true;
                    }
                }

                // Swaps: two groups in different bins trade places (what a move cannot do when every bin is full).
                long budget = SwapBudget;
                for (int i = 0; i < visit.Length && budget > 0; i++)
                {
                    int g = visit[i];
                    for (int j = i + 1; j < visit.Length && budget > 0; j++)
                    {
                        int h = visit[j];
                        int a = bin[g], b = bin[h];
                        if (a == b)
                        {
                            continue;
                        }

                        budget--;
                        if (state.SwapDelta(g, a, h, b) < -1e-9)
                        {
                            state.Remove(g, a);
                            state.Remove(h, b);
                            state.Add(g, b);
                            state.Add(h, a);
                            bin[g] = b;
                            bin[h] = a;
                            improved = true;
                        }
                    }
                }

                if (!improved)
                {
                    return;
                }
            }
        }

        /// <summary>Counts per bin and stratum, with a separable cost: the sum over bins and strata of a convex function of the count.</summary>
        private sealed class State
        {
            private readonly int[][] counts;
            private readonly int[] sizes;
            private readonly int strata;
            private readonly double[,] target;
            private readonly double[,] tolerance;
            private readonly double[,] current;
            private readonly double[] sizeTarget;
            private readonly double[] sizeTolerance;
            private readonly double[] sizeCurrent;

            public State(int[][] counts, int[] sizes, double[] shares, int strata)
            {
                this.counts = counts;
                this.sizes = sizes;
                this.strata = strata;
                int bins = shares.Length;
                target = new double[bins, strata];
                tolerance = new double[bins, strata];
                current = new double[bins, strata];
                sizeTarget = new double[bins];
                sizeTolerance = new double[bins];
                sizeCurrent = new double[bins];
                double images = sizes.Sum();
                for (int s = 0; s < strata; s++)
                {
                    double total = counts.Sum(c => c[s]);
                    for (int b = 0; b < bins; b++)
                    {
                        target[b, s] = shares[b] * total;
                        tolerance[b, s] = FoldBalance.ToleranceFor(target[b, s]);
                    }
                }

                for (int b = 0; b < bins; b++)
                {
                    sizeTarget[b] = shares[b] * images;
                    sizeTolerance[b] = FoldBalance.ToleranceFor(sizeTarget[b]);
                }
            }

            public void Add(int g, int b)
            {
                for (int s = 0; s < strata; s++)
                {
                    current[b, s] += counts[g][s];
                }

                sizeCurrent[b] += sizes[g];
            }

            public void Remove(int g, int b)
            {
                for (int s = 0; s < strata; s++)
                {
                    current[b, s] -= counts[g][s];
                }

                sizeCurrent[b] -= sizes[g];
            }

            /// <summary>Cost change of adding group g to bin b.</summary>
            public double AddCost(int g, int b)
            {
                double delta = 0;
                for (int s = 0; s < strata; s++)
                {
                    if (counts[g][s] != 0)
                    {
                        delta += Cost(current[b, s] + counts[g][s], target[b, s], tolerance[b, s]) - Cost(current[b, s], target[b, s], tolerance[b, s]);
                    }
                }

                return delta + (SizeWeight * (Cost(sizeCurrent[b] + sizes[g], sizeTarget[b], sizeTolerance[b]) - Cost(sizeCurrent[b], sizeTarget[b], sizeTolerance[b])));
            }

            public double MoveDelta(int g, int from, int to)
            {
                double delta = 0;
                for (int s = 0; s < strata; s++)
                {
                    int c = counts[g][s];
                    if (c != 0)
                    {
                        delta += Cost(current[from, s] - c, target[from, s], tolerance[from, s]) - Cost(current[from, s], target[from, s], tolerance[from, s]);
                        delta += Cost(current[to, s] + c, target[to, s], tolerance[to, s]) - Cost(current[to, s], target[to, s], tolerance[to, s]);
                    }
                }

                int n = sizes[g];
                delta += SizeWeight * (Cost(sizeCurrent[from] - n, sizeTarget[from], sizeTolerance[from]) - Cost(sizeCurrent[from], sizeTarget[from], sizeTolerance[from]));
                delta += SizeWeight * (Cost(sizeCurrent[to] + n, sizeTarget[to], sizeTolerance[to]) - Cost(sizeCurrent[to], sizeTarget[to], sizeTolerance[to]));
                return delta;
            }

            /// <summary>Cost change of g (in a) and h (in b) trading bins.</summary>
            public double SwapDelta(int g, int a, int h, int b)
            {
                double delta = 0;
                for (int s = 0; s < strata; s++)
                {
                    int d = counts[h][s] - counts[g][s]; // a gains d, b loses d
                    if (d != 0)
                    {
                        delta += Cost(current[a, s] + d, target[a, s], tolerance[a, s]) - Cost(current[a, s], target[a, s], tolerance[a, s]);
                        delta += Cost(current[b, s] - d, target[b, s], tolerance[b, s]) - Cost(current[b, s], target[b, s], tolerance[b, s]);
                    }
                }

                int n = sizes[h] - sizes[g];
                if (n != 0)
                {
                    delta += SizeWeight * (Cost(sizeCurrent[a] + n, sizeTarget[a], sizeTolerance[a]) - Cost(sizeCurrent[a], sizeTarget[a], sizeTolerance[a]));
                    delta += SizeWeight * (Cost(sizeCurrent[b] - n, sizeTarget[b], sizeTolerance[b]) - Cost(sizeCurrent[b], sizeTarget[b], sizeTolerance[b]));
                }

                return delta;
            }

            /// <summary>Squared deviation in units of the tolerance, plus a steep penalty for every count beyond it.</summary>
            private static double Cost(double count, double target, double tolerance)
            {
                double deviation = Math.Abs(count - target);
                double scaled = deviation / tolerance;
                double excess = Math.Max(0, deviation - tolerance);
                return (scaled * scaled) + (ExcessPenalty * excess * excess);
            }
        }
    }
}
