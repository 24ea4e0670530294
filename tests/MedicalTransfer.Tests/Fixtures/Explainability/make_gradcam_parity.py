#!/usr/bin/env -S /usr/bin/python3
"""Generates gradcam_parity.json for tests/MedicalTransfer.Tests/Explainability/GradCamParityTests.cs.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Explainability/make_gradcam_parity.py

A torchvision ResNet-18 with 3 classes gets the deterministic formula weights of
../Parity/make_resnet_parity.py (the C# test fills its model with TestSupport.FillWithFormula), and
the input x_j = sin(0.013 j) + 0.5 cos(0.007 j) of shape [2, 3, 128, 128]. The reference is written
from the definitions, with no CAM library:
  Grad-CAM   (Selvaraju et al. 2017): channel weight = mean over space of d score / d activation
  Grad-CAM++ (Chattopadhay et al. 2018), as pytorch-grad-cam computes it:
             a = g^2 / (2 g^2 + sum_space(A) g^3 + 1e-6) where g != 0, else 0; weight = sum_space(relu(g) a)
  map = ReLU(sum_c weight_c A_c), divided by its max (high = important; an all-zero map stays 0); the upsampled map is the
  bilinear (align_corners=False) resize of that map to the input size, divided by its max.
The score is the target class's logit. Targets: the predicted class, or chosen classes per image.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Parity"))
from make_resnet_parity import fill  # noqa: E402


def stages(model):
    return [
        ("stem", lambda x: model.maxpool(model.relu(model.bn1(model.conv1(x))))),
        ("layer1", model.layer1), ("layer2", model.layer2), ("layer3", model.layer3), ("layer4", model.layer4),
        ("pooling", lambda x: torch.flatten(model.avgpool(x), 1)), ("head", model.fc),
    ]


def split_at(model, layer):
    """Returns (before, after): functions up to and including `layer` ("layer3" or "layer4.0"), and the rest."""
    names = layer.split(".")
    seq = stages(model)
    idx = [n for n, _ in seq].index(names[0])

    def before(x):
        for _, f in seq[:idx]:
            x = f(x)
        stage = seq[idx][1]
        if len(names) == 1:
            return stage(x)
        for block in list(stage)[: int(names[1]) + 1]:
            x = block(x)
        return x

    def after(x):
        if len(names) == 2:
            for block in list(seq[idx][1])[int(names[1]) + 1:]:
                x = block(x)
        for _, f in seq[idx + 1:]:
            x = f(x)
        return x

    return before, after


def normalise(m):
    # A map that is zero everywhere (no positive evidence for the class) stays zero, not NaN.
    mx = m.amax((1, 2), keepdim=True)
    return torch.where(mx > 0, m / mx.clamp_min(1e-30), torch.zeros_like(m))


def cam(model, x, layer, method, targets=None):
    before, after = split_at(model, layer)
    with torch.no_grad():
        act = before(x)
    act = act.detach().requires_grad_(True)
    logits = after(act)
    probs = torch.softmax(logits, 1)
    if targets is None:
        targets = logits.argmax(1)
    score = logits[torch.arange(x.shape[0]), targets].sum()
    g = torch.autograd.grad(score, act)[0]
    a = act.detach()
    if method == "gradcam":
        w = g.mean((2, 3))
    else:
        g2 = g ** 2
        g3 = g2 * g
        s = a.sum((2, 3))
        aij = g2 / (2 * g2 + s[:, :, None, None] * g3 + 1e-6)
        aij = torch.where(g != 0, aij, torch.zeros_like(aij))
        w = (torch.relu(g) * aij).sum((2, 3))
    m = torch.relu((w[:, :, None, None] * a).sum(1))
    low = normalise(m)
    up = normalise(F.interpolate(low[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0])
    return {
        "layer": layer, "method": method, "targets": targets.tolist(),
        "probabilities": probs.detach().tolist(),
        "low": low.tolist(),
        # The upsampled map is large: keep every 8th pixel of every 8th row.
        "up_stride": 8, "up": up[:, ::8, ::8].tolist(),
    }


def main():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=3)
    keys = fill(model)
    model.eval()
    j = torch.arange(2 * 3 * 128 * 128, dtype=torch.float64)
    x = (torch.sin(0.013 * j) + 0.5 * torch.cos(0.007 * j)).float().reshape(2, 3, 128, 128)
    cases = [
        cam(model, x, "layer4", "gradcam"),
        cam(model, x, "layer4", "gradcam", torch.tensor([0, 1])),
        cam(model, x, "layer3", "gradcam"),
        cam(model, x, "layer4.0", "gradcam"),
        cam(model, x, "layer4", "gradcampp"),
        cam(model, x, "layer3", "gradcampp", torch.tensor([0, 1])),
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "gradcam_parity.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "keys": keys, "cases": cases}, f)


if __name__ == "__main__":
    main()
