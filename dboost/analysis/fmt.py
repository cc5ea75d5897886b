"""Metric names and the book's number formats: levels as percent ("70.3 %"), differences in
percentage points ("+6.4 pt"); NLL, not a proportion, in nats."""
from __future__ import annotations

import math

METRIC_NAMES = {  # column -> label; the claims' metrics first
    "test_acc": "test accuracy", "test_auc_proba": "ROC-AUC (OvR, softmax f32)",
    "test_auc_logits": "ROC-AUC (OvR, logits)", "test_auc_log_proba": "ROC-AUC (OvR, exact probs)",
    "test_mis_auroc": "misclassification AUROC", "test_nll": "NLL", "test_ece": "ECE",
    "test_cal_nll": "NLL after temperature scaling", "test_cal_ece": "ECE after temperature scaling",
}
LOWER_IS_BETTER = frozenset({"test_nll", "test_ece", "test_brier", "test_cal_nll", "test_cal_ece"})
NOT_A_PROPORTION = frozenset({"test_nll", "test_cal_nll"})

# Human names of the boosting rules, for text and legends (the code's names stay in tables' code cells).
RULE_NAMES = {
    "zero": "plain ensemble (gap 0)", "constant": "constant gap m0", "mean_margin": "gap = mean margin",
    "save_mean_reverse": "save mean; reverse margin", "zero_mean_reverse": "zero mean; reverse margin",
    "constant_by_last": "constant, by the last member", "constant_mean_cumulative": "constant, cumulative mean",
}


def pct(x: float) -> str:
    """A proportion as percent with one decimal: 0.7031 -> '70.3 %'."""
    return "–" if x is None or x != x else f"{100 * x:.1f} %"


def pt(x: float, metric: str = "test_acc", sign: bool = True) -> str:
    """A difference of a proportion in percentage points: 0.064 -> '+6.4 pt' (NLL: '+0.012 nats')."""
    if x is None or x != x:
        return "–"
    if math.isinf(x):
        return ("+" if x > 0 else "−") + "∞"
    if metric in NOT_A_PROPORTION:
        s = f"{x:+.3f} nats" if sign else f"{x:.3f} nats"
    else:
        s = f"{100 * x:+.1f} pt" if sign else f"{100 * x:.1f} pt"
    return s.replace("-", "−")


def interval(lo: float, hi: float, metric: str = "test_acc") -> str:
    """'[+0.3, +3.9] pt'."""
    if lo != lo or hi != hi:
        return ""
    a, b = pt(lo, metric), pt(hi, metric)
    unit = a.rsplit(" ", 1)[1] if " " in a else ""
    strip = lambda s: s.rsplit(" ", 1)[0] if " " in s else s  # noqa: E731
    return f"[{strip(a)}, {strip(b)}] {unit}".strip()
