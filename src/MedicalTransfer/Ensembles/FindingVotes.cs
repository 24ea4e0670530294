using System;
using System.Collections.Generic;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Ensembles
{
    /// <summary>
    /// The per-finding majority decisions of a multi-label ensemble (<see cref="Ensemble.VoteFindings"/>): for every image
    /// and finding, how many members called the finding present and whether the ensemble does.
    /// </summary>
    public sealed class FindingVotes
    {
        private readonly int[] votes;
        private readonly bool[] present;

        internal FindingVotes(IReadOnlyList<string> findings, int members, int[] votes, bool[] present)
        {
            Findings = findings;
            Members = members;
            this.votes = votes;
            this.present = present;
        }

        /// <summary>The findings, in logit order.</summary>
        public IReadOnlyList<string> Findings { get; }

        /// <summary>The number of members that voted.</summary>
        public int Members { get; }

        /// <summary>The number of images.</summary>
        public int Count => votes.Length / Findings.Count;

        /// <summary>How many members called <paramref name="finding"/> present in image <paramref name="image"/>.</summary>
        /// <param name="image">The image's index in the predictions.</param>
        /// <param name="finding">The finding's index in <see cref="Findings"/>.</param>
        /// <returns>0 to <see cref="Members"/>.</returns>
        public int VotesFor(int image, int finding) => votes[Index(image, finding)];

        /// <summary>Whether the ensemble calls <paramref name="finding"/> present in image <paramref name="image"/> (majority; ties by the soft rule).</summary>
        /// <param name="image">The image's index in the predictions.</param>
        /// <param name="finding">The finding's index in <see cref="Findings"/>.</param>
        /// <returns><see langword="true"/> for present.</returns>
        public bool IsPresent(int image, int finding) => present[Index(image, finding)];

        private int Index(int image, int finding)
        {
            Guard.InRange(image, 0, Count - 1);
            Guard.InRange(finding, 0, Findings.Count - 1);
            return (image * Findings.Count) + finding;
        }
    }
}
