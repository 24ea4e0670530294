#!/usr/bin/python3
"""Generates skimage_intensity.json for tests/MedicalTransfer.Tests/Data/IntensityReferenceTests.cs.

Run with Debian's interpreter (python3-skimage 0.19, numpy):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Data/make_skimage_intensity.py

Every input is a small image of integers (8-bit values 0..255; 16-bit for the window and the percentiles), so the SDK reads
exactly the values scikit-image was given (value / 255, value / 65535). The outputs are scikit-image's:
- window:     exposure.rescale_intensity(raw, in_range=(center - width / 2, center + width / 2), out_range=(0, 1))
              on the raw 16-bit values;
- percentile: np.percentile(image, (lower, upper)) (linear interpolation), then rescale_intensity to (0, 1);
- equalize:   exposure.equalize_hist(image, nbins=256);
- clahe:      exposure.equalize_adapthist(image, kernel_size=16, clip_limit=4 / 256, nbins=256): a 4 x 4 grid of
              16-pixel tiles on a 64 x 64 image, each bin clipped at 4 pixels (the SDK's clipLimit 4 = 4 x the mean
              bin count of 256 pixels in 256 bins).
"""
import json
import os

import numpy as np
import skimage
from skimage import exposure


def image8(rng, height, width):
    # A dim left half and a bright right half, each with low-contrast texture, plus a skewed ramp: equalisation
    # and CLAHE change it a lot, so a wrong or missing transform is far from the reference.
    y, x = np.mgrid[0:height, 0:width]
    base = np.where(x < width // 2, 50, 170) + 20 * (y / height) ** 2
    noise = rng.normal(0, 6, size=(height, width))
    return np.clip(np.round(base + noise), 0, 255).astype(np.int64)


def main():
    rng = np.random.RandomState(19)
    out = {"skimage": skimage.__version__, "numpy": np.__version__}

    raw = np.clip(np.round(rng.gamma(2.0, 900.0, size=(24, 24))), 0, 65535).astype(np.int64)
    raw[0, 0], raw[0, 1] = 0, 65535
    windows = []
    for center, width in ((1000, 2000), (2048, 4096), (1800, 500)):
        expected = exposure.rescale_intensity(raw.astype(np.float64), in_range=(center - width / 2, center + width / 2), out_range=(0.0, 1.0))
        windows.append({"center": center, "width": width, "expected": [round(float(v), 7) for v in expected.ravel()]})
    out["window"] = {"height": 24, "width": 24, "raw": raw.ravel().tolist(), "cases": windows}

    # 16-bit values, nearly all distinct, so the percentiles fall between two different values and numpy's
    # linear interpolation matters.
    img = np.clip(np.round(image8(rng, 40, 48) * 256 + np.random.RandomState(7).uniform(0, 256, size=(40, 48))), 0, 65535).astype(np.int64)
    img[3, 5], img[7, 9] = 0, 65535  # a few saturated and dead pixels, what percentile rescaling is for
    f = img / 65535.0
    cases = []
    for lower, upper in ((1, 99), (2, 98), (5, 95)):
        lo, hi = np.percentile(f, (lower, upper))
        expected = exposure.rescale_intensity(f, in_range=(lo, hi), out_range=(0.0, 1.0))
        cases.append({"lower": lower, "upper": upper, "low": float(lo), "high": float(hi), "expected": [round(float(v), 7) for v in expected.ravel()]})
    out["percentile"] = {"height": 40, "width": 48, "pixels": img.ravel().tolist(), "cases": cases}

    img = image8(rng, 48, 48)
    img[0, 0], img[0, 1] = 0, 255  # the full [0, 1] range, so skimage's bins (over the image's range) are the SDK's
    expected = exposure.equalize_hist(img / 255.0, nbins=256)
    out["equalize"] = {"height": 48, "width": 48, "pixels": img.ravel().tolist(), "expected": [round(float(v), 7) for v in expected.ravel()]}

    img = image8(rng, 64, 64)
    expected = exposure.equalize_adapthist(img / 255.0, kernel_size=16, clip_limit=4 / 256, nbins=256)
    out["clahe"] = {"height": 64, "width": 64, "tiles": 4, "clipLimit": 4, "pixels": img.ravel().tolist(), "expected": [round(float(v), 6) for v in expected.ravel()]}

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "skimage_intensity.json"), "w") as fh:
        json.dump(out, fh, separators=(",", ":"))


if __name__ == "__main__":
    main()
