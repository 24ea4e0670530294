#!/usr/bin/python3
"""How far MedicalTransfer's evaluation input for EfficientNet is from torchvision's.

torchvision's EfficientNet IMAGENET1K_V1 weights are evaluated with Resize(256, BICUBIC), CenterCrop(224),
ToTensor, Normalize(ImageNet). MedicalTransfer has one resampler, PIL's antialiased bilinear filter (its
Transforms tests compare it with torchvision's BILINEAR), so it feeds the same crop resized bilinearly. This script
measures the difference between the two inputs on a folder of images:
    /usr/bin/python3 tests/MedicalTransfer.Benchmarks/bench_resampling.py /tmp/mt-bench/jpeg-128
(that folder is written by `dotnet run -c Release --project tests/MedicalTransfer.Benchmarks -- --gray`: 512x512
synthetic chest X-ray JPEGs). Prints the mean and 99.9th-percentile absolute difference per pixel, in normalised
units and in 8-bit gray levels.
"""
import glob
import os
import sys

import numpy
import torch
import torchvision.transforms as T
from PIL import Image


def pipeline(mode):
    return T.Compose([T.Resize(256, interpolation=mode), T.CenterCrop(224), T.ToTensor(),
                      T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])


def main():
    folder = sys.argv[1]
    files = sorted(glob.glob(os.path.join(folder, "**", "*.*"), recursive=True))
    files = [f for f in files if f.lower().endswith((".png", ".jpg", ".jpeg"))]
    bicubic, bilinear = pipeline(T.InterpolationMode.BICUBIC), pipeline(T.InterpolationMode.BILINEAR)
    diffs = []
    for f in files:
        image = Image.open(f).convert("RGB")
        diffs.append((bicubic(image) - bilinear(image)).abs().flatten())
    d = torch.cat(diffs).numpy()
    std = 0.226
    size = Image.open(files[0]).size
    print(f"{len(files)} images of {size[0]}x{size[1]} from {folder}")
    print(f"mean |bicubic - bilinear| = {d.mean():.4f} normalised units ({d.mean() * std * 255:.2f} gray levels of 255)")
    print(f"99.9th percentile         = {numpy.quantile(d, 0.999):.4f} normalised units ({numpy.quantile(d, 0.999) * std * 255:.2f} gray levels)")
    print(f"max                       = {d.max():.4f} normalised units ({d.max() * std * 255:.2f} gray levels)")


if __name__ == "__main__":
    main()
