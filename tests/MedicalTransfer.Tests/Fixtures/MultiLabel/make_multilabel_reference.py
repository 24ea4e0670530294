#!/usr/bin/env -S /usr/bin/python3
"""Generates multilabel_reference.json for tests/MedicalTransfer.Tests/Evaluation/MultiLabelReportTests.cs and
tests/MedicalTransfer.Tests/Training/MultiLabelTrainingTests.cs.

Run with Debian's interpreter (python3-sklearn 1.2.1, python3-torch 1.13, numpy):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/MultiLabel/make_multilabel_reference.py

Inputs are drawn here with a seeded generator and written with the expected numbers, so the C# tests need
neither Python nor the generator. Labels are CheXpert-style: 1 positive, 0 negative, -1 uncertain, blank
(None) missing. Uncertain and missing labels are masked (U-Ignore); every per-finding metric is scikit-learn's
on that finding's observed rows. Probabilities are rounded to 2 decimals so tied scores exercise the tie rules.

- metrics: roc_auc_score / average_precision_score per column on observed rows (average=None); macro = their
  mean; weighted = np.average with weights = observed positives per column (sklearn's 'weighted'); micro = the
  score of all observed labels flattened (sklearn's 'micro' on the masked matrix). Subset accuracy, Hamming loss
  and label_ranking_average_precision_score on the fully observed rows, calls at probability >= 0.5.
- unmasked: the same matrix with every label observed, passed to sklearn's multi-label API directly with
  average=None/'macro'/'micro'/'weighted' (shows the per-column definitions above are sklearn's).
- loss: torch.nn.functional.binary_cross_entropy_with_logits(reduction='none', pos_weight) on given logits,
  targets smoothed t(1-e)+e/2, masked and divided by the observed count (the trainer's criterion).
"""
import json
import os

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from sklearn.metrics import (accuracy_score, average_precision_score, hamming_loss,
                             label_ranking_average_precision_score, roc_auc_score)

rng = np.random.default_rng(13)
findings = ["Atelectasis", "Cardiomegaly", "Edema", "Pleural Effusion"]
n, f = 60, len(findings)
truth = (rng.random((n, f)) < np.array([0.3, 0.2, 0.4, 0.5])).astype(int)
logits = rng.normal(size=(n, f)) + 1.5 * (2 * truth - 1) * np.array([0.25, 0.5, 0.35, 0.6])
prob = np.round(1 / (1 + np.exp(-logits)), 2)
state = np.where(truth == 1, 1, 0).astype(object)
u = rng.random((n, f))
state[u < 0.10] = -1      # uncertain
state[(u >= 0.10) & (u < 0.17)] = None  # missing
observed = np.array([[s is not None and s != -1 for s in row] for row in state])
y = truth


def per_column(metric):
    return [float(metric(y[observed[:, j], j], prob[observed[:, j], j])) for j in range(f)]


auc = per_column(roc_auc_score)
ap = per_column(average_precision_score)
pos = np.array([int(y[observed[:, j], j].sum()) for j in range(f)])
flat_y = y[observed]
flat_p = prob[observed]
full = observed.all(axis=1)
calls = (prob >= 0.5).astype(int)

metrics = {
    "auroc": auc,
    "average_precision": ap,
    "macro_auroc": float(np.mean(auc)),
    "weighted_auroc": float(np.average(auc, weights=pos)),
    "micro_auroc": float(roc_auc_score(flat_y, flat_p)),
    "macro_average_precision": float(np.mean(ap)),
    "weighted_average_precision": float(np.average(ap, weights=pos)),
    "micro_average_precision": float(average_precision_score(flat_y, flat_p)),
    "positives": pos.tolist(),
    "fully_observed": int(full.sum()),
    "subset_accuracy": float(accuracy_score(y[full], calls[full])),
    "hamming_loss": float(hamming_loss(y[full], calls[full])),
    "lrap": float(label_ranking_average_precision_score(y[full], prob[full])),
}
unmasked = {
    "auroc": roc_auc_score(y, prob, average=None).tolist(),
    "macro_auroc": float(roc_auc_score(y, prob, average="macro")),
    "micro_auroc": float(roc_auc_score(y, prob, average="micro")),
    "weighted_auroc": float(roc_auc_score(y, prob, average="weighted")),
    "average_precision": average_precision_score(y, prob, average=None).tolist(),
    "macro_average_precision": float(average_precision_score(y, prob, average="macro")),
    "micro_average_precision": float(average_precision_score(y, prob, average="micro")),
    "weighted_average_precision": float(average_precision_score(y, prob, average="weighted")),
    "subset_accuracy": float(accuracy_score(y, calls)),
    "hamming_loss": float(hamming_loss(y, calls)),
    "lrap": float(label_ranking_average_precision_score(y, prob)),
}

# The loss on float32 logits, as the trainer computes it.
torch.manual_seed(0)
loss_logits = torch.randn(6, f, dtype=torch.float32) * 2
loss_targets = torch.tensor(truth[:6], dtype=torch.float32)
loss_mask = torch.tensor(observed[:6], dtype=torch.float32)
pos_weight = torch.tensor([2.0, 0.5, 1.0, 3.0])
losses = {}
for name, pw, eps in [("plain", None, 0.0), ("pos_weight", pos_weight, 0.0), ("pos_weight_smoothing", pos_weight, 0.1)]:
    t = loss_targets * (1 - eps) + eps / 2
    per = F.binary_cross_entropy_with_logits(loss_logits, t, pos_weight=pw, reduction="none")
    losses[name] = float((per * loss_mask).sum() / loss_mask.sum().clamp_min(1))

out = {
    "generator": "make_multilabel_reference.py, scikit-learn " + sklearn.__version__ + ", torch " + torch.__version__,
    "findings": findings,
    "probabilities": prob.reshape(-1).tolist(),
    "states": [("" if s is None else str(s)) for s in state.reshape(-1)],
    "truth": y.reshape(-1).tolist(),
    "metrics": metrics,
    "unmasked": unmasked,
    "loss": {
        "logits": loss_logits.reshape(-1).tolist(),
        "targets": loss_targets.reshape(-1).tolist(),
        "mask": loss_mask.reshape(-1).tolist(),
        "pos_weight": pos_weight.tolist(),
        "values": losses,
    },
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "multilabel_reference.json"), "w") as fh:
    json.dump(out, fh, indent=1)
