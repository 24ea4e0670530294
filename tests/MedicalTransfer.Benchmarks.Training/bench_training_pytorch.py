#!/usr/bin/env -S /usr/bin/python3
"""PyTorch reference for MedicalTransfer.Benchmarks.Training (run with Debian's /usr/bin/python3: torch 1.13,
torchvision 0.14). Same settings: ResNet-18/50 with a 2-class fc, batch 16, 224x224, 2 threads, AdamW (1e-4, 1e-4).
(a) full fine-tune; (c) stem+layer1+layer2 frozen and run under no_grad; (d) whole backbone frozen under no_grad.
Usage: bench_training_pytorch.py [--models 18,50] [--warmup 2] [--steps 5] [--threads 2]"""
import argparse
import time

import torch
import torchvision


def build(depth):
    model = getattr(torchvision.models, "resnet%d" % depth)(weights=None)
    model.fc = torch.nn.Linear(model.fc.in_features, 2)
    return model


def forward(model, x, frozen_stages):
    stages = [
        lambda t: model.maxpool(model.relu(model.bn1(model.conv1(t)))),
        model.layer1, model.layer2, model.layer3, model.layer4,
    ]
    with torch.no_grad():
        for stage in stages[:frozen_stages]:
            x = stage(x)
    for stage in stages[frozen_stages:]:
        x = stage(x)
    return model.fc(torch.flatten(model.avgpool(x), 1))


def run(depth, frozen_stages, args):
    torch.manual_seed(1)
    model = build(depth)
    model.train()
    frozen = [model.conv1, model.bn1, model.layer1, model.layer2, model.layer3, model.layer4][: {0: 0, 3: 4, 5: 6}[frozen_stages]]
    for module in frozen:
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=1e-4)
    x = torch.randn(args.batch, 3, 224, 224)
    y = torch.randint(0, 2, (args.batch,))
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(forward(model, x, frozen_stages), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return args.batch * args.steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="18,50")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("PyTorch %s, torchvision %s, %d thread(s), batch %d, 224x224, %d warm-up + %d measured steps"
          % (torch.__version__, torchvision.__version__, torch.get_num_threads(), args.batch, args.warmup, args.steps))
    print("| Model | Variant | images/s | vs full |")
    print("|---|---|---:|---:|")
    for depth in [int(d) for d in args.models.split(",")]:
        full = run(depth, 0, args)
        for name, stages, value in [("full fine-tune", 0, full), ("stem..layer2 frozen (no_grad)", 3, None), ("backbone frozen (no_grad)", 5, None)]:
            value = value if value is not None else run(depth, stages, args)
            print("| ResNet-%d | %s | %.1f | %.2fx |" % (depth, name, value, value / full))


if __name__ == "__main__":
    main()
