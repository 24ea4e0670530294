#!/usr/bin/python3
"""Generates the DenseNet and EfficientNet parity fixtures for tests/MedicalTransfer.Tests/Models/BackboneParityTests.cs.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Parity/make_backbone_parity.py

Writes, next to this script:
  backbone_parity.json      torchvision's state-dict keys (in torchvision's order), parameter counts with the
                            1000-class head, and logits in eval mode of DenseNet-121 and EfficientNet-B0 with
                            10 classes and weights from the formula below (computed identically in C#, so only
                            logits are committed, never weights);
  densenet_tiny_legacy.pth  a tiny DenseNet (growth 4, 8 initial features, blocks 1-1-1-1, 3 classes) saved with
                            the dense-layer key names of torchvision's published checkpoints ('norm.1' for
                            'norm1'), and its logits in backbone_parity.json: loading it proves the renaming.

Formula, for the t-th entry of state_dict() (in torchvision's order), flattened index j (float64, then rounded
to float32); the same as make_resnet_parity.py's except that BatchNorm weights are told apart by being 1-D and
that weights are scaled by a gain per architecture (1 for DenseNet; 4 for EfficientNet, whose signal would
otherwise not reach the logits):
    u = sin(0.37 * j + 1.3 * t + 0.5)
    conv / linear weight (2-D or more): u * sqrt(3 * gain / fan_in)   with fan_in = numel / shape[0]
    bias:                  0.05 * u
    1-D weight (BN):       1 + 0.2 * u
    bn running_mean:       0.1 * u
    bn running_var:        1 + 0.5 * (u + 1) / 2
    num_batches_tracked:   0
Input [2, 3, 64, 64]: x_j = sin(0.013 * j) + 0.5 * cos(0.007 * j)  (j = flattened index).
"""
import json
import math
import os
import re

import torch
import torchvision

GAINS = {"densenet121": 1.0, "efficientnet_b0": 4.0, "densenet_tiny": 1.0}


def fill(model, gain):
    sd = model.state_dict()
    new = {}
    for t, (name, tensor) in enumerate(sd.items()):
        n = tensor.numel()
        j = torch.arange(n, dtype=torch.float64)
        u = torch.sin(0.37 * j + 1.3 * t + 0.5)
        leaf = name.rsplit(".", 1)[1]
        if leaf == "num_batches_tracked":
            new[name] = torch.zeros_like(tensor)
            continue
        if leaf == "running_mean":
            v = 0.1 * u
        elif leaf == "running_var":
            v = 1 + 0.5 * (u + 1) / 2
        elif leaf == "bias":
            v = 0.05 * u
        elif leaf == "weight" and tensor.dim() == 1:
            v = 1 + 0.2 * u
        else:
            fan_in = n / tensor.shape[0]
            v = u * math.sqrt(3.0 * gain / fan_in)
        new[name] = v.reshape(tensor.shape).to(tensor.dtype)
    model.load_state_dict(new)
    return list(sd.keys())


def formula_input():
    j = torch.arange(2 * 3 * 64 * 64, dtype=torch.float64)
    return (torch.sin(0.013 * j) + 0.5 * torch.cos(0.007 * j)).float().reshape(2, 3, 64, 64)


def logits_of(model, x):
    model.eval()
    with torch.no_grad():
        return [[float(v) for v in row] for row in model(x)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    x = formula_input()
    out = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    for name in ("densenet121", "efficientnet_b0"):
        count = sum(p.numel() for p in getattr(torchvision.models, name)(num_classes=1000).parameters())
        model = getattr(torchvision.models, name)(num_classes=10)
        keys = fill(model, GAINS[name])
        out[name] = {"gain": GAINS[name], "parameters_1000_classes": count, "keys": keys, "logits": logits_of(model, x)}

    # A tiny DenseNet written as torchvision's published DenseNet checkpoints are: 'denselayerN.norm.1.weight'.
    tiny = torchvision.models.DenseNet(growth_rate=4, block_config=(1, 1, 1, 1), num_init_features=8, num_classes=3)
    keys = fill(tiny, GAINS["densenet_tiny"])
    legacy = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$")
    renamed = {}
    for key, tensor in tiny.state_dict().items():
        m = legacy.match(key)
        renamed[m.group(1) + "." + m.group(2) + "." + m.group(3) if m else key] = tensor
    torch.save(renamed, os.path.join(here, "densenet_tiny_legacy.pth"))
    out["densenet_tiny"] = {
        "growth": 4, "initial": 8, "blocks": [1, 1, 1, 1], "classes": 3, "gain": GAINS["densenet_tiny"],
        "legacy_keys": list(renamed.keys()), "logits": logits_of(tiny, x),
    }
    with open(os.path.join(here, "backbone_parity.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
