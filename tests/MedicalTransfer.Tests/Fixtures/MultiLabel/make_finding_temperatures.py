#!/usr/bin/python3
"""Reference for per-finding temperature scaling of a multi-label model (FindingTemperatureScalingTests).

For each finding j, T_j minimises the mean binary cross-entropy of sigmoid(z_ij / T_j) over the finding's OBSERVED
labels only (masked = uncertain under U-Ignore or missing), fitted independently of the SDK with PyTorch's LBFGS
(strong Wolfe line search, float64), as Guo et al.'s temperature_scaling.py fits its one temperature.

Run with Debian's interpreter: /usr/bin/python3 make_finding_temperatures.py  (torch 1.13)
Writes finding_temperatures.json beside this script.
"""
import json
import os

import numpy as np
import torch


def fit(z, y):
    """T minimising mean BCE(sigmoid(z / T), y), by LBFGS on log T (keeps T positive)."""
    z = torch.tensor(z, dtype=torch.float64)
    y = torch.tensor(y, dtype=torch.float64)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=1, max_iter=1000, tolerance_grad=1e-14, tolerance_change=1e-18, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(z / torch.exp(log_t), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(torch.exp(log_t).item())
    with torch.no_grad():
        before = float(loss_fn(z, y))
        after = float(loss_fn(z / t, y))
    return t, before, after


def case(name, rng, n, findings, scales, shifts, mask_rate):
    f = len(findings)
    truth = rng.normal(size=(n, f))
    positive = (truth + rng.normal(scale=0.8, size=(n, f)) > np.array(shifts)).astype(bool)
    # Logits: informative but miscalibrated by a per-finding scale (over- or under-confident).
    logits = (truth - np.array(shifts)) * np.array(scales)
    observed = rng.uniform(size=(n, f)) >= mask_rate
    out = {"name": name, "findings": findings, "images": n,
           "logits": logits.reshape(-1).tolist(), "positive": positive.reshape(-1).tolist(),
           "observed": observed.reshape(-1).tolist(), "temperatures": [], "bce_before": [], "bce_after": [], "fitted_on": []}
    for j in range(f):
        keep = observed[:, j]
        t, before, after = fit(logits[keep, j], positive[keep, j].astype(np.float64))
        out["temperatures"].append(t)
        out["bce_before"].append(before)
        out["bce_after"].append(after)
        out["fitted_on"].append(int(keep.sum()))
    return out


def main():
    rng = np.random.default_rng(20261201)
    cases = [
        case("three_findings_masked", rng, 80, ["Atelectasis", "Cardiomegaly", "Effusion"], [4.0, 0.6, 2.0], [0.3, 1.0, -0.2], 0.2),
        case("one_finding_all_observed", rng, 50, ["Edema"], [3.0], [0.0], 0.0),
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "finding_temperatures.json")
    with open(path, "w") as handle:
        json.dump({"generator": "make_finding_temperatures.py", "torch": torch.__version__, "cases": cases}, handle, indent=1)
    for c in cases:
        print(c["name"], [round(t, 6) for t in c["temperatures"]], c["fitted_on"])


if __name__ == "__main__":
    main()
