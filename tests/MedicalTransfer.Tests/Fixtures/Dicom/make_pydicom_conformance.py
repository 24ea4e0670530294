#!/usr/bin/python3
"""The pydicom reference for the SDK's DICOM reader (tests/MedicalTransfer.Tests/Data/Dicom/DicomConformanceTests.cs).

Run with Debian's python3-pydicom 2.3.1 (numpy, Pillow):

    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Dicom/make_pydicom_conformance.py

It does two things.

1. Writes generated/*.dcm: small DICOM files for what pydicom's own test files lack (a Modality LUT
   Sequence, a VOI LUT Sequence, several windows, LINEAR_EXACT and SIGMOID, MONOCHROME1 with a
   window, signed 12-bit data, 8-bit gray JPEG Baseline with and without a Basic Offset Table,
   multi-frame RLE, a deflated file, uncompressed YBR_FULL). The pixel values come from a seeded
   generator, so reruns write identical files.

2. Writes pydicom_conformance.json: for every file under pydicom's test_files folder (the files
   are read at test time from the installed package, never committed) and every generated file,
   what pydicom 2.3.1 makes of it:
   - "pydicom": "decoded", "no pixel data" or "cannot decode" (with pydicom's error),
   - for decoded files, pixel_array's shape, dtype, min, max, sum and the SHA-256 of its values
     as little-endian int64 in C order (all frames);
   - for JPEG Baseline files, the whole pixel_array (zlib, base64): two conforming JPEG decoders
     (libjpeg in Pillow, ImageSharp in the SDK) may differ by a little, so the test compares
     them within a stated tolerance rather than by hash;
   - for YBR files, pixel_array converted with convert_color_space(..., 'YBR_FULL', 'RGB');
   - for gray files in a transfer syntax the SDK decodes, apply_modality_lut and apply_voi_lut (every window / VOI LUT index) as tables
     over the distinct stored values: both are functions of the stored value alone (the script
     checks that), so a table of (value, output) pairs gives pydicom's output at every pixel.
"""
import base64
import hashlib
import io
import json
import os
import sys
import warnings
import zlib

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut, convert_color_space
from pydicom.sequence import Sequence
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, JPEGBaseline8Bit,
                         RLELossless, generate_uid)

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATED = os.path.join(HERE, "generated")
PYDICOM_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
# The transfer syntaxes the SDK decodes; value tables are only stored for files in these.
SDK_SYNTAXES = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
                "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50"}

arrays = {}


def store(arr, dtype):
    """Stores an array (zlib, base64) under the first 16 hex digits of its SHA-256; returns the key."""
    data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
    key = hashlib.sha256(dtype.encode() + data).hexdigest()[:16]
    arrays[key] = {"dtype": dtype, "count": int(np.asarray(arr).size), "zlib": base64.b64encode(zlib.compress(data, 9)).decode()}
    return key


