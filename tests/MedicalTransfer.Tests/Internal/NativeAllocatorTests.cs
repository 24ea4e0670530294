using System;
using System.Runtime.InteropServices;
using MedicalTransfer.Internal;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Internal
{
    public class NativeAllocatorTests
    {
        // glibc serves every allocation of 32 MB or more with its own mmap by default (the dynamic threshold stops
        // at 32 MB), and unmaps it when freed; 48 MB also fits one 64 MB heap of a thread's own arena.
        private const long TensorBytes = 48L << 20;

        [Fact]
        public void RetainFreedMemory_OnLinux_LargeTensorsComeFromTheHeapNotFreshMappings()
        {
            var outcome = NativeAllocator.RetainFreedMemory();
            if (!OperatingSystem.IsLinux())
            {
                Assert.Equal(AllocatorTuning.NotSupported, outcome);
                return;
            }

            Assert.NotEqual(AllocatorTuning.NotSupported, outcome);
            Assert.Equal(AllocatorTuning.AlreadyApplied, NativeAllocator.RetainFreedMemory());

            // mallinfo2's hblkhd counts the bytes in mmap-served blocks, process-wide. No allocation may add to it now
            // (other tests may free theirs meanwhile, which only lowers it).
            for (int round = 0; round < 2; round++)
            {
                long before = (long)MallInfo2().hblkhd;
                using (var t = empty(TensorBytes / sizeof(float)))
                {
                    long grown = (long)MallInfo2().hblkhd - before;
                    Assert.True(grown < TensorBytes, $"round {round}: mmap-served bytes grew by {grown:N0} while a {TensorBytes:N0}-byte tensor was alive");
                }
            }
        }

        [Fact]
        public void RetainFreedMemory_CalledFromManyThreads_AppliesOnce()
        {
            var outcomes = new AllocatorTuning[8];
            System.Threading.Tasks.Parallel.For(0, outcomes.Length, i => outcomes[i] = NativeAllocator.RetainFreedMemory());
            if (!OperatingSystem.IsLinux())
            {
                Assert.All(outcomes, o => Assert.Equal(AllocatorTuning.NotSupported, o));
                return;
            }

            Assert.True(Array.FindAll(outcomes, o => o == AllocatorTuning.Applied).Length <= 1);
            Assert.All(outcomes, o => Assert.NotEqual(AllocatorTuning.NotSupported, o));
        }

        [DllImport("libc.so.6", EntryPoint = "mallinfo2", ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern MallocInfo MallInfo2();

        /// <summary>glibc's struct mallinfo2 (2.33 and later).</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct MallocInfo
        {
            public nuint arena;
            public nuint ordblks;
            public nuint smblks;
            public nuint hblks;
            public nuint hblkhd;
            public nuint usmblks;
            public nuint fsmblks;
            public nuint uordblks;
            public nuint fordblks;
            public nuint keepcost;
        }
    }
}
