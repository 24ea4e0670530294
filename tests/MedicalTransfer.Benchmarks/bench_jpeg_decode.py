#!/usr/bin/env python3
"""PIL's JPEG decoding alone on the JPEG decode benchmark's files (JpegDecodeBenchmark.cs), one core:
Image.open + convert("L" or "RGB") + float32 / 255 (what torchvision's ToTensor makes of it), per CPU second.

Usage (Debian's python3-pil, libjpeg-turbo 2.1):
    /usr/bin/python3 bench_jpeg_decode.py /tmp/mt-bench/jpeg /tmp/mt-bench/jpeg-colour
"""
import os
import statistics
import sys
import time

import numpy as np
from PIL import Image, features


def files(root):
    out = []
    for folder, _, names in os.walk(root):
        out += [os.path.join(folder, n) for n in names if n.endswith((".jpg", ".jpeg"))]
    return sorted(out)[:128]


def decode(paths, mode):
    for p in paths:
        with Image.open(p) as im:
            np.asarray(im.convert(mode), dtype=np.float32) / 255


print("PIL", Image.__version__, "libjpeg-turbo", features.version("libjpeg_turbo"))
for root in sys.argv[1:]:
    paths = files(root)
    mode = "RGB" if "colour" in root else "L"
    decode(paths, mode)  # warm-up, file cache
    rates = []
    for _ in range(5):
        cpu = time.process_time()
        decode(paths, mode)
        rates.append(len(paths) / (time.process_time() - cpu))
    print(f"| {root} ({mode}), {len(paths)} files | PIL {statistics.median(rates):.0f} images per CPU-s |")
