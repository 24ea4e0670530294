using System;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace MedicalTransfer.Internal
{
    /// <summary>
    /// The one way the SDK replaces a file: the content goes to a temporary file beside the target, is
    /// flushed to disk and renamed over the target, so the target is always either the previous file or
    /// the complete new one, whatever happens to the process (a kill, a crash, a full disk).
    /// </summary>
    /// <remarks>
    /// <para>The temporary file is <c>.NAME.RANDOM.tmp</c> (downloads: <c>.partial</c>) in the target's
    /// folder, held open by its writer until after the rename. A process killed mid-write leaves it
    /// behind; the next write of the same target removes every such file that no live writer holds open
    /// (an open handle locks it: flock on Linux and macOS, sharing modes on Windows) and that is older
    /// than <see cref="AbandonedAfter"/>, so concurrent writers never delete each other's files.</para>
    /// <para>A full file system (ENOSPC, EDQUOT; ERROR_DISK_FULL on Windows) becomes a
    /// <see cref="DiskFullException"/> naming the target, the space needed and the space free.</para>
    /// </remarks>
    internal static class AtomicFile
    {
        internal const string TempSuffix = ".tmp";

        /// <summary>
        /// How old an unlocked temporary file must be before it is taken as abandoned: far longer than the
        /// instant between a writer creating its file and locking it.
        /// </summary>
        internal static readonly TimeSpan AbandonedAfter = TimeSpan.FromSeconds(5);

        private const int BufferBytes = 1 << 16;

        /// <summary>Writes <paramref name="path"/> atomically with <paramref name="write"/>.</summary>
        /// <param name="path">The target; its folder must exist.</param>
        /// <param name="bytesNeeded">The size of the content when known (for the disk-full message), else -1.</param>
        /// <param name="write">Writes the content; an exception from it abandons the write and leaves the target as it was.</param>
        /// <param name="decorate">Wraps the temporary file's stream (tests use it to fail mid-write), or null.</param>
        public static void Write(string path, long bytesNeeded, Action<Stream> write, Func<Stream, Stream>? decorate = null)
        {
            (string target, string temp) = Prepare(path, TempSuffix);
            try
            {
                using (FileStream file = Create(temp))
                {
                    Stream stream = decorate?.Invoke(file) ?? file;
                    try
                    {
                        write(stream);
                        stream.Flush();
                    }
                    finally
                    {
                        if (!ReferenceEquals(stream, file))
                        {
                            stream.Dispose();
                        }
                    }

                    file.Flush(flushToDisk: true);
                    File.Move(temp, target, overwrite: true);
                }
            }
            catch (Exception e)
            {
                TryDelete(temp);
                if (e is IOException io && IsDiskFull(io))
                {
                    throw DiskFull(target, bytesNeeded, io);
                }

                throw;
            }
        }

        /// <summary>Writes <paramref name="path"/> atomically with an asynchronous <paramref name="write"/> (downloads).</summary>
        /// <param name="path">The target; its folder must exist.</param>
        /// <param name="suffix">The temporary file's suffix (<c>.partial</c> for downloads).</param>
        /// <param name="bytesNeeded">The size of the content when known, else -1.</param>
        /// <param name="write">Writes the content; an exception from it abandons the write.</param>
        /// <param name="ct">Cancels the final flush.</param>
        public static async Task WriteAsync(string path, string suffix, long bytesNeeded, Func<FileStream, Task> write, CancellationToken ct)
        {
            (string target, string temp) = Prepare(path, suffix);
            try
            {
                FileStream file = Create(temp, FileOptions.Asynchronous);
                await using (file.ConfigureAwait(false))
                {
                    await write(file).ConfigureAwait(false);
                    await file.FlushAsync(ct).ConfigureAwait(false);
                    file.Flush(flushToDisk: true);
                    File.Move(temp, target, overwrite: true);
                }
            }
            catch (Exception e)
            {
                TryDelete(temp);
                if (e is IOException io && IsDiskFull(io))
                {
                    throw DiskFull(target, bytesNeeded, io);
                }

                throw;
            }
        }

        /// <summary>Writes text (UTF-8, no byte-order mark) atomically.</summary>
        public static void WriteText(string path, string text)
        {
            byte[] bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
            Write(path, bytes.Length, s => s.Write(bytes));
        }

        /// <summary>
        /// Removes the temporary files of <paramref name="fileName"/> in <paramref name="folder"/> that their
        /// writer abandoned (killed): unlocked and older than <see cref="AbandonedAfter"/>. Never throws.
        /// </summary>
        /// <returns>How many were removed.</returns>
        public static int DeleteAbandoned(string folder, string fileName, string suffix)
        {
            int removed = 0;
            string[] candidates;
            try
            {
                candidates = Directory.GetFiles(folder, "*" + fileName + ".*" + suffix);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return 0;
            }

            foreach (string candidate in candidates)
            {
                string name = Path.GetFileName(candidate);
                // Ours: ".NAME.RANDOM.suffix"; downloads of earlier versions: "NAME.RANDOM.suffix".
                if (!name.StartsWith("." + fileName + ".", StringComparison.Ordinal) && !name.StartsWith(fileName + ".", StringComparison.Ordinal))
                {
                    continue;
                }

                try
                {
                    if (DateTime.UtcNow - File.GetLastWriteTimeUtc(candidate) < AbandonedAfter)
                    {
                        continue;
                    }

                    // Fails while a live writer holds the file; deletes it when this handle closes otherwise.
                    using (new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose))
                    {
                    }

                    removed++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // In use by another writer, or already gone.
                }
            }

            return removed;
        }

        /// <summary>Whether <paramref name="e"/> says the file system is full or the quota is spent.</summary>
        internal static bool IsDiskFull(IOException e)
        {
            if (e is DiskFullException)
            {
                return true;
            }

            int code = e.HResult;
            if (OperatingSystem.IsWindows())
            {
                // ERROR_HANDLE_DISK_FULL (39), ERROR_DISK_FULL (112), as HRESULTs.
                return code is unchecked((int)0x80070027) or unchecked((int)0x80070070);
            }

            // .NET reports the errno itself: ENOSPC is 28 everywhere; EDQUOT is 122 on Linux, 69 on macOS.
            return code == 28 || (OperatingSystem.IsLinux() && code == 122) || (OperatingSystem.IsMacOS() && code == 69);
        }

        private static (string Target, string Temp) Prepare(string path, string suffix)
        {
            string target = Path.GetFullPath(path);
            string folder = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{path}' has no parent folder.", nameof(path));
            if (!Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"Cannot write '{path}': the folder '{folder}' does not exist. Create it first.");
            }

            string fileName = Path.GetFileName(target);
            DeleteAbandoned(folder, fileName, suffix);
            return (target, Path.Combine(folder, "." + fileName + "." + Path.GetRandomFileName().Replace(".", string.Empty, StringComparison.Ordinal) + suffix));
        }

        // FileShare.Delete: the file can be renamed while this handle is open (Windows needs it), and the
        // handle still locks the file against DeleteAbandoned (a shared lock on Unix, a sharing mode on Windows).
        private static FileStream Create(string temp, FileOptions options = FileOptions.None) =>
            new(temp, FileMode.CreateNew, FileAccess.Write, FileShare.Delete, BufferBytes, options);

        private static DiskFullException DiskFull(string target, long bytesNeeded, IOException e)
        {
            if (e is DiskFullException already)
            {
                return already;
            }

            string folder = Path.GetDirectoryName(target)!;
            long available;
            try
            {
                available = new DriveInfo(folder).AvailableFreeSpace;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                available = -1;
            }

            string needed = bytesNeeded >= 0 ? bytesNeeded.ToString("N0", CultureInfo.InvariantCulture) + " bytes" : "an unknown number of bytes";
            string free = available >= 0 ? available.ToString("N0", CultureInfo.InvariantCulture) + " bytes are" : "the free space could not be read, but too little is";
            return new DiskFullException(
                string.Format(
                    CultureInfo.InvariantCulture,
                    "Cannot write '{0}': the disk is full. The file needs {1} and {2} free on the file system of '{3}' ({4}). Nothing was changed: the previous file, if any, is intact. Free some space or write to another drive.",
                    target,
                    needed,
                    free,
                    folder,
                    e.Message),
                target,
                bytesNeeded,
                available,
                e);
        }

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The original failure matters more; a leftover is removed by the next write of the target.
            }
        }
    }
}
