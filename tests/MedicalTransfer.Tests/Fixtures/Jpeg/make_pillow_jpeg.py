#!/usr/bin/python3
"""Pillow's decoding of small JPEGs, the reference for the SDK's JPEG path (Data/JpegDecodingTests.cs).

Run with Debian's python3-pil (Pillow 9.4, libjpeg-turbo 2.1):

    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Jpeg/make_pillow_jpeg.py

It writes, from a seeded generator (reruns write identical files):
- colour420.jpg: 37x23 RGB, quality 85, chroma subsampled 4:2:0 (Pillow's default), odd size so the
  last chroma row and column are upsampled from a half block; sharp colour edges, where decoders that
  upsample chroma differently disagree most;
- colour444.jpg: the same picture without chroma subsampling;
- gray.jpg: 29x19 gray, quality 90;
- pillow_jpeg.json: for each, Image.open(path).convert("RGB" or "L") as a flat list of bytes in row-major,
  interleaved order (what PIL + torchvision's ToTensor sees, times 255).
"""
import json
import os

import numpy as np
from PIL import Image, features

HERE = os.path.dirname(os.path.abspath(__file__))


def picture(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // (width - 1)).astype(np.uint8)
    green = (y * 255 // (height - 1)).astype(np.uint8)
    blue = np.where((x // 5 + y // 4) % 2 == 0, 230, 20).astype(np.uint8)
    rgb = np.stack([red, green, blue], -1)
    rgb[3:9, 11:20] = [250, 10, 40]
    rgb = np.clip(rgb.astype(int) + rng.integers(-12, 13, rgb.shape), 0, 255).astype(np.uint8)
    return rgb


def main():
    assert features.check_feature("libjpeg_turbo"), "Pillow must be built with libjpeg-turbo"
    rgb = picture(37, 23, 12)
    Image.fromarray(rgb).save(os.path.join(HERE, "colour420.jpg"), quality=85)
    Image.fromarray(rgb).save(os.path.join(HERE, "colour444.jpg"), quality=85, subsampling=0)
    gray = picture(29, 19, 13)[:, :, 0] // 2 + picture(29, 19, 13)[:, :, 2] // 2
    Image.fromarray(gray.astype(np.uint8)).save(os.path.join(HERE, "gray.jpg"), quality=90)
    reference = {"pillow": Image.__version__, "libjpeg_turbo": features.version("libjpeg_turbo"), "images": {}}
    for name, mode in (("colour420.jpg", "RGB"), ("colour444.jpg", "RGB"), ("gray.jpg", "L")):
        with Image.open(os.path.join(HERE, name)) as im:
            arr = np.asarray(im.convert(mode))
        reference["images"][name] = {"width": arr.shape[1], "height": arr.shape[0], "channels": 1 if mode == "L" else 3,
                                     "samples": arr.reshape(-1).tolist()}
    with open(os.path.join(HERE, "pillow_jpeg.json"), "w") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
