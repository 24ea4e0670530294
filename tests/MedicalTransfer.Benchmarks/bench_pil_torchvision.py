#!/usr/bin/env python3
"""PIL + torchvision reference for the loader benchmark: the reference article's training
pipeline at 224x224 on the same files, on ONE core. Prints images per wall-clock second and
per CPU second (one process, torch.set_num_threads(1)),
batched with torch.stack as torch's DataLoader collates (num_workers=0).

Usage (Debian's python3-torchvision):
    /usr/bin/python3 bench_pil_torchvision.py /tmp/mt-bench/jpeg /tmp/mt-bench/png16
The folders are written by the C# benchmark (SyntheticChestXRay, seed 1). Note that PIL opens
16-bit PNGs as mode I;16/I and convert("RGB") clips them to 8 bits: the figure is for a pipeline
that loses precision, which MedicalTransfer's does not.
"""
import os
import sys
import time

import torch
from PIL import Image
from torchvision import transforms

torch.set_num_threads(1)
torch.manual_seed(1)

train = transforms.Compose([
    transforms.RandomResizedCrop(224),
    transforms.RandomHorizontalFlip(),
    transforms.RandomRotation(10),
    transforms.ColorJitter(brightness=0.2, contrast=0.2),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])


def files(root):
    out = []
    for cls in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, cls))):
            out.append(os.path.join(root, cls, name))
    return out


def epoch(paths):
    batch = []
    for p in paths:
        with Image.open(p) as im:
            batch.append(train(im.convert("RGB")))
        if len(batch) == 32:
            torch.stack(batch)
            batch = []
    if batch:
        torch.stack(batch)
    return len(paths)


for root in sys.argv[1:]:
    paths = files(root)
    epoch(paths)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    n = epoch(paths) + epoch(paths)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    # Per CPU-second is the per-core figure, and robust on a shared machine; wall is also printed.
    print("| PIL + torchvision, train pipeline, %s, 1 core | %.1f | %.1f |" % (os.path.basename(root), n / wall, n / cpu))
