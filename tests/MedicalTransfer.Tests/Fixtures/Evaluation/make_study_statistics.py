#!/usr/bin/env -S /usr/bin/python3
"""Generates study_statistics.json for the tests in tests/MedicalTransfer.Tests/Evaluation (Study*Tests.cs).

Run with Debian's interpreter (python3-sklearn 1.2.1, python3-scipy 1.10, python3-torch 1.13, numpy 1.24):
    /usr/bin/python3 tests/MedicalTransfer.Tests/Fixtures/Evaluation/make_study_statistics.py

Every expected number here comes from an implementation that shares no code with the C# one:
- normal distribution: scipy.stats.norm and math.erfc;
- DeLong: the ORIGINAL O(m n) formulation of DeLong, DeLong and Clarke-Pearson (Biometrics 1988), written
  here from the paper (the Mann-Whitney kernel psi and its structural components V10, V01), while the C#
  side implements Sun and Xu's (IEEE SPL 2014) midrank algorithm; plus the Hanley and McNeil (Radiology
  1982, Table 1) rating data, whose published AUC is 0.893;
- Holm's step-down correction: written here from Holm (1979);
- McNemar: scipy.stats.binomtest (exact) and scipy.stats.chi2 (continuity-corrected);
- Brier score, log-loss and calibration curves: scikit-learn's brier_score_loss, log_loss and
  calibration_curve (bin counts by numpy.searchsorted exactly as calibration_curve bins);
- calibration slope: scikit-learn LogisticRegression without penalty; calibration-in-the-large:
  scipy.optimize.brentq on the score equation of the offset model;
- temperature scaling: PyTorch's LBFGS on the same logits (as Guo et al.'s code), in float64 with a
  strong-Wolfe line search until converged, and Guo's exact recipe (float32, lr 0.01, 50 iterations)
  for information;
- decision curves: the net-benefit formula of Vickers and Elkin (2006) in numpy.
Inputs are drawn with seeded generators and written to the fixture with the expected numbers, so the C#
tests need neither Python nor the generators.
"""
import json
import math
import os

import numpy as np
import scipy
import scipy.optimize
import scipy.stats
import sklearn
import torch
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss


def normal_case():
    xs = [-8.5, -6.0, -3.7, -2.5, -1.96, -1.0, -0.3, 0.0, 0.2, 0.49, 0.51, 1.0, 1.6448536269514722, 2.0, 2.49, 2.51, 3.0, 4.5, 6.0, 9.0, 12.0]
    ps = [1e-12, 1e-6, 0.001, 0.01, 0.02425, 0.025, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975, 0.97575, 0.99, 0.999, 1 - 1e-6, 1 - 1e-10]
    return {
        "x": xs,
        "cdf": [float(scipy.stats.norm.cdf(x)) for x in xs],
        "sf": [float(scipy.stats.norm.sf(x)) for x in xs],
        "erfc": [math.erfc(x) for x in xs],
        "p": ps,
        "ppf": [float(scipy.stats.norm.ppf(p)) for p in ps],
    }


def delong_naive(y, scores):
    """DeLong 1988: AUC_r = mean psi(X_i, Y_j); V10_r(X_i) = mean_j psi; V01_r(Y_j) = mean_i psi; S = S10/m + S01/n."""
    y = np.asarray(y, dtype=bool)
    x_idx = np.where(y)[0]
    y_idx = np.where(~y)[0]
    m, n = len(x_idx), len(y_idx)
    k = len(scores)
    v10 = np.zeros((k, m))
    v01 = np.zeros((k, n))
    aucs = np.zeros(k)
    for r, s in enumerate(scores):
        s = np.asarray(s, dtype=float)
        psi = np.zeros((m, n))
        for a, i in enumerate(x_idx):
            for b, j in enumerate(y_idx):
                psi[a, b] = 1.0 if s[i] > s[j] else (0.5 if s[i] == s[j] else 0.0)
        aucs[r] = psi.mean()
        v10[r] = psi.mean(axis=1)
        v01[r] = psi.mean(axis=0)
    s10 = np.array([[np.sum((v10[a] - aucs[a]) * (v10[b] - aucs[b])) / (m - 1) for b in range(k)] for a in range(k)])
    s01 = np.array([[np.sum((v01[a] - aucs[a]) * (v01[b] - aucs[b])) / (n - 1) for b in range(k)] for a in range(k)])
    return aucs, s10 / m + s01 / n


def holm(pvalues):
    """Holm 1979: reject in order of increasing p while p_(i) <= alpha / (k - i + 1); adjusted p_(i) = max_{j<=i} min(1, (k - j + 1) p_(j))."""
    k = len(pvalues)
    order = sorted(range(k), key=lambda i: pvalues[i])
    adjusted = [0.0] * k
    best = 0.0
    for rank, i in enumerate(order):
        best = max(best, min(1.0, (k - rank) * pvalues[i]))
        adjusted[i] = best
    return adjusted


