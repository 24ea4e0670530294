#!/usr/bin/env python3
"""Writes the PyTorch state-dict fixtures that tests/MedicalTransfer.Tests/Weights/*Tests.cs read.

Run from this folder with Debian's python3-torch (PyTorch 1.13 on Debian 12):

    /usr/bin/python3 make_fixtures.py

Every tensor value is fixed (no random state) and every file is a few KB. The crafted zips are
byte-for-byte reproducible; files written by torch itself may differ in bytes between runs (the legacy
format keys storages by object id, zip timestamps) but not in content. Outputs:

* tiny_state_dict.pth           - nn.Module.state_dict() of a small module: an OrderedDict with
                                  `_metadata`, tensors of every dtype the reader supports, a BatchNorm's
                                  int64 num_batches_tracked, a transposed (non-contiguous) weight, a view
                                  at a storage offset sharing its storage with another entry, a scalar.
* tiny_state_dict.expected.json - dtype, shape and row-major values of each tensor above.
* keep_vars.pth                 - state_dict(keep_vars=True): parameters pickled as nn.Parameter
                                  (torch._utils._rebuild_parameter), with requires_grad set.
* legacy_format.pth             - the same state_dict in the pre-1.6 non-zip format.
* torchscript.pt                - a TorchScript archive (torch.jit.save), not a state_dict.
* whole_model.pth               - torch.save(model): a pickled nn.Module, not a state_dict.
* os_system.pth                 - a torch.save file whose pickle calls os.system (posix.system).
* nested_checkpoint.pth         - {"state_dict": ..., "epoch": 3}, a training checkpoint.
* storage_too_small.pth         - a tensor that claims more bytes than its storage record holds.
* view_beyond_storage.pth       - a view whose shape/stride/offset reaches past its storage.
* overflowing_shape.pth         - a tensor whose element count overflows 64 bits.
* huge_dimension.pth            - a tensor with a dimension that does not fit in 64 bits.
* truncated.pth                 - the first 60% of tiny_state_dict.pth.

The hostile files are built with the same pickle layout torch.save uses (persistent ids for storages,
torch._utils._rebuild_tensor_v2), so only the one thing each is meant to test is wrong.
"""
import collections
import io
import json
import os
import pickle
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(HERE, name)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, kernel_size=2, bias=True)
        self.bn = torch.nn.BatchNorm2d(2)
        base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4 - 1
        # Transposed: shape (4, 3), strides (1, 4): non-contiguous.
        self.register_buffer("transposed", base.t())
        # Row 1 of a (3, 4) matrix: storage offset 4 in a storage that `shared_base` also uses.
        shared = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5
        self.register_buffer("shared_base", shared)
        self.register_buffer("offset_view", shared[1])
        self.register_buffer("f64", torch.tensor([1.0 / 3, -2.5, 1e-300], dtype=torch.float64))
        self.register_buffer("f16", torch.tensor([0.5, -1.25, 65504.0], dtype=torch.float16))
        self.register_buffer("bf16", torch.tensor([1.0, -3.0, 0.0078125], dtype=torch.bfloat16))
        self.register_buffer("i32", torch.tensor([[-7, 0], [2147483647, -2147483648]], dtype=torch.int32))
        self.register_buffer("i16", torch.tensor([-300, 300], dtype=torch.int16))
        self.register_buffer("i8", torch.tensor([-128, 127], dtype=torch.int8))
        self.register_buffer("u8", torch.tensor([0, 255, 7], dtype=torch.uint8))
        self.register_buffer("flags", torch.tensor([True, False, True]))
        self.register_buffer("scalar", torch.tensor(42.0))
        with torch.no_grad():
            self.conv.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(2, 1, 2, 2) / 8)
            self.conv.bias.copy_(torch.tensor([0.25, -0.25]))
            self.bn.weight.copy_(torch.tensor([1.5, 0.5]))
            self.bn.bias.copy_(torch.tensor([0.1, -0.1]))
            self.bn.running_mean.copy_(torch.tensor([0.2, 0.3]))
            self.bn.running_var.copy_(torch.tensor([2.0, 3.0]))
            self.bn.num_batches_tracked.fill_(7)


