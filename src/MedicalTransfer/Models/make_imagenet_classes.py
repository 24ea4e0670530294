# Writes imagenet_classes.txt: the 1000 ImageNet-1k class names in torchvision's order (the order of the
# logits of every torchvision ImageNet checkpoint), one per line, from torchvision 0.14's models/_meta.py.
# Run with Debian's python3-torchvision: /usr/bin/python3 make_imagenet_classes.py
import os
from torchvision.models._meta import _IMAGENET_CATEGORIES

assert len(_IMAGENET_CATEGORIES) == 1000 and len(set(_IMAGENET_CATEGORIES)) == 1000
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet_classes.txt"), "w", encoding="utf-8", newline="\n") as f:
    for name in _IMAGENET_CATEGORIES:
        assert name.strip() == name and "\n" not in name
        f.write(name + "\n")
