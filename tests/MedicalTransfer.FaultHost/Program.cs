using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;

namespace MedicalTransfer.FaultHost
{
    /// <summary>
    /// Commands (each prints <c>ready</c> once it starts the work a test may kill, then one line per completed step):
    /// <list type="bullet">
    /// <item><c>save-model FILE</c>: writes two tiny models' reference files FILE.a and FILE.b, FILE itself if missing,
    /// then saves A and B over FILE in turn until killed.</item>
    /// <item><c>export-onnx FILE</c>: writes two tiny models' ONNX exports FILE.a and FILE.b, FILE itself if missing,
    /// then exports A and B over FILE in turn until killed.</item>
    /// <item><c>train FILE EPOCHS</c>: trains a tiny model with a checkpoint written to FILE after every epoch.</item>
    /// <item><c>download CACHE BASE_URI FILE_NAME SHA256</c>: fetches one checkpoint into CACHE through the weights cache,
    /// then prints <c>done PATH SHA256</c> of the file it was given.</item>
    /// </list>
    /// </summary>
    internal static class Program
    {
        private static int Main(string[] args)
        {
            switch (args[0])
            {
                case "save-model":
                    SaveModels(args[1]);
                    return 0;
                case "export-onnx":
                    ExportModels(args[1]);
                    return 0;
                case "train":
                    Train(args[1], int.Parse(args[2], CultureInfo.InvariantCulture));
                    return 0;
                case "download":
                    Download(args[1], new Uri(args[2]), args[3], args[4]);
                    return 0;
                default:
                    Console.Error.WriteLine("usage: save-model FILE | export-onnx FILE | train FILE EPOCHS | download CACHE BASE_URI FILE_NAME SHA256");
                    return 2;
            }
        }

        private static TransferModel Tiny(int seed) =>
            TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithHead(Head.Linear())
                .ForClasses("NORMAL", "PNEUMONIA")
                .OnDevice(torch.CPU)
                .WithSeed(seed)
                .Build();

        private static void SaveModels(string file) => WriteInTurn(file, (model, path) => model.Save(path), "saved");

        private static void ExportModels(string file) => WriteInTurn(file, (model, path) => model.ExportOnnx(path), "exported");

        /// <summary>
        /// Writes two tiny models' reference files FILE.a and FILE.b (and FILE itself if missing), prints <c>ready</c>,
        /// then writes B and A over FILE in turn until killed, printing <c>VERB b</c> or <c>VERB a</c> after each write.
        /// </summary>
        private static void WriteInTurn(string file, Action<TransferModel, string> write, string verb)
        {
            using TransferModel a = Tiny(1);
            using TransferModel b = Tiny(2);
            write(a, file + ".a");
            write(b, file + ".b");
            if (!File.Exists(file))
            {
                write(a, file);
            }

            Console.WriteLine("ready");
            for (long i = 0; ; i++)
            {
                write(i % 2 == 0 ? b : a, file);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{verb} {(i % 2 == 0 ? 'b' : 'a')}"));
            }
        }

        private static void Train(string checkpoint, int epochs)
        {
            using TransferModel model = Tiny(3);
            var generator = new torch.Generator(7);
            // Small and quick: an epoch takes about as long as its checkpoint write, so kills land in both.
            using var images = torch.randn(new long[] { 8, 3, 16, 16 }, generator: generator);
            using var labels = torch.arange(8, dtype: torch.ScalarType.Int64) % 2;
            var train = new TensorBatchSource(images, labels, batchSize: 4, shuffle: true, seed: 3);
            var validation = new TensorBatchSource(images, labels, batchSize: 8);
            var options = new TrainingOptions { Epochs = epochs, CheckpointPath = checkpoint, Callbacks = new[] { new EpochPrinter() } };
            Console.WriteLine("ready");
            TransferModelTrainingExtensions.FitCore(model, train, validation, options, CancellationToken.None);
        }

        private static void Download(string cache, Uri baseUri, string fileName, string sha256)
        {
            var entry = new CatalogEntry(18, "TEST", fileName, sha256, 11_689_512, MedicalTransfer.Data.Preprocessing.ImageNet);
            var options = new PretrainedWeightsOptions { CacheDirectory = cache, BaseAddress = baseUri, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30) };
            Console.WriteLine("ready");
            string path = WeightsCache.GetOrDownload(entry, options, NullLogger.Instance, CancellationToken.None);
            string actual = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();
            Console.WriteLine($"done {path} {actual}");
        }

        /// <summary>
        /// Prints how many epochs are done. Callbacks run just before the epoch's checkpoint is written, so
        /// when "epoch N" is printed the checkpoint of epoch N - 1 is complete on disk.
        /// </summary>
        private sealed class EpochPrinter : ITrainingCallback
        {
            public void OnEpochEnd(TrainingContext context) =>
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {context.History.Epochs.Count}"));
        }
    }
}