def values(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.reshape(-1).tolist()


def torch_like_zip(path, pickle_bytes, records):
    """A zip laid out like torch.save's: archive/data.pkl, archive/data/<key>, archive/version."""
    def entry(name):
        return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: reruns give the same bytes

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(entry("archive/data.pkl"), pickle_bytes)
        for key, data in records.items():
            z.writestr(entry(f"archive/data/{key}"), data)
        z.writestr(entry("archive/version"), "3\n")


class FakeStorage:
    def __init__(self, key, numel, storage_type=torch.FloatStorage):
        self.key, self.numel, self.storage_type = key, numel, storage_type


class FakeTensor:
    """Pickles exactly as torch pickles a tensor, with the size/stride/offset we choose."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def crafted(path, state, records):
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=2).dump(state)
    torch_like_zip(path, buf.getvalue(), records)


class RunsCommand:
    def __reduce__(self):
        # Resolves to posix.system on Linux. MedicalTransfer must refuse it without running it.
        return (os.system, ("touch /tmp/medicaltransfer-pickle-payload-ran",))


def main():
    model = Tiny()
    sd = model.state_dict()
    assert hasattr(sd, "_metadata")
    assert not sd["transposed"].is_contiguous()
    assert sd["offset_view"].storage_offset() == 4
    torch.save(sd, out("tiny_state_dict.pth"))

    expected = collections.OrderedDict(
        (k, {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "values": values(v)})
        for k, v in sd.items()
    )
    with open(out("tiny_state_dict.expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")

    # Round trip check with PyTorch itself, so the expectations are what torch.load gives.
    loaded = torch.load(out("tiny_state_dict.pth"))
    for k, v in sd.items():
        assert torch.equal(loaded[k], v), k

    torch.save(sd, out("legacy_format.pth"), _use_new_zipfile_serialization=False)

    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.5, -1.5]]))
        lin.bias.fill_(0.25)
    torch.save(lin.state_dict(keep_vars=True), out("keep_vars.pth"))

    small = torch.nn.Sequential(torch.nn.Linear(2, 2))
    torch.jit.save(torch.jit.script(small), out("torchscript.pt"))
    torch.save(small, out("whole_model.pth"))
    torch.save({"weight": torch.ones(2), "payload": RunsCommand()}, out("os_system.pth"))
    torch.save({"state_dict": small.state_dict(), "epoch": 3}, out("nested_checkpoint.pth"))

    four_floats = torch.arange(4, dtype=torch.float32).numpy().tobytes()
    # Storage declares 16 floats (64 bytes) but its record holds 4 (16 bytes).
    crafted(out("storage_too_small.pth"),
            collections.OrderedDict(w=FakeTensor(FakeStorage("0", 16), 0, (4, 4), (4, 1))),
            {"0": four_floats})
    # Storage of 4 floats, consistent with its record, but the view (2, 2) at offset 2 with strides
    # (2, 1) reaches element 2 + 2 + 1 = 5.
    crafted(out("view_beyond_storage.pth"),
            collections.OrderedDict(w=FakeTensor(FakeStorage("0", 4), 2, (2, 2), (2, 1))),
            {"0": four_floats})
    # 2**31 * 2**31 * 2**31 elements: overflows int64.
    big = 2 ** 31
    crafted(out("overflowing_shape.pth"),
            collections.OrderedDict(w=FakeTensor(FakeStorage("0", 4), 0, (big, big, big), (0, 0, 0))),
            {"0": four_floats})
    crafted(out("huge_dimension.pth"),
            collections.OrderedDict(w=FakeTensor(FakeStorage("0", 4), 0, (2 ** 70,), (1,))),
            {"0": four_floats})

    with open(out("tiny_state_dict.pth"), "rb") as f:
        data = f.read()
    with open(out("truncated.pth"), "wb") as f:
        f.write(data[: len(data) * 6 // 10])

    for name in sorted(os.listdir(HERE)):
        print(f"{os.path.getsize(out(name)):8d}  {name}")


if __name__ == "__main__":
    main()
