#!/usr/bin/python3
"""Where torchvision 0.14 puts its crops, for CropBoxesTests.cs (tests/MedicalTransfer.Tests/Data).

Run with Debian's interpreter (python3-torchvision 0.14):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Data/make_crop_boxes.py

Each case crops an image whose pixel values are 1 + (row * width + column); the first pixel of a crop
then says where the crop starts (0 marks padding, which center_crop adds when the crop is larger).
five_crop returns (top-left, top-right, bottom-left, bottom-right, center).
"""
import json
import os

import torch
import torchvision
import torchvision.transforms.functional as F

# (height, width, crop height, crop width): odd differences are where round-half-to-even and floor disagree
# (3 -> 1.5 -> 2 vs 1; 7 -> 3.5 -> 4 vs 3), 73/64 is the ensemble sample's, 232/224 and 256/224 torchvision's own.
FIVE = [(73, 73, 64, 64), (67, 67, 64, 64), (40, 40, 32, 32), (71, 71, 64, 64), (9, 7, 4, 4), (11, 9, 2, 2),
        (10, 13, 3, 6), (232, 232, 224, 224), (256, 256, 224, 224), (5, 5, 5, 5), (8, 12, 5, 5)]
# center_crop also pads when the crop is larger than the image.
CENTER = FIVE + [(5, 5, 8, 8), (4, 7, 9, 10), (6, 6, 9, 9), (3, 10, 6, 7)]


def start(crop, width):
    first = int(crop[0, 0, 0])
    if first == 0:
        # padded: find the first original pixel and step back to the crop's origin
        nonzero = torch.nonzero(crop[0])
        r, c = int(nonzero[0][0]), int(nonzero[0][1])
        value = int(crop[0, r, c]) - 1
        return [value // width - r, value % width - c]
    value = first - 1
    return [value // width, value % width]


def main():
    five, center = [], []
    for h, w, ch, cw in FIVE:
        image = (torch.arange(h * w, dtype=torch.float64) + 1).reshape(1, h, w)
        crops = F.five_crop(image, [ch, cw])
        five.append({"height": h, "width": w, "cropHeight": ch, "cropWidth": cw,
                     "boxes": [start(c, w) for c in crops]})
    for h, w, ch, cw in CENTER:
        image = (torch.arange(h * w, dtype=torch.float64) + 1).reshape(1, h, w)
        crop = F.center_crop(image, [ch, cw])
        center.append({"height": h, "width": w, "cropHeight": ch, "cropWidth": cw, "box": start(crop, w)})
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "crop_boxes.json"), "w") as f:
        json.dump({"torchvision": torchvision.__version__, "fiveCrop": five, "centerCrop": center}, f, indent=1)


if __name__ == "__main__":
    main()
