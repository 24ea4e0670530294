# fastai 2.7's suggestion functions (fastai/callback/schedule.py: valley, steep), transcribed, on the curve
# LearningRateFinderTests.Suggestions_KnownCurve_MatchFastai uses. Prints the expected indices into the trimmed curve.
# Run: /usr/bin/python3 lr_find_reference.py
import math

def valley(lrs, losses):
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)

def steep(lrs, losses):
    grads = [(losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i])) for i in range(len(lrs) - 1)]
    return min(range(len(grads)), key=lambda i: grads[i])

n = 30
lrs = [1e-6 * (1e6 ** (i / (n - 1))) for i in range(n)]
losses = [2.00, 1.99, 1.98, 2.01, 1.97, 1.96, 1.95, 1.94, 1.90, 1.80, 1.70, 1.40, 1.30, 1.20, 1.10,
          1.05, 1.02, 1.00, 0.99, 1.01, 1.10, 1.30, 1.60, 2.00, 2.50, 3.00, 3.60, 4.20, 5.00, 6.00]
skip, end = n // 10, n - 5
print("valley", skip + valley(lrs[skip:end], losses[skip:end]), "steep", skip + steep(lrs[skip:end], losses[skip:end]))