def base_dataset(rows, columns, photometric, bits_allocated, bits_stored, signed, samples=1, frames=1, syntax=ExplicitVRLittleEndian):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[photometric, str(rows), str(bits_stored), syntax])
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientID = "GEN0001"
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if samples > 1:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def gradient(rows, columns, low, high, seed, frames=1):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns]
    base = low + (high - low) * ((x + y) / (rows + columns - 2))
    out = []
    for f in range(frames):
        noise = rng.integers(-(high - low) // 20, (high - low) // 20 + 1, size=(rows, columns))
        out.append(np.clip(base + noise + f * (high - low) // 10, low, high))
    return np.array(out if frames > 1 else out[0])


def lut_item(first, bits, entries, explanation=None):
    item = Dataset()
    item.LUTDescriptor = [len(entries) if len(entries) < 65536 else 0, first, bits]
    item.LUTData = [int(v) for v in entries]
    item["LUTData"].VR = "US"
    if explanation:
        item.LUTExplanation = explanation
    return item


def jpeg(arr, quality=90):
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_generated():
    os.makedirs(GENERATED, exist_ok=True)
    files = {}

    # Modality LUT Sequence and a VOI LUT Sequence of two items; windows too (the LUT is preferred).
    ds = base_dataset(32, 32, "MONOCHROME2", 16, 12, False)
    px = gradient(32, 32, 0, 4095, 1).astype(np.uint16)
    ds.ModalityLUTSequence = Sequence([lut_item(0, 16, (np.arange(4096) * 3 // 2 + 100).clip(0, 65535), "Modality")])
    ds.ModalityLUTSequence[0].ModalityLUTType = "OD"
    voi = [lut_item(100, 16, np.linspace(0, 65535, 6044).astype(np.uint16), "FULL"),
           lut_item(1000, 12, np.linspace(0, 4095, 3000).astype(np.uint16) ** 1, "GAMMA")]
    ds.VOILUTSequence = Sequence(voi)
    ds.WindowCenter = [3000, 2000]
    ds.WindowWidth = [4000, 1000]
    ds.PixelData = px.tobytes()
    files["modality_lut_voi_lut.dcm"] = ds

    # Signed 12-bit data, rescale, two windows, LINEAR_EXACT.
    ds = base_dataset(24, 40, "MONOCHROME2", 16, 12, True)
    px = gradient(24, 40, -2048, 2047, 2).astype(np.int16)
    ds.RescaleSlope = 0.5
    ds.RescaleIntercept = -100
    ds.WindowCenter = [0, -300.5]
    ds.WindowWidth = [800, 1500.25]
    ds.WindowCenterWidthExplanation = ["SOFT", "LUNG"]
    ds.VOILUTFunction = "LINEAR_EXACT"
    ds.PixelData = px.tobytes()
    files["signed12_linear_exact.dcm"] = ds

    # MONOCHROME1, 12 bits in 16, rescale and a SIGMOID window.
    ds = base_dataset(30, 20, "MONOCHROME1", 16, 12, False)
    px = gradient(30, 20, 0, 4095, 3).astype(np.uint16)
    ds.RescaleSlope = 2
    ds.RescaleIntercept = -1000
    ds.WindowCenter = 3000
    ds.WindowWidth = 5000
    ds.VOILUTFunction = "SIGMOID"
    ds.PixelData = px.tobytes()
    files["mono1_sigmoid.dcm"] = ds

    # 8-bit gray JPEG Baseline with a window.
    ds = base_dataset(48, 64, "MONOCHROME2", 8, 8, False, syntax=JPEGBaseline8Bit)
    px = gradient(48, 64, 0, 255, 4).astype(np.uint8)
    ds.WindowCenter = 128
    ds.WindowWidth = 200
    ds.PixelData = encapsulate([jpeg(px)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    files["jpeg_baseline_gray.dcm"] = ds

    # Three JPEG frames with a Basic Offset Table (pydicom 2.3 reads one fragment per frame).
    ds = base_dataset(16, 24, "MONOCHROME2", 8, 8, False, frames=3, syntax=JPEGBaseline8Bit)
    frames = gradient(16, 24, 0, 255, 5, frames=3).astype(np.uint8)
    ds.PixelData = encapsulate([jpeg(f, 95) for f in frames], fragments_per_frame=1, has_bot=True)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    files["jpeg_baseline_3frames_bot.dcm"] = ds

    # Signed 12-bit RLE, two frames, rescale (pydicom's own RLE encoder).
    ds = base_dataset(20, 18, "MONOCHROME2", 16, 12, True, frames=2)
    px = gradient(20, 18, -2048, 2047, 6, frames=2).astype(np.int16)
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.PixelData = px.tobytes()
    ds.compress(RLELossless, px)
    files["rle_signed12_2frames.dcm"] = ds

    # Deflated Explicit VR Little Endian, MONOCHROME1, 8 bits.
    ds = base_dataset(26, 22, "MONOCHROME1", 8, 8, False, syntax=DeflatedExplicitVRLittleEndian)
    ds.PixelData = gradient(26, 22, 0, 255, 7).astype(np.uint8).tobytes()
    ds.WindowCenter = 100
    ds.WindowWidth = 120
    files["deflated_mono1.dcm"] = ds

    # Uncompressed YBR_FULL, planar.
    ds = base_dataset(10, 12, "YBR_FULL", 8, 8, False, samples=3)
    ds.PlanarConfiguration = 1
    rng = np.random.default_rng(8)
    ds.PixelData = rng.integers(0, 256, size=(3, 10, 12)).astype(np.uint8).tobytes()
    files["ybr_full_planar.dcm"] = ds

    for name, ds in files.items():
        path = os.path.join(GENERATED, name)
        ds.save_as(path, write_like_original=False)
    return sorted(files)


def digest(path):
    entry = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception as e:  # noqa: BLE001 - the reference records what pydicom does
            return {"pydicom": "cannot decode", "pydicomError": f"{type(e).__name__}: {e}"[:300]}
        meta = getattr(ds, "file_meta", None)
        syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
        entry["transferSyntax"] = str(syntax) if syntax else None
        entry["photometric"] = str(ds.get("PhotometricInterpretation", "")) or None
        if "PixelData" not in ds:
            entry["pydicom"] = "no pixel data"
            return entry
        try:
            arr = ds.pixel_array
        except Exception as e:  # noqa: BLE001
            entry["pydicom"] = "cannot decode"
            entry["pydicomError"] = f"{type(e).__name__}: {e}"[:300]
            return entry
        values = arr.astype("<i8")
        entry["pydicom"] = "decoded"
        entry["shape"] = list(arr.shape)
        entry["dtype"] = arr.dtype.name
        entry["frames"] = int(ds.get("NumberOfFrames", 1) or 1)
        entry["min"] = int(values.min())
        entry["max"] = int(values.max())
        entry["sum"] = int(values.sum())
        entry["sha256"] = hashlib.sha256(values.tobytes()).hexdigest()
        if str(syntax) not in SDK_SYNTAXES:
            return entry
        if str(syntax) == JPEGBaseline8Bit:
            entry["pixels"] = store(arr, "|u1")
        photometric = entry["photometric"] or ""
        if photometric.startswith("YBR_FULL") and arr.dtype == np.uint8:
            entry["rgb"] = store(convert_color_space(arr, "YBR_FULL", "RGB"), "|u1")
        if photometric.startswith("MONOCHROME"):
            distinct, inverse = np.unique(values, return_inverse=True)
            modality = apply_modality_lut(arr, ds)
            table = np.asarray(modality, dtype=np.float64).reshape(-1)
            first = np.zeros(len(distinct), dtype=np.float64)
            first[inverse] = table
            # The output is a function of the stored value alone: every pixel equals its value's entry.
            assert np.array_equal(first[inverse], table), path
            entry["values"] = store(distinct, "<i8")
            entry["modality"] = store(first, "<f8")
            voi = []
            count = max(len(ds.get("VOILUTSequence", [])), _vm(ds, "WindowCenter"))
            for index in range(count):
                try:
                    out = np.asarray(apply_voi_lut(modality, ds, index=index), dtype=np.float64).reshape(-1)
                except Exception as e:  # noqa: BLE001
                    voi.append({"index": index, "error": f"{type(e).__name__}: {e}"[:200]})
                    continue
                mapped = np.zeros(len(distinct), dtype=np.float64)
                mapped[inverse] = out
                assert np.array_equal(mapped[inverse], out), path
                voi.append({"index": index, "outputs": store(mapped, "<f8")})
            entry["voi"] = voi
    return entry


def _vm(ds, keyword):
    if keyword not in ds:
        return 0
    value = ds[keyword].value
    return len(value) if isinstance(value, (list, pydicom.multival.MultiValue)) else 1


def main():
    generated = write_generated()
    files = []
    for folder, _, names in os.walk(PYDICOM_FILES):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), PYDICOM_FILES).replace(os.sep, "/")
            files.append(("pydicom", rel, os.path.join(folder, name)))
    for name in generated:
        files.append(("generated", name, os.path.join(GENERATED, name)))
    files.sort(key=lambda f: (f[0] != "pydicom", f[1]))

    entries = []
    for source, rel, path in files:
        entry = {"source": source, "file": rel, "bytes": os.path.getsize(path)}
        with open(path, "rb") as handle:
            entry["fileSha256"] = hashlib.sha256(handle.read()).hexdigest()
        entry.update(digest(path))
        entries.append(entry)

    out = {
        "generator": "tests/MedicalTransfer.Tests/Fixtures/Dicom/make_pydicom_conformance.py",
        "pydicom": pydicom.__version__,
        "numpy": np.__version__,
        "testFiles": "pydicom/data/test_files",
        "files": entries,
        "arrays": arrays,
    }
    with open(os.path.join(HERE, "pydicom_conformance.json"), "w") as handle:
        json.dump(out, handle, indent=0, sort_keys=False)
        handle.write("\n")
    decoded = sum(1 for e in entries if e.get("pydicom") == "decoded")
    print(f"{len(entries)} files ({len(generated)} generated), {decoded} decoded by pydicom", file=sys.stderr)


if __name__ == "__main__":
    main()
