namespace MedicalTransfer.Data
{
    /// <summary>One image of a dataset: its file and its class index.</summary>
    /// <param name="Path">Full path of the image file.</param>
    /// <param name="Label">Index of its class in the dataset's <see cref="ImageDataset.Classes"/>.</param>
    public readonly record struct ImageSample(string Path, int Label);
}
