#!/usr/bin/python3
"""Reference for the per-finding bootstrap intervals of a multi-label model (MultiLabelBootstrapTests).

An independent percentile bootstrap: for each resample (drawn here, with numpy, and written into the fixture so the SDK
resamples exactly the same patients), the resampled rows are the images of the drawn patients; per finding, scikit-learn's
roc_auc_score and average_precision_score on the finding's observed rows (masked labels left out); the macro AUROC is the
mean over findings whose resample holds both classes. Intervals are numpy's linear percentiles at (1 -+ level) / 2 of
the resamples where the metric is defined. An image-level case draws images instead of patients.

Run with Debian's interpreter: /usr/bin/python3 make_finding_bootstrap.py  (scikit-learn 1.2)
Writes finding_bootstrap.json beside this script.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score


def metrics(rows, positive, observed, scores, f):
    aucs, aps = [], []
    for j in range(f):
        keep = [i for i in rows if observed[i][j]]
        y = np.array([positive[i][j] for i in keep], dtype=int)
        s = np.array([scores[i][j] for i in keep])
        if len(y) == 0 or y.min() == y.max():
            aucs.append(None)
        else:
            aucs.append(float(roc_auc_score(y, s)))
        aps.append(float(average_precision_score(y, s)) if y.sum() > 0 else None)
    defined = [a for a in aucs if a is not None]
    macro = float(np.mean(defined)) if defined else None
    return aucs, aps, macro


def interval(values, level):
    v = np.array([x for x in values if x is not None])
    if len(v) == 0:
        return None
    a = (1 - level) / 2
    return [float(np.percentile(v, 100 * a)), float(np.percentile(v, 100 * (1 - a))), int(len(v))]


def case(name, rng, patients, max_images, findings, resamples, level, patient_level):
    f = len(findings)
    patient_of, positive, observed, scores = [], [], [], []
    for p in range(patients):
        has = rng.uniform(size=f) < np.array([0.35, 0.2, 0.08][:f])
        for _ in range(1 + rng.integers(max_images)):
            y = [bool(h) if rng.uniform() < 0.75 else bool(rng.uniform() < 0.2) for h in has]
            patient_of.append("p%03d" % p)
            positive.append(y)
            observed.append([bool(rng.uniform() > 0.15) for _ in range(f)])
            scores.append([round(float(1 / (1 + np.exp(-(0.7 * (2 * yy - 1) + rng.normal())))), 6) for yy in y])
    n = len(patient_of)
    units = list(dict.fromkeys(patient_of)) if patient_level else list(range(n))
    members = [[i for i in range(n) if patient_of[i] == u] for u in units] if patient_level else [[i] for i in range(n)]
    draws = [rng.integers(len(units), size=len(units)).tolist() for _ in range(resamples)]
    estimate = metrics(range(n), positive, observed, scores, f)
    per = [metrics([i for u in d for i in members[u]], positive, observed, scores, f) for d in draws]
    return {
        "name": name, "findings": findings, "level": level, "patient_level": patient_level,
        "patients": patient_of, "positive": positive, "observed": observed, "scores": scores, "draws": draws,
        "auroc": [{"estimate": estimate[0][j], "interval": interval([r[0][j] for r in per], level)} for j in range(f)],
        "average_precision": [{"estimate": estimate[1][j], "interval": interval([r[1][j] for r in per], level)} for j in range(f)],
        "macro_auroc": {"estimate": estimate[2], "interval": interval([r[2] for r in per], level)},
    }


def main():
    rng = np.random.default_rng(1201)
    cases = [
        case("patients_three_findings", rng, 50, 4, ["Effusion", "Edema", "Pneumothorax"], 200, 0.95, True),
        case("images_two_findings", rng, 40, 2, ["Effusion", "Edema"], 150, 0.9, False),
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "finding_bootstrap.json")
    with open(path, "w") as handle:
        json.dump({"generator": "make_finding_bootstrap.py", "sklearn": sklearn.__version__, "cases": cases}, handle, separators=(",", ":"))
    for c in cases:
        print(c["name"], len(c["patients"]), "images", [a["interval"] for a in c["auroc"]])


if __name__ == "__main__":
    main()
