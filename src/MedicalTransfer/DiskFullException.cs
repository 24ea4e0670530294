using System;
using System.IO;

namespace MedicalTransfer
{
    /// <summary>
    /// A file could not be written because its file system is full (or the user's quota is spent). Nothing
    /// was changed: the previous file at <see cref="Path"/>, if any, is intact, and the partial copy was
    /// removed. The message names the file, the space the write needed and the space that was free.
    /// </summary>
    /// <remarks>An <see cref="IOException"/>, so code that already handles I/O failures handles this one.</remarks>
    public sealed class DiskFullException : IOException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">The file, the space needed and free, and what to do.</param>
        /// <param name="path">The file that could not be written.</param>
        /// <param name="bytesNeeded">The size of the file being written, or -1 where it was not known in advance.</param>
        /// <param name="bytesAvailable">The free bytes on the file system when the write failed, or -1 where that could not be read.</param>
        /// <param name="innerException">The operating system's failure.</param>
        public DiskFullException(string message, string path, long bytesNeeded, long bytesAvailable, Exception? innerException)
            : base(message, innerException)
        {
            Path = path;
            BytesNeeded = bytesNeeded;
            BytesAvailable = bytesAvailable;
        }

        /// <summary>The file that could not be written.</summary>
        public string Path { get; }

        /// <summary>The size of the file being written, or -1 where it was not known in advance.</summary>
        public long BytesNeeded { get; }

        /// <summary>The free bytes on the file system when the write failed, or -1 where that could not be read.</summary>
        public long BytesAvailable { get; }
    }
}
