#!/usr/bin/python3
"""Generates the ResNet parity fixtures for tests/MedicalTransfer.Tests/Models/ResNetTests.cs (depths 18, 34, 50, 101, 152).

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Parity/make_resnet_parity.py

Weights and input are filled by a deterministic formula that ResNetParityTests.cs computes identically
in C#, so only the expected logits (a few KB) are committed, never the weights.

Formula, for the t-th entry of state_dict() (in torchvision's order), flattened index j (float64, then
rounded to float32):
    u = sin(0.37 * j + 1.3 * t + 0.5)
    conv / linear weight: u * sqrt(3 / fan_in)   with fan_in = numel / shape[0]
    linear bias, bn bias:  0.05 * u
    bn weight:             1 + 0.2 * u
    bn running_mean:       0.1 * u
    bn running_var:        1 + 0.5 * (u + 1) / 2
    num_batches_tracked:   0
Input [2, 3, 64, 64]: x_j = sin(0.013 * j) + 0.5 * cos(0.007 * j)  (j = flattened index).
"""
import json
import math
import os

import torch
import torchvision


def fill(model):
    sd = model.state_dict()
    new = {}
    for t, (name, tensor) in enumerate(sd.items()):
        n = tensor.numel()
        j = torch.arange(n, dtype=torch.float64)
        u = torch.sin(0.37 * j + 1.3 * t + 0.5)
        leaf = name.rsplit(".", 1)[1]
        is_bn = "bn" in name.split(".")[-2] or name.split(".")[-2] == "1" and "downsample" in name
        if leaf == "num_batches_tracked":
            new[name] = torch.zeros_like(tensor)
            continue
        if leaf == "running_mean":
            v = 0.1 * u
        elif leaf == "running_var":
            v = 1 + 0.5 * (u + 1) / 2
        elif leaf == "weight" and is_bn:
            v = 1 + 0.2 * u
        elif leaf == "bias":
            v = 0.05 * u
        else:  # conv or linear weight
            fan_in = n / tensor.shape[0]
            v = u * math.sqrt(3.0 / fan_in)
        new[name] = v.reshape(tensor.shape).to(tensor.dtype)
    model.load_state_dict(new)
    return list(sd.keys())


def main():
    out = {}
    j = torch.arange(2 * 3 * 64 * 64, dtype=torch.float64)
    x = (torch.sin(0.013 * j) + 0.5 * torch.cos(0.007 * j)).float().reshape(2, 3, 64, 64)
    for depth in (18, 34, 50, 101, 152):
        model = getattr(torchvision.models, f"resnet{depth}")(num_classes=10)
        keys = fill(model)
        model.eval()
        with torch.no_grad():
            logits = model(x)
        out[f"resnet{depth}"] = {
            "keys": keys,
            "logits": [[float(v) for v in row] for row in logits],
        }
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "resnet_parity.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, **out}, f, indent=1)


if __name__ == "__main__":
    main()
