using System;
using MedicalTransfer;

// Touches no TorchSharp API before MedicalTransfer does, as a user's first call would.
try
{
    using var model = TransferBuilder.FromResNet(18).ForClasses("NORMAL", "PNEUMONIA").Build();
    Console.WriteLine("LOADED " + model.Architecture.Name);
    return 0;
}
catch (NativeLibraryException ex)
{
    Console.WriteLine("NativeLibraryException: " + ex.Message);
    return 3;
}
