using System;
using System.Globalization;
using System.Threading;

namespace MedicalTransfer.Internal
{
    /// <summary>
    /// One operation at a time on one model. Training, evaluation, Grad-CAM, faithfulness and layer importance
    /// switch the shared model between training and evaluation mode, and training changes its parameters
    /// (layer importance zeroes them in place) and seeds TorchSharp's process-wide random generator: two of
    /// them interleaved on one model would silently corrupt each other. Each such verb holds a
    /// <see cref="Lease"/> for its duration; a second verb on another thread is refused, naming both. The
    /// thread that holds the lease may nest further verbs (a training callback that evaluates, a trainer that
    /// validates): they run one after the other there.
    /// </summary>
    internal sealed class ExclusiveUse
    {
        private readonly object gate = new();
        private string? operation;
        private int ownerThread;
        private int depth;

        /// <summary>The operation that holds the model now, or <see langword="null"/>.</summary>
        public string? Current
        {
            get
            {
                lock (gate)
                {
                    return operation;
                }
            }
        }

        /// <summary>Takes the model for <paramref name="name"/> until the lease is disposed.</summary>
        /// <param name="name">What the caller does, as the user called it, for example "Evaluator.Predict".</param>
        /// <exception cref="InvalidOperationException">Another thread holds the model.</exception>
        public Lease Acquire(string name)
        {
            int thread = Environment.CurrentManagedThreadId;
            lock (gate)
            {
                if (operation is not null && ownerThread != thread)
                {
                    throw new InvalidOperationException(string.Format(
                        CultureInfo.InvariantCulture,
                        "{0} cannot start on this model: {1} is using it on another thread (managed thread {2}; this is thread {3}). Operations that switch a model between training and evaluation mode, change its parameters or seed TorchSharp's random generator must not overlap on one model. Wait for {1} to finish, or give the other work its own copy of the model (Save it and TransferModel.Load a second one).",
                        name,
                        operation,
                        ownerThread,
                        thread));
                }

                if (operation is null)
                {
                    operation = name;
                    ownerThread = thread;
                }

                depth++;
                return new Lease(this);
            }
        }

        private void Release()
        {
            lock (gate)
            {
                if (--depth == 0)
                {
                    operation = null;
                    ownerThread = 0;
                }
            }
        }

        /// <summary>Holds the model until disposed; dispose it on the thread that acquired it.</summary>
        internal sealed class Lease : IDisposable
        {
            private ExclusiveUse? owner;

            public Lease(ExclusiveUse owner) => this.owner = owner;

            public void Dispose() => Interlocked.Exchange(ref owner, null)?.Release();
        }
    }
}