def delong_case(name, y, scores, level=0.95):
    aucs, cov = delong_naive(y, scores)
    q = scipy.stats.norm.ppf(1 - (1 - level) / 2)
    pairs = []
    for a in range(len(scores)):
        for b in range(a + 1, len(scores)):
            diff = aucs[a] - aucs[b]
            se = math.sqrt(cov[a, a] + cov[b, b] - 2 * cov[a, b])
            z = diff / se
            pairs.append({"a": a, "b": b, "difference": diff, "se": se, "z": z,
                          "p": float(2 * scipy.stats.norm.sf(abs(z))), "lower": diff - q * se, "upper": diff + q * se})
    adjusted = holm([p["p"] for p in pairs])
    bonferroni = [min(1.0, p["p"] * len(pairs)) for p in pairs]
    for p, h, bf in zip(pairs, adjusted, bonferroni):
        p["holm"] = h
        p["bonferroni"] = bf
    single = []
    for r in range(len(scores)):
        se = math.sqrt(cov[r, r])
        single.append({"auc": aucs[r], "se": se, "lower": max(0.0, aucs[r] - q * se), "upper": min(1.0, aucs[r] + q * se)})
    return {"name": name, "labels": [bool(v) for v in y], "scores": [list(map(float, s)) for s in scores],
            "aucs": aucs.tolist(), "covariance": cov.tolist(), "pairs": pairs, "single": single, "level": level}


def delong_cases():
    rng = np.random.default_rng(20261201)
    cases = []
    # Three correlated models on 70 images (30% positive), scores rounded to 2 decimals: ties within and across classes.
    y = rng.random(70) < 0.3
    latent = rng.normal(size=70) + 1.2 * y
    scores = []
    for noise in (0.6, 1.0, 1.6):
        s = 1 / (1 + np.exp(-(latent + noise * rng.normal(size=70))))
        scores.append(np.round(s, 2))
    cases.append(delong_case("three_models", y, scores))
    # Continuous scores, 90% level.
    y = rng.random(45) < 0.5
    a = rng.normal(size=45) + 1.0 * y
    b = a + rng.normal(size=45) * 0.8
    cases.append(delong_case("two_models_90", y, [a, b], level=0.90))
    # Hanley and McNeil (1982), Table 1: 5-point ratings of 109 CT images, 58 truly normal (33, 6, 6, 11, 2 in
    # categories 1-5) and 51 truly abnormal (3, 2, 2, 11, 33). Published AUC 0.893. The second "model" is the
    # same ratings with categories 4 and 5 merged (a coarser reader).
    normal = [1] * 33 + [2] * 6 + [3] * 6 + [4] * 11 + [5] * 2
    abnormal = [1] * 3 + [2] * 2 + [3] * 2 + [4] * 11 + [5] * 33
    ratings = np.array(normal + abnormal, dtype=float)
    labels = np.array([False] * 58 + [True] * 51)
    merged = np.minimum(ratings, 4)
    c = delong_case("hanley_mcneil_1982", labels, [ratings, merged])
    c["published_auc"] = 0.893
    cases.append(c)
    return cases


def mcnemar_cases():
    out = []
    for b, c in [(0, 0), (3, 0), (5, 9), (12, 12), (2, 20), (15, 9), (40, 22), (100, 130)]:
        n = b + c
        exact = 1.0 if n == 0 else float(scipy.stats.binomtest(min(b, c), n, 0.5).pvalue)
        stat = 0.0 if n == 0 else (abs(b - c) - 1) ** 2 / n
        chi = 1.0 if n == 0 else float(scipy.stats.chi2.sf(stat, 1))
        out.append({"b": b, "c": c, "exact_p": min(1.0, exact), "chi2": stat, "chi2_p": chi})
    return out


