#!/usr/bin/python3
"""Writes the fuzz seeds that need Python: PyTorch zip checkpoints (torch 1.13) and ONNX graphs (onnx 1.12).

Run with Debian's interpreter from the repository root: /usr/bin/python3 tests/MedicalTransfer.Fuzzing/make_seeds.py
The C#-made seeds come from `dotnet tests/MedicalTransfer.Fuzzing/bin/Debug/net10.0/MedicalTransfer.Fuzzing.dll seeds .`
(run-fuzz.sh does both). Everything is deterministic and small (a fuzz input should stay under ~64 KB).
"""
import io
import os
import zipfile

import onnx
import torch
from onnx import TensorProto, helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def pth_seeds():
    out = os.path.join(ROOT, "pytorch-zip")
    pkl = os.path.join(ROOT, "pickle")
    os.makedirs(out, exist_ok=True)
    os.makedirs(pkl, exist_ok=True)
    torch.manual_seed(18)
    base = torch.randn(4, 6)
    shared = torch.arange(10, dtype=torch.float32)
    seeds = {
        "seed-dtypes.pth": {
            "f32": torch.randn(3, 2), "f64": torch.randn(2, dtype=torch.float64), "f16": torch.randn(3).half(),
            "bf16": torch.randn(3).bfloat16(), "i64": torch.arange(4), "i32": torch.arange(3, dtype=torch.int32),
            "i16": torch.arange(2, dtype=torch.int16), "i8": torch.arange(2, dtype=torch.int8),
            "u8": torch.arange(5, dtype=torch.uint8), "flag": torch.tensor([True, False]),
            "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
        },
        # Views: a transposed weight, two tensors over one storage, an offset slice.
        "seed-views.pth": {"t": base.t(), "a": shared[:4], "b": shared[4:], "col": base[:, 1]},
        # What nn.Module.state_dict() writes: an OrderedDict with _metadata, Parameters, num_batches_tracked.
        "seed-module.pth": torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Linear(2, 2)).state_dict(),
    }
    for name, value in seeds.items():
        path = os.path.join(out, name)
        torch.save(value, path)
        with zipfile.ZipFile(path) as z:
            for entry in z.namelist():
                if entry.endswith("data.pkl"):
                    with open(os.path.join(pkl, name.replace(".pth", "-data.pkl")), "wb") as f:
                        f.write(z.read(entry))
    # Protocol 2 and a protocol-4 pickle with FRAME and MEMOIZE, as other picklers write.
    for protocol in (2, 4):
        buf = io.BytesIO()
        torch.save(seeds["seed-views.pth"], buf, pickle_protocol=protocol)
        with zipfile.ZipFile(buf) as z:
            data = next(z.read(n) for n in z.namelist() if n.endswith("data.pkl"))
        with open(os.path.join(pkl, "seed-protocol%d-data.pkl" % protocol), "wb") as f:
            f.write(data)


def external(name, dims):
    """A float initializer of the real shape whose data lives in an external file (absent: the seed stays small)."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    count = 1
    for d in dims:
        count *= d
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(4 * count))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def resnet_graph(block, depths, classes=None, inline=False):
    nodes, inits = [], []
    counter = [0]

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = "%s%d" % (op, counter[0])
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def init(name, dims):
        if inline:
            count = 1
            for d in dims:
                count *= d
            inits.append(helper.make_tensor(name, TensorProto.FLOAT, dims, [0.5] * count))
        else:
            inits.append(external(name, dims))
        return name

    def conv(x, key, out_c, in_c, k, stride):
        p = k // 2
        return node("Conv", [x, init(key + ".w", [out_c, in_c, k, k])], kernel_shape=[k, k], strides=[stride, stride], pads=[p, p, p, p])

    def bn(x, key, c):
        return node("BatchNormalization", [x] + [init(key + s, [c]) for s in (".s", ".b", ".m", ".v")], epsilon=1e-5)

    x = node("Relu", [bn(conv("image", "conv1", 64, 3, 7, 2), "bn1", 64)])
    x = node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    inplanes, expansion = 64, (1 if block == "basic" else 4)
    for s, depth in enumerate(depths):
        planes = 64 << s
        for j in range(depth):
            p = "layer%d.%d." % (s + 1, j)
            stride = 2 if s > 0 and j == 0 else 1
            if block == "basic":
                y = node("Relu", [bn(conv(x, p + "conv1", planes, inplanes, 3, stride), p + "bn1", planes)])
                y = bn(conv(y, p + "conv2", planes, planes, 3, 1), p + "bn2", planes)
            else:
                y = node("Relu", [bn(conv(x, p + "conv1", planes, inplanes, 1, 1), p + "bn1", planes)])
                y = node("Relu", [bn(conv(y, p + "conv2", planes, planes, 3, stride), p + "bn2", planes)])
                y = bn(conv(y, p + "conv3", planes * expansion, planes, 1, 1), p + "bn3", planes * expansion)
            shortcut = x
            if j == 0 and (s > 0 or inplanes != planes * expansion):
                shortcut = bn(conv(x, p + "downsample.0", planes * expansion, inplanes, 1, stride), p + "downsample.1", planes * expansion)
            x = node("Relu", [node("Add", [y, shortcut])])
            inplanes = planes * expansion
    x = node("GlobalAveragePool", [x])
    out_dims = [1, inplanes, 1, 1]
    if classes:
        x = node("Flatten", [x], axis=1)
        x = node("Gemm", [x, init("fc.w", [classes, inplanes]), init("fc.b", [classes])], transB=1)
        out_dims = [1, classes]
    graph = helper.make_graph(nodes, "resnet", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, out_dims)], inits)
    return helper.make_model(graph, producer_name="medicaltransfer-fuzz-seeds", opset_imports=[helper.make_opsetid("", 13)])


def onnx_seeds():
    out = os.path.join(ROOT, "onnx")
    os.makedirs(out, exist_ok=True)
    onnx.save(resnet_graph("basic", [2, 2, 2, 2]), os.path.join(out, "seed-resnet18-external.onnx"))
    onnx.save(resnet_graph("basic", [2, 2, 2, 3], classes=2), os.path.join(out, "seed-resnet-2223-classifier-external.onnx"))
    onnx.save(resnet_graph("bottleneck", [1, 1, 1, 1]), os.path.join(out, "seed-bottleneck-external.onnx"))
    # Inline weights of a too-narrow network: the importer reads real tensor data and refuses the shapes.
    small = resnet_graph("basic", [1, 1, 1, 1], inline=True)
    for t in small.graph.initializer:
        dims = [min(d, 2) for d in t.dims[:2]] + list(t.dims[2:])
        count = 1
        for d in dims:
            count *= d
        del t.dims[:]
        t.dims.extend(dims)
        del t.float_data[count:]
    onnx.save(small, os.path.join(out, "seed-inline-narrow.onnx"))


if __name__ == "__main__":
    pth_seeds()
    onnx_seeds()
