#!/usr/bin/env -S /usr/bin/python3
"""Generates backbone_gradcam_parity.json for tests/MedicalTransfer.Tests/Explainability/BackboneGradCamTests.cs.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Explainability/make_backbone_gradcam_parity.py

Grad-CAM (definition as in make_gradcam_parity.py: channel weight = mean over space of d logit / d activation,
map = ReLU(sum_c weight_c A_c) / max) on two torchvision backbones other than ResNet, with the formula weights of
../Parity/make_backbone_parity.py and the input x_j = sin(0.013 j) + 0.5 cos(0.007 j) of shape [2, 3, 128, 128]:
  a small DenseNet (growth 8, 16 initial features, blocks 2-2-2-2, 3 classes): stages denseblock4 (the SDK's default),
  denseblock2 and stem;
  EfficientNet-B0 (3 classes): conv_head (the default), the block stage6.1 (features[6][1]) and stage3.
Stages as MedicalTransfer names them: DenseNet's denseblockN is the dense block with the transition after it, the
last with norm5 and its ReLU; EfficientNet's stem is features[0], stageN features[N], conv_head features[8].
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Parity"))
from make_backbone_parity import fill  # noqa: E402


def densenet_stages(m):
    f = m.features
    return [
        ("stem", lambda x: f.pool0(f.relu0(f.norm0(f.conv0(x))))),
        ("denseblock1", lambda x: f.transition1(f.denseblock1(x))),
        ("denseblock2", lambda x: f.transition2(f.denseblock2(x))),
        ("denseblock3", lambda x: f.transition3(f.denseblock3(x))),
        ("denseblock4", lambda x: F.relu(f.norm5(f.denseblock4(x)))),
        ("pooling", lambda x: torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)),
        ("head", m.classifier),
    ]


def efficientnet_stages(m):
    names = ["stem"] + ["stage%d" % i for i in range(1, 8)] + ["conv_head"]
    seq = [(n, m.features[i]) for i, n in enumerate(names)]
    return seq + [("pooling", lambda x: torch.flatten(m.avgpool(x), 1)), ("head", m.classifier)]


def gradcam(seq, layer, x):
    names = layer.split(".")
    idx = [n for n, _ in seq].index(names[0])
    with torch.no_grad():
        a = x
        for _, f in seq[:idx]:
            a = f(a)
        if len(names) == 1:
            a = seq[idx][1](a)
            rest_blocks = []
        else:
            blocks = list(seq[idx][1])
            for block in blocks[: int(names[1]) + 1]:
                a = block(a)
            rest_blocks = blocks[int(names[1]) + 1:]
    leaf = a.detach().requires_grad_(True)
    y = leaf
    for block in rest_blocks:
        y = block(y)
    for _, f in seq[idx + 1:]:
        y = f(y)
    target = y.detach().argmax(1)
    score = y.gather(1, target.unsqueeze(1)).sum()
    (g,) = torch.autograd.grad(score, leaf)
    w = g.mean(dim=(2, 3))
    cam = F.relu((w[:, :, None, None] * leaf.detach()).sum(1))
    mx = cam.amax(dim=(1, 2), keepdim=True)
    cam = torch.where(mx > 0, cam / mx.clamp_min(1e-30), torch.zeros_like(cam))
    return {"target": [int(t) for t in target], "shape": list(cam.shape), "map": [float(v) for v in cam.flatten()]}


def main():
    j = torch.arange(2 * 3 * 128 * 128, dtype=torch.float64)
    x = (torch.sin(0.013 * j) + 0.5 * torch.cos(0.007 * j)).float().reshape(2, 3, 128, 128)
    out = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    dense = torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, num_classes=3)
    keys = fill(dense, 1.0)
    dense.eval()
    out["densenet"] = {"gain": 1.0, "keys": keys, "cams": {l: gradcam(densenet_stages(dense), l, x) for l in ("denseblock4", "denseblock2", "stem")}}
    eff = torchvision.models.efficientnet_b0(num_classes=3)
    keys = fill(eff, 4.0)
    eff.eval()
    out["efficientnet_b0"] = {"gain": 4.0, "keys": keys, "cams": {l: gradcam(efficientnet_stages(eff), l, x) for l in ("conv_head", "stage6.1", "stage3")}}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "backbone_gradcam_parity.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
