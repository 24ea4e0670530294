using System;
using System.Collections.Generic;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>Names of common SOP classes, for messages about files that are not images or give a SOP class where a transfer syntax belongs.</summary>
    internal static class DicomUids
    {
        private static readonly Dictionary<string, string> SopClasses = new(StringComparer.Ordinal)
        {
            ["1.2.840.10008.1.3.10"] = "Media Storage Directory Storage (a DICOMDIR)",
            ["1.2.840.10008.5.1.4.1.1.1"] = "Computed Radiography Image Storage",
            ["1.2.840.10008.5.1.4.1.1.1.1"] = "Digital X-Ray Image Storage - For Presentation",
            ["1.2.840.10008.5.1.4.1.1.1.1.1"] = "Digital X-Ray Image Storage - For Processing",
            ["1.2.840.10008.5.1.4.1.1.2"] = "CT Image Storage",
            ["1.2.840.10008.5.1.4.1.1.4"] = "MR Image Storage",
            ["1.2.840.10008.5.1.4.1.1.7"] = "Secondary Capture Image Storage",
            ["1.2.840.10008.5.1.4.1.1.66.4"] = "Segmentation Storage",
            ["1.2.840.10008.5.1.4.1.1.104.1"] = "Encapsulated PDF Storage",
            ["1.2.840.10008.5.1.4.1.1.481.1"] = "RT Image Storage",
            ["1.2.840.10008.5.1.4.1.1.481.2"] = "RT Dose Storage",
            ["1.2.840.10008.5.1.4.1.1.481.3"] = "RT Structure Set Storage",
            ["1.2.840.10008.5.1.4.1.1.481.5"] = "RT Plan Storage",
            ["1.2.840.10008.5.1.4.1.1.481.8"] = "RT Ion Plan Storage",
            ["1.2.840.10008.5.1.4.1.1.88.11"] = "Basic Text SR Storage",
            ["1.2.840.10008.5.1.4.1.1.88.22"] = "Enhanced SR Storage",
            ["1.2.840.10008.5.1.4.1.1.88.33"] = "Comprehensive SR Storage",
            ["1.2.840.10008.5.1.4.1.1.9.1.1"] = "12-lead ECG Waveform Storage",
            ["1.2.840.10008.5.1.4.1.1.9.1.2"] = "General ECG Waveform Storage",
        };

        /// <summary>The SOP class's name, or null when unknown.</summary>
        public static string? SopClassName(string? uid) => uid is not null && SopClasses.TryGetValue(uid, out string? name) ? name : null;

        /// <summary>" (it is the UID of X)" for a known SOP class, otherwise empty.</summary>
        public static string Describe(string uid) => SopClassName(uid) is string name ? " (it is the UID of " + name + ", a SOP class)" : string.Empty;
    }
}
