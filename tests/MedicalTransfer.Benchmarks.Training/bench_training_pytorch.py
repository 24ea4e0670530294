#!/usr/bin/env -S /usr/bin/python3
"""PyTorch reference for MedicalTransfer.Benchmarks.Training (run with Debian's /usr/bin/python3: torch 1.13,
torchvision 0.14). Same settings: ResNet-18/50 with a 2-class fc, batch 16, 224x224, 2 threads, AdamW (1e-4, 1e-4).
(a) full fine-tune; (c) stem+layer1+layer2 frozen and run under no_grad; (d) whole backbone frozen under no_grad.
As the C# benchmark: the variants take turns over --rounds rounds of 1 + --steps steps (the first untimed), and a
row reports batch / (median step time) and the median minor page faults of a step.
The C allocator: as the C# benchmark, freed memory is kept for reuse (glibc mallopt, what the SDK's Trainer does by
default) unless --default-allocator is given.
--channels-last adds every variant again with the model and the batches in torch.channels_last (PyTorch's own switch,
what the SDK does by default); --bf16 adds the frozen variants with the frozen prefix under
torch.autocast("cpu", torch.bfloat16) inside no_grad (channels-last too): PyTorch's fair equivalent of the SDK's
TrainingOptions.FrozenPrefixPrecision = BFloat16. All variants of a model take turns in the same run.
Usage: bench_training_pytorch.py [--models 18,50] [--rounds 5] [--steps 2] [--threads 2] [--default-allocator]
       [--channels-last] [--bf16] [--variants full,upto2,all]"""
import argparse
import contextlib
import ctypes
import os
import subprocess
import resource
import statistics
import time

import torch
import torchvision


def build(depth):
    model = getattr(torchvision.models, "resnet%d" % depth)(weights=None)
    model.fc = torch.nn.Linear(model.fc.in_features, 2)
    return model


def forward(model, x, frozen_stages, bf16=False):
    stages = [
        lambda t: model.maxpool(model.relu(model.bn1(model.conv1(t)))),
        model.layer1, model.layer2, model.layer3, model.layer4,
    ]
    precision = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 and frozen_stages > 0 else contextlib.nullcontext()
    with torch.no_grad(), precision:
        for stage in stages[:frozen_stages]:
            x = stage(x)
    x = x.float()
    for stage in stages[frozen_stages:]:
        x = stage(x)
    return model.fc(torch.flatten(model.avgpool(x), 1))


class Variant:
    """One row: a model, its optimizer over the trainable parameters, and the timed steps collected so far."""

    def __init__(self, name, depth, frozen_stages, channels_last=False, bf16=False):
        torch.manual_seed(1)
        self.name = name + (", bf16 frozen prefix" if bf16 else "") + (", channels_last" if channels_last else "")
        self.frozen_stages = frozen_stages
        self.channels_last = channels_last
        self.bf16 = bf16
        self.model = build(depth)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        frozen = [self.model.conv1, self.model.bn1, self.model.layer1, self.model.layer2, self.model.layer3,
                  self.model.layer4][: {0: 0, 3: 4, 5: 6}[frozen_stages]]
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=1e-4, weight_decay=1e-4)
        self.steps = []
        self.faults = []

    def round(self, x, y, batch):
        # 1 + steps batches; the first is not timed (as the C# benchmark's first step of each round).
        for i in range(x.shape[0] // batch):
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            images = x[i * batch:(i + 1) * batch]
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            loss = torch.nn.functional.cross_entropy(forward(self.model, images, self.frozen_stages, self.bf16), y[i * batch:(i + 1) * batch])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss.item()
            if i > 0:
                self.steps.append(time.perf_counter() - start)
                self.faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="18,50")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--default-allocator", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--variants", default="full,upto2,all")
    args = parser.parse_args()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
        for line in lscpu:
            if line.startswith(("Model name", "CPU(s)", "Flags")):
                print("lscpu: " + " ".join(line.split()))
        flags = next((l for l in lscpu if l.startswith("Flags")), "")
        print("bfloat16: " + ("native" if " avx512_bf16" in flags or " amx_bf16" in flags else "emulated (no avx512_bf16/amx_bf16)"))
    except OSError:
        print("lscpu: not available")
    print("load average %s at start" % open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "")
    if args.default_allocator:
        print("C allocator: left as it is (--default-allocator)")
    else:
        # glibc <malloc.h>: M_MMAP_MAX = -4 (0: never serve allocations with mmap), M_TRIM_THRESHOLD = -1 (-1: never trim).
        libc = ctypes.CDLL("libc.so.6")
        applied = libc.mallopt(-4, 0) == 1 and libc.mallopt(-1, -1) == 1
        print("C allocator: %s (freed memory kept for reuse, as the SDK's Trainer does by default)" % ("Applied" if applied else "NotSupported"))
    torch.set_num_threads(args.threads)
    print("PyTorch %s, torchvision %s, %d thread(s), batch %d, %dx%d, %d rounds x (1 + %d) steps per variant"
          % (torch.__version__, torchvision.__version__, torch.get_num_threads(), args.batch, args.size, args.size, args.rounds, args.steps))
    rows = []
    for depth in [int(d) for d in args.models.split(",")]:
        torch.manual_seed(1)
        batches = 1 + args.steps
        x = torch.randn(args.batch * batches, 3, args.size, args.size)
        y = torch.randint(0, 2, (args.batch * batches,))
        kinds = [(k, n, f) for k, n, f in [("full", "full fine-tune", 0), ("upto2", "stem..layer2 frozen (no_grad)", 3),
                                            ("all", "backbone frozen (no_grad)", 5)] if k in args.variants.split(",")]
        variants = [Variant(n, depth, f) for _, n, f in kinds]
        if args.channels_last:
            variants += [Variant(n, depth, f, channels_last=True) for _, n, f in kinds]
        if args.bf16:
            variants += [Variant(n, depth, f, channels_last=True, bf16=True) for _, n, f in kinds if f > 0]
        for r in range(args.rounds):
            for i in range(len(variants)):
                variants[(i + r) % len(variants)].round(x, y, args.batch)
        for v in variants:
            rows.append(("ResNet-%d" % depth, v.name, args.batch / statistics.median(v.steps), args.batch / statistics.mean(v.steps), statistics.median_low(v.faults)))
    print("| Model | Variant | images/s (median step) | images/s (mean) | vs full | page faults/step |")
    print("|---|---|---:|---:|---:|---:|")
    for model, name, median, mean, faults in rows:
        full = next((r[2] for r in rows if r[0] == model and r[1] == "full fine-tune"), median)
        print("| %s | %s | %.1f | %.1f | %.2fx | {:,} |".replace("{:,}", "{:,}".format(faults)) % (model, name, median, mean, median / full))
    if os.path.exists("/proc/loadavg"):
        print("load average %s at the end" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
