#!/usr/bin/python3
"""Writes the fuzz seeds that need Python: PyTorch zip checkpoints (torch 1.13), ONNX graphs (onnx 1.12), DICOM
files of every transfer syntax the SDK decodes (pydicom 2.3, Pillow for the JPEG frames) and label tables in the
shapes CheXpert and NIH ChestX-ray14 publish them (quotes, a BOM, CRLF).

Run with Debian's interpreter from the repository root: /usr/bin/python3 tests/MedicalTransfer.Fuzzing/make_seeds.py
The C#-made seeds come from `dotnet tests/MedicalTransfer.Fuzzing/bin/Debug/net10.0/MedicalTransfer.Fuzzing.dll seeds .`
(run-fuzz.sh does both). Everything is deterministic and small (a fuzz input should stay under ~64 KB).
"""
import io
import os
import zipfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian,
                         ImplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def pth_seeds():
    out = os.path.join(ROOT, "pytorch-zip")
    pkl = os.path.join(ROOT, "pickle")
    os.makedirs(out, exist_ok=True)
    os.makedirs(pkl, exist_ok=True)
    torch.manual_seed(18)
    base = torch.randn(4, 6)
    shared = torch.arange(10, dtype=torch.float32)
    seeds = {
        "seed-dtypes.pth": {
            "f32": torch.randn(3, 2), "f64": torch.randn(2, dtype=torch.float64), "f16": torch.randn(3).half(),
            "bf16": torch.randn(3).bfloat16(), "i64": torch.arange(4), "i32": torch.arange(3, dtype=torch.int32),
            "i16": torch.arange(2, dtype=torch.int16), "i8": torch.arange(2, dtype=torch.int8),
            "u8": torch.arange(5, dtype=torch.uint8), "flag": torch.tensor([True, False]),
            "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
        },
        # Views: a transposed weight, two tensors over one storage, an offset slice.
        "seed-views.pth": {"t": base.t(), "a": shared[:4], "b": shared[4:], "col": base[:, 1]},
        # What nn.Module.state_dict() writes: an OrderedDict with _metadata, Parameters, num_batches_tracked.
        "seed-module.pth": torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Linear(2, 2)).state_dict(),
    }
    for name, value in seeds.items():
        path = os.path.join(out, name)
        torch.save(value, path)
        with zipfile.ZipFile(path) as z:
            for entry in z.namelist():
                if entry.endswith("data.pkl"):
                    with open(os.path.join(pkl, name.replace(".pth", "-data.pkl")), "wb") as f:
                        f.write(z.read(entry))
    # Protocol 2 and a protocol-4 pickle with FRAME and MEMOIZE, as other picklers write.
    for protocol in (2, 4):
        buf = io.BytesIO()
        torch.save(seeds["seed-views.pth"], buf, pickle_protocol=protocol)
        with zipfile.ZipFile(buf) as z:
            data = next(z.read(n) for n in z.namelist() if n.endswith("data.pkl"))
        with open(os.path.join(pkl, "seed-protocol%d-data.pkl" % protocol), "wb") as f:
            f.write(data)


