using System;

namespace MedicalTransfer
{
    /// <summary>
    /// An image file or image folder cannot be used: a zero-byte, truncated, corrupt or unsupported
    /// file, an image above the pixel limit, or a folder without usable class folders. The message
    /// names the file or folder, what was expected, what was found and what to do.
    /// </summary>
    public sealed class ImageDataException : MedicalTransferException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="path">The file or folder at fault.</param>
        /// <param name="message">What is wrong with it and what to do.</param>
        public ImageDataException(string path, string message) : this(path, message, null) { }

        /// <summary>Creates the exception, wrapping the decoder's own failure.</summary>
        /// <param name="path">The file or folder at fault.</param>
        /// <param name="message">What is wrong with it and what to do.</param>
        /// <param name="innerException">The failure that caused this one.</param>
        public ImageDataException(string path, string message, Exception? innerException) : base(message, innerException)
        {
            Path = path;
        }

        /// <summary>The file or folder at fault.</summary>
        public string Path { get; }
    }
}