def calibration_curve_counts(y_prob, n_bins, strategy):
    # calibration_curve's own binning (sklearn 1.2, calibration.py), kept to report the counts it drops.
    if strategy == "quantile":
        bins = np.percentile(y_prob, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        bins = np.linspace(0.0, 1.0, n_bins + 1)
    binids = np.searchsorted(bins[1:-1], y_prob)
    return np.bincount(binids, minlength=n_bins).tolist(), bins.tolist()


def calibration_case(name, labels, probs, positive, n_bins):
    y = (labels == positive).astype(int)
    p = probs[:, positive]
    out = {"name": name, "labels": labels.tolist(), "probabilities": probs.tolist(), "positive": positive, "bins": n_bins,
           "brier": float(brier_score_loss(y, p)),
           "log_loss": float(log_loss(labels, probs, labels=list(range(probs.shape[1]))))}
    for strategy in ("uniform", "quantile"):
        prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
        counts, edges = calibration_curve_counts(p, n_bins, strategy)
        nonzero = [c for c in counts if c > 0]
        gaps = np.abs(prob_true - prob_pred)
        out[strategy] = {"prob_true": prob_true.tolist(), "prob_pred": prob_pred.tolist(), "counts": counts, "edges": edges,
                         "ece": float(np.sum(np.array(nonzero) * gaps) / len(p)), "mce": float(gaps.max())}
    x = np.log(np.clip(p, 1e-15, 1 - 1e-15) / (1 - np.clip(p, 1e-15, 1 - 1e-15)))
    lr = LogisticRegression(penalty=None, solver="newton-cg", tol=1e-8, max_iter=10000).fit(x.reshape(-1, 1), y)
    out["slope"] = float(lr.coef_[0][0])
    out["slope_intercept"] = float(lr.intercept_[0])
    score = lambda a: float(np.sum(y - 1 / (1 + np.exp(-(a + x)))))
    out["intercept_in_the_large"] = scipy.optimize.brentq(score, -50, 50, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    out["mean_predicted"] = float(p.mean())
    out["observed_rate"] = float(y.mean())
    thresholds = [round(0.01 * i, 10) for i in range(1, 100)]
    n = len(y)
    prevalence = y.mean()
    out["decision_curve"] = {
        "thresholds": thresholds,
        "model": [float(np.sum((p >= t) & (y == 1)) / n - np.sum((p >= t) & (y == 0)) / n * t / (1 - t)) for t in thresholds],
        "treat_all": [float(prevalence - (1 - prevalence) * t / (1 - t)) for t in thresholds],
    }
    return out


def calibration_cases():
    rng = np.random.default_rng(424242)
    cases = []
    # Binary, over-confident: logits scaled by 3 before the softmax; 240 images, 35% positive.
    labels = (rng.random(240) < 0.35).astype(int)
    logits = rng.normal(size=(240, 2))
    logits[np.arange(240), labels] += 0.9
    logits *= 3
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    cases.append(calibration_case("binary_overconfident", labels, probs, 1, 10))
    # Three classes rounded to 2 decimals (values on bin edges), class 2 positive, 8 bins.
    labels = rng.integers(0, 3, size=150)
    logits = rng.normal(size=(150, 3))
    logits[np.arange(150), labels] += 1.0
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    probs = np.round(probs, 2)
    probs[:, -1] = np.round(1.0 - probs[:, :-1].sum(axis=1), 2)
    probs = np.clip(probs, 0, 1)
    cases.append(calibration_case("three_classes_rounded", labels, probs, 2, 8))
    return cases


def temperature_case(name, logits, labels):
    z = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.int64)
    nll = torch.nn.CrossEntropyLoss()
    t = torch.nn.Parameter(torch.ones(1, dtype=torch.float64) * 1.5)
    opt = torch.optim.LBFGS([t], lr=1, max_iter=1000, tolerance_grad=1e-13, tolerance_change=1e-16, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nll(z / t, y)
        loss.backward()
        return loss

    opt.step(closure)
    # Guo et al.'s recipe (temperature_scaling.py): float32, start 1.5, lr 0.01, max_iter 50.
    z32 = z.float()
    t32 = torch.nn.Parameter(torch.ones(1) * 1.5)
    opt32 = torch.optim.LBFGS([t32], lr=0.01, max_iter=50)

    def closure32():
        opt32.zero_grad()
        loss = nll(z32 / t32, y)
        loss.backward()
        return loss

    opt32.step(closure32)
    with torch.no_grad():
        return {"name": name, "logits": logits.tolist(), "labels": labels.tolist(), "classes": logits.shape[1],
                "temperature": float(t.item()), "nll_before": float(nll(z, y)), "nll_after": float(nll(z / t, y)),
                "guo_temperature": float(t32.item()), "guo_nll_after": float(nll(z / t32.double(), y))}


def temperature_cases():
    rng = np.random.default_rng(777)
    cases = []
    labels = rng.integers(0, 3, size=300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), labels] += 1.4
    cases.append(temperature_case("three_classes_overconfident", logits * 2.5, labels))
    labels = (rng.random(120) < 0.4).astype(int)
    logits = rng.normal(size=(120, 2)) * 0.3
    logits[np.arange(120), labels] += 0.5
    cases.append(temperature_case("binary_underconfident", logits, labels))
    return cases


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = {
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__, "torch": torch.__version__},
        "normal": normal_case(),
        "delong": delong_cases(),
        "mcnemar": mcnemar_cases(),
        "calibration": calibration_cases(),
        "temperature": temperature_cases(),
    }
    with open(os.path.join(here, "study_statistics.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
