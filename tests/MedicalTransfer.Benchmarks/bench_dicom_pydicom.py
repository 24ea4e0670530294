#!/usr/bin/python3
"""pydicom reference for the DICOM decoding benchmark (DicomBenchmark.cs): the same 2048x2048 files,
one thread, CPU time per image.

    nice -n 10 /usr/bin/python3 tests/MedicalTransfer.Benchmarks/bench_dicom_pydicom.py /tmp/mt-bench-dicom/phantom2048_mono2_16bit.dcm /tmp/mt-bench-dicom/phantom2048_dx_12bit_mono1.dcm

Rows: dcmread + pixel_array (stored values as uint16, what the issue compares with); the same plus
the conversion to float32 in [0, 1] that the SDK's decoder includes; and, for the DX file,
apply_modality_lut + apply_voi_lut + MONOCHROME1 inversion (the SDK's default FileWindow values).
"""
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut  # noqa: E402

REPEAT = 10
ROUNDS = 7


def stored(path):
    return pydicom.dcmread(path).pixel_array


def as_float(path):
    ds = pydicom.dcmread(path)
    return ds.pixel_array.astype(np.float32) / np.float32(2 ** ds.BitsStored - 1)


def windowed(path):
    ds = pydicom.dcmread(path)
    arr = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    low = -1000.0
    high = 2 * 4095 - 1000.0
    out = ((arr - low) / (high - low)).astype(np.float32)
    return 1 - out if ds.PhotometricInterpretation == "MONOCHROME1" else out


def timed(fn, path):
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(REPEAT):
        fn(path)
    return (time.perf_counter() - wall) / REPEAT * 1000, (time.process_time() - cpu) / REPEAT * 1000


def median(values):
    return sorted(values)[len(values) // 2]


rows = []
for path in sys.argv[1:]:
    name = os.path.basename(path)
    rows.append((name + ": dcmread + pixel_array", stored, path))
    rows.append((name + ": dcmread + pixel_array + float32 [0, 1]", as_float, path))
    if "dx" in name:
        rows.append((name + ": dcmread + pixel_array + modality + VOI + MONOCHROME1 (float32)", windowed, path))
for _, fn, path in rows:
    for _ in range(10):
        fn(path)
results = {label: ([], []) for label, _, _ in rows}
for _ in range(ROUNDS):
    for label, fn, path in rows:
        wall, cpu = timed(fn, path)
        results[label][0].append(wall)
        results[label][1].append(cpu)

print(f"pydicom {pydicom.__version__}, numpy {np.__version__}, {ROUNDS} rounds of {REPEAT} decodes per row, rows taking turns, median per-image CPU time, one thread")
print("| pydicom | ms per image (wall, median) | ms per image (CPU, median) | images per CPU-second |")
print("|---|---:|---:|---:|")
for label, _, _ in rows:
    wall, cpu = median(results[label][0]), median(results[label][1])
    print(f"| {label} | {wall:.1f} | {cpu:.1f} | {1000 / cpu:.0f} |")
