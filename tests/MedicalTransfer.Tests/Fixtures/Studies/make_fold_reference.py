#!/usr/bin/env -S /usr/bin/python3
"""Generates sklearn_group_folds.json for tests/MedicalTransfer.Tests/Studies/FoldAssignmentTests.cs.

Run with Debian's interpreter (python3-sklearn 1.2.1, numpy 1.24):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Studies/make_fold_reference.py

Small, uneven, imbalanced datasets as a hospital's first study has them: 90 patients with 1 to 8 images
each (300 images in all), about 30% of patients positive, one patient in ten with images of both classes
(a follow-up after recovery). For each dataset the fixture holds every image's patient (an index) and label, and
scikit-learn's StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed) fold of every image, so
the C# test can check, with its own code, where scikit-learn misses the balance target (every fold's count
of each class within max(2, 10% of its ideal share)) and that the SDK's assignment meets it on the same data.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.model_selection import StratifiedGroupKFold

PATIENTS = 90
IMAGES = 300
FOLDS = 5


def dataset(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 9, size=PATIENTS)
    while counts.sum() != IMAGES:
        i = rng.integers(PATIENTS)
        if counts.sum() > IMAGES and counts[i] > 1:
            counts[i] -= 1
        elif counts.sum() < IMAGES and counts[i] < 8:
            counts[i] += 1
    groups, labels = [], []
    for p in range(PATIENTS):
        positive = rng.random() < 0.3
        mixed = rng.random() < 0.1
        for k in range(counts[p]):
            label = int(positive)
            if mixed and k % 2 == 1:
                label = 1 - label
            groups.append(p)
            labels.append(label)
    return groups, labels


def misses(labels, folds):
    labels = np.array(labels)
    folds = np.array(folds)
    worst = []
    for c in (0, 1):
        ideal = (labels == c).sum() / FOLDS
        tolerance = max(2.0, 0.1 * ideal)
        for f in range(FOLDS):
            worst.append(abs(((labels == c) & (folds == f)).sum() - ideal) - tolerance)
    return bool(max(worst) > 0)


def main():
    cases = []
    for seed in range(20):
        groups, labels = dataset(1000 + seed)
        folds = [0] * len(labels)
        splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        for f, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
            for i in test:
                folds[i] = int(f)
        cases.append({"seed": seed, "groups": groups, "labels": labels, "sklearn_folds": folds, "sklearn_misses": misses(labels, folds)})
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "sklearn_group_folds.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "folds": FOLDS, "cases": cases}, f)
    print(sum(c["sklearn_misses"] for c in cases), "of", len(cases), "datasets: StratifiedGroupKFold misses the target")


if __name__ == "__main__":
    main()
