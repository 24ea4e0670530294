#!/usr/bin/env -S /usr/bin/python3
"""Generates sklearn_metrics.json for tests/MedicalTransfer.Tests/Evaluation/SklearnParityTests.cs.

Run with Debian's interpreter (python3-sklearn 1.2.1, numpy):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Evaluation/make_sklearn_metrics.py

Inputs (labels and probabilities) are drawn here with a seeded generator and written to the fixture
with the expected numbers, so the C# tests need neither Python nor the generator. Probabilities are
rounded to 2 decimals on purpose: tied scores exercise the tie handling of the curves.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, average_precision_score, classification_report,
                             confusion_matrix, precision_recall_curve, roc_auc_score, roc_curve)


def probabilities(rng, labels, classes, signal):
    logits = rng.normal(size=(len(labels), classes))
    logits[np.arange(len(labels)), labels] += signal
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    p = np.round(p, 2)
    # Keep rows summing to 1 after rounding: put the residue on the last class.
    p[:, -1] = np.round(1.0 - p[:, :-1].sum(axis=1), 2)
    return np.clip(p, 0, 1)


def case(name, classes, labels, probs, positive=None, zero_division_note=""):
    pred = probs.argmax(axis=1)
    names = classes
    out = {
        "name": name,
        "classes": names,
        "labels": labels.tolist(),
        "probabilities": probs.tolist(),
        "predicted": pred.tolist(),
        "confusion_matrix": confusion_matrix(labels, pred, labels=list(range(len(names)))).tolist(),
        "report": classification_report(labels, pred, labels=list(range(len(names))), target_names=names,
                                        output_dict=True, zero_division=0),
        "report_text": classification_report(labels, pred, labels=list(range(len(names))), target_names=names,
                                              digits=4, zero_division=0),
        "accuracy": accuracy_score(labels, pred),
    }
    if len(names) > 2 and len(set(labels.tolist())) == len(names):
        out["ovr_macro_auc"] = roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    if positive is not None:
        y = (labels == positive).astype(int)
        s = probs[:, positive]
        fpr, tpr, thr = roc_curve(y, s)
        fpr_all, tpr_all, thr_all = roc_curve(y, s, drop_intermediate=False)
        prec, rec, pthr = precision_recall_curve(y, s)
        out["binary"] = {
            "positive": positive,
            "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(),
            # sklearn 1.2 puts max+1 first; newer versions put inf. Compare from index 1.
            "roc_thresholds": thr[1:].tolist(),
            "roc_full_fpr": fpr_all.tolist(), "roc_full_tpr": tpr_all.tolist(),
            "pr_precision": prec.tolist(), "pr_recall": rec.tolist(), "pr_thresholds": pthr.tolist(),
            "roc_auc": roc_auc_score(y, s),
            "average_precision": average_precision_score(y, s),
        }
    return out


def main():
    rng = np.random.default_rng(20240611)
    cases = []
    labels = (rng.random(80) < 0.7).astype(int)
    cases.append(case("binary", ["NORMAL", "PNEUMONIA"], labels, probabilities(rng, labels, 2, 1.2), positive=1))
    labels = rng.integers(0, 3, size=60)
    cases.append(case("three_classes", ["COVID", "NORMAL", "VIRAL"], labels, probabilities(rng, labels, 3, 1.0)))
    # A class that is never predicted (precision 0/0 -> 0) and one that never occurs (recall 0/0 -> 0).
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 0, 1, 2, 0, 1])
    probs = np.zeros((12, 4))
    pred = np.array([0, 1, 1, 1, 0, 0, 3, 0, 1, 0, 3, 1])
    probs[np.arange(12), pred] = 0.7
    for i in range(12):
        others = [c for c in range(4) if c != pred[i]]
        probs[i, others] = 0.1
    cases.append(case("degenerate", ["A", "B", "C", "D"], labels, probs))
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "sklearn_metrics.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
