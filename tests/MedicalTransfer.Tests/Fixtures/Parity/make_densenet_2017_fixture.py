#!/usr/bin/python3
"""Writes densenet_tiny_2017.pth for tests/MedicalTransfer.Tests/Weights/BackboneWeightsTests.cs.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14), after make_backbone_parity.py:
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Parity/make_densenet_2017_fixture.py

torchvision's published DenseNet checkpoints (densenet121-a639ec97.pth and its siblings) were saved in 2017 by
PyTorch 0.2/0.3: the legacy (pre-1.6, non-zip) serialization, tensors pickled through
torch._utils._rebuild_tensor(storage, offset, size, stride) (there was no _rebuild_tensor_v2 before 0.4), dense-layer
keys with dots ('denselayer1.norm.1.weight') and no BatchNorm num_batches_tracked. No machine of this project can
download those files, so this script writes the same tiny DenseNet as densenet_tiny_legacy.pth (growth 4, 8 initial
features, blocks 1-1-1-1, 3 classes, the formula weights; its logits are in backbone_parity.json) in that form,
with torch.serialization's legacy framing: pickled magic number, protocol version 1001 and system info, the
state_dict's pickle with ('storage', type, key, location, numel, None) persistent ids, the pickled sorted storage
keys, then each storage as an int64 element count and its little-endian bytes. torch.load reads it back (checked
below), as it reads the published files.
"""
import collections
import copyreg
import io
import os
import pickle
import re
import struct

import torch
import torchvision

from make_backbone_parity import fill

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    tiny = torchvision.models.DenseNet(growth_rate=4, block_config=(1, 1, 1, 1), num_init_features=8, num_classes=3)
    fill(tiny, 1.0)
    legacy = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$")
    state = collections.OrderedDict()
    for key, tensor in tiny.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue  # PyTorch 0.3's BatchNorm had no such buffer
        m = legacy.match(key)
        state[m.group(1) + "." + m.group(2) + "." + m.group(3) if m else key] = tensor.clone()

    storages = {}

    class LegacyPickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, torch.storage.TypedStorage):
                # Every tensor here owns its storage (they are clones); numbering them keeps the file reproducible.
                key = str(len(storages))
                storages[key] = obj
                return ("storage", torch.FloatStorage, key, "cpu", obj.size(), None)
            return None

        def reducer_override(self, obj):
            if isinstance(obj, torch.Tensor):
                # PyTorch 0.3's Tensor.__reduce_ex__: _rebuild_tensor(storage, storage_offset, size, stride)
                return (torch._utils._rebuild_tensor, (obj.storage(), obj.storage_offset(), tuple(obj.size()), obj.stride()))
            return NotImplemented

    buffer = io.BytesIO()
    pickle.dump(MAGIC_NUMBER, buffer, protocol=2)
    pickle.dump(PROTOCOL_VERSION, buffer, protocol=2)
    pickle.dump({"protocol_version": PROTOCOL_VERSION, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, buffer, protocol=2)
    LegacyPickler(buffer, protocol=2).dump(state)
    keys = sorted(storages.keys())
    pickle.dump(keys, buffer, protocol=2)
    for key in keys:
        data = storages[key]
        buffer.write(struct.pack("<q", data.size()))
        buffer.write(bytes(data.untyped()))
    path = os.path.join(here, "densenet_tiny_2017.pth")
    with open(path, "wb") as f:
        f.write(buffer.getvalue())

    # torch.load reads it as it reads torchvision's 2017 files, and torchvision's renaming makes it load.
    loaded = torch.load(path)
    assert list(loaded.keys()) == list(state.keys())
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert not any(k.endswith("num_batches_tracked") for k in loaded)
    print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(loaded)} tensors")


if __name__ == "__main__":
    main()