def external(name, dims):
    """A float initializer of the real shape whose data lives in an external file (absent: the seed stays small)."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    count = 1
    for d in dims:
        count *= d
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(4 * count))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def resnet_graph(block, depths, classes=None, inline=False, shared=None):
    """A torchvision-shaped ResNet graph. shared="bn": one initializer per distinct BatchNorm vector shape, read by every
    BatchNorm of that width (as exporters merge the equal vectors of an untrained model); shared="all": every weight."""
    nodes, inits = [], []
    counter = [0]
    names = {}

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = "%s%d" % (op, counter[0])
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def init(name, dims, batchnorm=False):
        if shared == "all" or (shared == "bn" and batchnorm):
            key = tuple(dims)
            if key in names:
                return names[key]
            name = names[key] = "shared." + "x".join(str(d) for d in dims)
        if inline:
            count = 1
            for d in dims:
                count *= d
            inits.append(helper.make_tensor(name, TensorProto.FLOAT, dims, [0.5] * count))
        else:
            inits.append(external(name, dims))
        return name

    def conv(x, key, out_c, in_c, k, stride):
        p = k // 2
        return node("Conv", [x, init(key + ".w", [out_c, in_c, k, k])], kernel_shape=[k, k], strides=[stride, stride], pads=[p, p, p, p])

    def bn(x, key, c):
        return node("BatchNormalization", [x] + [init(key + s, [c], batchnorm=True) for s in (".s", ".b", ".m", ".v")], epsilon=1e-5)

    x = node("Relu", [bn(conv("image", "conv1", 64, 3, 7, 2), "bn1", 64)])
    x = node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    inplanes, expansion = 64, (1 if block == "basic" else 4)
    for s, depth in enumerate(depths):
        planes = 64 << s
        for j in range(depth):
            p = "layer%d.%d." % (s + 1, j)
            stride = 2 if s > 0 and j == 0 else 1
            if block == "basic":
                y = node("Relu", [bn(conv(x, p + "conv1", planes, inplanes, 3, stride), p + "bn1", planes)])
                y = bn(conv(y, p + "conv2", planes, planes, 3, 1), p + "bn2", planes)
            else:
                y = node("Relu", [bn(conv(x, p + "conv1", planes, inplanes, 1, 1), p + "bn1", planes)])
                y = node("Relu", [bn(conv(y, p + "conv2", planes, planes, 3, stride), p + "bn2", planes)])
                y = bn(conv(y, p + "conv3", planes * expansion, planes, 1, 1), p + "bn3", planes * expansion)
            shortcut = x
            if j == 0 and (s > 0 or inplanes != planes * expansion):
                shortcut = bn(conv(x, p + "downsample.0", planes * expansion, inplanes, 1, stride), p + "downsample.1", planes * expansion)
            x = node("Relu", [node("Add", [y, shortcut])])
            inplanes = planes * expansion
    x = node("GlobalAveragePool", [x])
    out_dims = [1, inplanes, 1, 1]
    if classes:
        x = node("Flatten", [x], axis=1)
        x = node("Gemm", [x, init("fc.w", [classes, inplanes]), init("fc.b", [classes])], transB=1)
        out_dims = [1, classes]
    graph = helper.make_graph(nodes, "resnet", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, out_dims)], inits)
    return helper.make_model(graph, producer_name="medicaltransfer-fuzz-seeds", opset_imports=[helper.make_opsetid("", 13)])


def onnx_seeds():
    out = os.path.join(ROOT, "onnx")
    os.makedirs(out, exist_ok=True)
    onnx.save(resnet_graph("basic", [2, 2, 2, 2]), os.path.join(out, "seed-resnet18-external.onnx"))
    onnx.save(resnet_graph("basic", [2, 2, 2, 3], classes=2), os.path.join(out, "seed-resnet-2223-classifier-external.onnx"))
    onnx.save(resnet_graph("bottleneck", [1, 1, 1, 1]), os.path.join(out, "seed-bottleneck-external.onnx"))
    onnx.save(resnet_graph("basic", [2, 2, 2, 2], shared="bn"), os.path.join(out, "seed-resnet18-shared-batchnorm-external.onnx"))
    # Inline weights of a too-narrow network: the importer reads real tensor data and refuses the shapes.
    small = resnet_graph("basic", [1, 1, 1, 1], inline=True)
    for t in small.graph.initializer:
        dims = [min(d, 2) for d in t.dims[:2]] + list(t.dims[2:])
        count = 1
        for d in dims:
            count *= d
        del t.dims[:]
        t.dims.extend(dims)
        del t.float_data[count:]
    onnx.save(small, os.path.join(out, "seed-inline-narrow.onnx"))


def dicom_dataset(syntax, rows, columns, bits, signed=False, photometric="MONOCHROME2", samples=1, frames=1):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.18%d%d%d" % (rows, bits, frames)
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientID = "FUZZ01"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if signed else 0
    if samples > 1:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.is_little_endian = syntax != ExplicitVRBigEndian
    ds.is_implicit_VR = syntax == ImplicitVRLittleEndian
    return ds


def dicom_pixels(ds, rng):
    frames = int(getattr(ds, "NumberOfFrames", 1))
    shape = (frames, ds.Rows, ds.Columns, ds.SamplesPerPixel)
    if ds.BitsAllocated == 8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if ds.PixelRepresentation:
        return rng.integers(-(1 << (ds.BitsStored - 1)), 1 << (ds.BitsStored - 1), shape, dtype=np.int16)
    return rng.integers(0, 1 << ds.BitsStored, shape, dtype=np.uint16)


def dicom_seeds():
    """One small file per transfer syntax the SDK decodes, with the elements its value mapping reads."""
    out = os.path.join(ROOT, "dicom")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(18)

    def save(name, ds, pixels=None):
        if pixels is not None:
            data = pixels.astype(pixels.dtype.newbyteorder(">" if not ds.is_little_endian else "<")).tobytes()
            ds.PixelData = data
        ds.save_as(os.path.join(out, name), write_like_original=False)

    ds = dicom_dataset(ImplicitVRLittleEndian, 16, 12, 12)
    ds.WindowCenter, ds.WindowWidth = ["2048", "1000"], ["4096", "500"]
    ds.RescaleSlope, ds.RescaleIntercept = "1.5", "-100"
    save("seed-implicit-le-12bit-windows.dcm", ds, dicom_pixels(ds, rng))

    ds = dicom_dataset(ExplicitVRLittleEndian, 16, 16, 8, photometric="RGB", samples=3)
    save("seed-explicit-le-rgb.dcm", ds, dicom_pixels(ds, rng))

    ds = dicom_dataset(ExplicitVRBigEndian, 8, 8, 16, signed=True)
    ds.VOILUTFunction = "SIGMOID"
    ds.WindowCenter, ds.WindowWidth = "0", "2000"
    save("seed-explicit-be-signed16-sigmoid.dcm", ds, dicom_pixels(ds, rng))

    ds = dicom_dataset(DeflatedExplicitVRLittleEndian, 16, 16, 10, photometric="MONOCHROME1")
    save("seed-deflated-mono1.dcm", ds, dicom_pixels(ds, rng))

    # RLE Lossless: pydicom's own encoder, two frames of signed 12-bit data.
    ds = dicom_dataset(ExplicitVRLittleEndian, 8, 8, 12, signed=True, frames=2)
    ds.compress(RLELossless, dicom_pixels(ds, rng)[..., 0], encoding_plugin="pydicom")
    save("seed-rle-signed12-2frames.dcm", ds)

    # JPEG Baseline: Pillow's libjpeg encodes, pydicom encapsulates (one frame with, one without a Basic Offset Table).
    for name, frames, photometric, offsets in (("seed-jpeg-gray.dcm", 1, "MONOCHROME2", True),
                                               ("seed-jpeg-ybr-2frames-no-bot.dcm", 2, "YBR_FULL_422", False)):
        samples = 1 if photometric.startswith("MONO") else 3
        ds = dicom_dataset(JPEGBaseline8Bit, 16, 16, 8, photometric=photometric, samples=samples, frames=frames)
        encoded = []
        for frame in dicom_pixels(ds, rng):
            image = Image.fromarray(frame[..., 0] if samples == 1 else frame, "L" if samples == 1 else "RGB")
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=90)
            encoded.append(buf.getvalue())
        ds.PixelData = encapsulate(encoded, has_bot=offsets)
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        save(name, ds)

    # No preamble (the meta group first), and no preamble nor meta group (a bare implicit-VR data set), as some
    # archives hold them.
    for name, keep_meta in (("seed-no-preamble.dcm", True), ("seed-bare-dataset.dcm", False)):
        ds = dicom_dataset(ImplicitVRLittleEndian, 4, 4, 8)
        ds.PixelData = dicom_pixels(ds, rng).tobytes()
        if not keep_meta:
            del ds.file_meta
        buf = io.BytesIO()
        ds.save_as(buf, write_like_original=True)
        with open(os.path.join(out, name), "wb") as f:
            f.write(buf.getvalue())


def csv_seeds():
    """Label tables as CheXpert (Path, Sex, ..., the 14 observations as 1.0 / 0.0 / -1.0 / empty) and NIH
    ChestX-ray14 (Image Index, Finding Labels joined by '|', Patient ID) publish them, plus a two-class table."""
    out = os.path.join(ROOT, "csv")
    os.makedirs(out, exist_ok=True)
    observations = ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                    "Fracture", "Support Devices"]
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"] + observations
    values = [["1.0", "", "", "", "", "", "", "", "", "", "", "", "", "1.0"],
              ["", "", "1.0", "1.0", "", "", "-1.0", "1.0", "", "0.0", "", "", "", ""],
              ["", "-1.0", "", "", "", "1.0", "", "", "1.0", "", "1.0", "", "1.0", ""]]
    paths = ["CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg",
             "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg",
             "CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg"]
    lines = [",".join(header)]
    for path, row, view in zip(paths, values, ["Frontal", "Frontal", "Lateral"]):
        lines.append(",".join([path, "Female", "68", view, "AP" if view == "Frontal" else ""] + row))
    with open(os.path.join(out, "seed-chexpert.csv"), "w", newline="") as f:
        f.write("\n".join(lines) + "\n")
    # Excel's "CSV UTF-8": a BOM, CRLF, quoted fields with a delimiter, a doubled quote and a line break inside.
    with open(os.path.join(out, "seed-chexpert-bom-crlf-quoted.csv"), "wb") as f:
        rows = [",".join(header)]
        rows.append('"%s",Male,"5,0",Frontal,PA,%s' % (paths[0], ",".join(values[0])))
        rows.append('"%s","Fe""male","line\nbreak",Lateral,,%s' % (paths[2], ",".join(values[2])))
        f.write(b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8") + b"\r\n")
    nih = ["Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
           "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],",
           "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,",
           "00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.143,0.143,",
           "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,",
           "00000003_000.png,Hernia|Infiltration|Nodule,0,3,\"74\",F,AP,2500,2048,0.168,0.168,"]
    with open(os.path.join(out, "seed-nih.csv"), "w", newline="") as f:
        f.write("\n".join(nih) + "\n")
    with open(os.path.join(out, "seed-classes.csv"), "w", newline="") as f:
        f.write("Path,Label,Patient\nNORMAL/a.png,NORMAL,p1\nPNEUMONIA/b.png,PNEUMONIA,p2\n\nNORMAL/c.png,NORMAL,p3\n")
    # Tab-separated, an unterminated last record, non-ASCII text.
    with open(os.path.join(out, "seed-classes-tabs-no-final-newline.csv"), "wb") as f:
        f.write("Path\tLabel\tNote\nNORMAL/a.png\tNORMAL\tRöntgen\nPNEUMONIA/b.png\tPNEUMONIA\t\"x\ty\"".encode("utf-8"))


def onnx_regressions():
    """Hand-made inputs for the importer's allocation cap (docs/security.md, finding 8)."""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions", "onnx")
    os.makedirs(out, exist_ok=True)
    # 27 KB of graph whose 81 3x3 convolutions of 512 to 512 channels all read one 9.4 MB initializer (external, in
    # the target's sparse weights.bin): each use was materialised as its own copy, 3.1 GB allocated in all.
    onnx.save(resnet_graph("basic", [1, 1, 1, 41], shared="all"), os.path.join(out, "one-initializer-read-by-81-convolutions.onnx"))


if __name__ == "__main__":
    pth_seeds()
    onnx_seeds()
    dicom_seeds()
    csv_seeds()
    onnx_regressions()
