using System;
using System.IO;
using System.Text;

namespace MedicalTransfer.Samples
{
    /// <summary>
    /// Writes the samples' text outputs (reports, tables, pages) the way the SDK writes its files: into a temporary
    /// file beside the target, flushed to disk, then renamed over it, so that a killed process or a full disk leaves
    /// the previous file or the complete new one, never half of it. Linked into each sample that writes text.
    /// </summary>
    internal static class SampleFiles
    {
        /// <summary>Replaces <paramref name="path"/> with <paramref name="text"/> (UTF-8, no byte-order mark) in one step.</summary>
        public static void WriteAllText(string path, string text)
        {
            string full = Path.GetFullPath(path);
            string temp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + "." + Environment.ProcessId + ".tmp");
            try
            {
                using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    byte[] bytes = new UTF8Encoding(false).GetBytes(text);
                    stream.Write(bytes, 0, bytes.Length);
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, full, overwrite: true);
            }
            catch
            {
                File.Delete(temp);
                throw;
            }
        }
    }
}
