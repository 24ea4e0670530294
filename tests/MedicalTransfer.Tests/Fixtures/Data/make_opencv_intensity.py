#!/usr/bin/python3
"""Generates opencv_intensity.json for tests/MedicalTransfer.Tests/Data/IntensityReferenceTests.cs.

Run with Debian's interpreter (python3-opencv 4.6, numpy):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Data/make_opencv_intensity.py

The SDK's CLAHE and histogram equalisation follow OpenCV's (docs/data.md, "Intensity transforms"); these are OpenCV's
own results on small integer images (8-bit: the SDK reads value / 255; 16-bit: value / 65535):
- clahe:    cv2.createCLAHE(clipLimit, (tiles, tiles)).apply(image) on 8-bit images whose sizes divide the grid, do
            not divide it in either direction, and divide it in one direction only (OpenCV pads those differently),
            and on one 16-bit image (65536 bins);
- equalize: cv2.equalizeHist(image) on an 8-bit image.
"""
import json
import os

import cv2
import numpy as np


def image8(rng, height, width):
    # A dim left half and a bright right half with low-contrast texture and a skewed ramp: CLAHE changes it a lot.
    y, x = np.mgrid[0:height, 0:width]
    base = np.where(x < width // 2, 50, 170) + 20 * (y / height) ** 2
    noise = rng.normal(0, 6, size=(height, width))
    return np.clip(np.round(base + noise), 0, 255).astype(np.uint8)


def main():
    rng = np.random.RandomState(23)
    out = {"opencv": cv2.__version__, "numpy": np.__version__}
    cases = []
    for height, width, clip, tiles in ((64, 64, 2.0, 8), (64, 64, 40.0, 4), (50, 61, 3.0, 8), (50, 64, 2.0, 8), (64, 37, 4.0, 4)):
        img = image8(rng, height, width)
        expected = cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles, tiles)).apply(img)
        cases.append({"height": height, "width": width, "clipLimit": clip, "tiles": tiles, "bins": 256, "fullScale": 255,
                      "pixels": img.ravel().tolist(), "expected": expected.ravel().tolist()})
    img16 = (image8(rng, 40, 44).astype(np.int64) * 256 + rng.randint(0, 256, size=(40, 44))).astype(np.uint16)
    expected = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(img16)
    cases.append({"height": 40, "width": 44, "clipLimit": 2.0, "tiles": 4, "bins": 65536, "fullScale": 65535,
                  "pixels": img16.ravel().tolist(), "expected": expected.ravel().tolist()})
    out["clahe"] = cases

    img = image8(rng, 48, 48)
    out["equalize"] = {"height": 48, "width": 48, "pixels": img.ravel().tolist(), "expected": cv2.equalizeHist(img).ravel().tolist()}

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "opencv_intensity.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
