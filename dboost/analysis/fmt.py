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
# ROC-AUC sits near 100 % and moves by tenths of a point: two decimals, or every level reads "99.0 %"
TWO_DECIMALS = frozenset({"test_auc_proba", "test_auc_logits", "test_auc_log_proba"})


def _d(metric: str) -> int:
    return 2 if metric in TWO_DECIMALS else 1

# Human names of the boosting rules, for text and legends (the code's names stay in tables' code cells).
RULE_NAMES = {
    "zero": "plain ensemble (gap 0)", "constant": "constant gap m0", "mean_margin": "gap = mean margin",
    "save_mean_reverse": "save mean; reverse margin", "zero_mean_reverse": "zero mean; reverse margin",
    "constant_by_last": "constant, by the last member", "constant_mean_cumulative": "constant, cumulative mean",
}

# Human names of the heads (the rows' head_label), for sentences; tables keep the labels.
HEAD_NAMES = {
    "freeze_last x10": "the frozen ×10 head", "Linear": "a trainable Linear head",
    "strong: Linear + LS0.1": "the strong baseline (trainable Linear, label smoothing 0.1)",
    "freeze_last x1": "the frozen ×1 head",
}


# ... and for figure ticks and legends, where a sentence's article does not fit
HEAD_SHORT = {"freeze_last x10": "frozen ×10", "freeze_last x1": "frozen ×1", "Linear": "Linear (trainable)",
              "strong: Linear + LS0.1": "strong baseline (Linear + LS 0.1)"}


def head_short(label: str) -> str:
    return HEAD_SHORT.get(label, label)


def head_name(label: str) -> str:
    """'Linear' -> 'a trainable Linear head'; a label without a human name stays, in code font."""
    return HEAD_NAMES.get(label, f"`{label}`")


def gap_name(label: str) -> str:
    """A gap label as a reader says it: 'm0x2' -> '2 × m0', 'm0' -> '1 × m0', '0' -> 'gap 0'."""
    if label == "0":
        return "gap 0"
    return "1 × m0" if label == "m0" else f"{label.removeprefix('m0x')} × m0" if label.startswith("m0x") else label


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
        s = f"{100 * x:+.{_d(metric)}f} pt" if sign else f"{100 * x:.{_d(metric)}f} pt"
    return s.replace("-", "−")


def interval(lo: float, hi: float, metric: str = "test_acc") -> str:
    """'[+0.3, +3.9]': the bounds without their unit, which the value before them says (:func:`estimate`)."""
    if lo != lo or hi != hi:
        return ""
    strip = lambda s: s.rsplit(" ", 1)[0] if " " in s else s  # noqa: E731
    a, b = strip(pt(lo, metric)), strip(pt(hi, metric))
    if metric not in NOT_A_PROPORTION and _d(metric) == 1 and any(
            x != 0 and round(100 * x, 1) == 0 for x in (lo, hi)):  # '[−0.6, −0.0]' would hide which side 0 is on
        a, b = (f"{100 * x:+.2f}".replace("-", "−") for x in (lo, hi))
    return f"[{a}, {b}]"


def estimate(mean: float, lo: float, hi: float, metric: str = "test_acc") -> str:
    """A difference and its interval, the unit said once: '+6.4 pt [+0.3, +3.9]', '+1.103 nats
    [+0.874, +1.331]'; without an interval (NaN bounds) the difference alone."""
    return f"{pt(mean, metric)} {interval(lo, hi, metric)}".strip()


def level(x: float, metric: str = "test_acc") -> str:
    """One value of a metric as a reader wants it: a proportion in percent ('70.3 %'), NLL in nats
    with 3 decimals ('0.912 nats')."""
    if x is None or x != x:
        return "–"
    if metric in NOT_A_PROPORTION:
        return f"{x:.3f} nats"
    return f"{100 * x:.{_d(metric)}f} %"


def _spread(values) -> tuple[float, float, int]:
    import numpy as np
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan"), len(v)


# The ± forms are table cells: no-break spaces keep "± 0.5 %" in one piece, so a narrow column
# wraps only between the mean and its spread ("70.3" / "± 0.5 %"), never inside a number and its unit.
NBSP = "\u00a0"


def _glue(text: str) -> str:
    """'70.3 ± 0.5 %' -> '70.3 ±⍽0.5⍽%' (⍽: no-break space)."""
    head, sep, tail = text.partition(" ± ")
    if not sep:
        return NBSP.join(text.rsplit(" ", 1))
    return f"{head} ±{NBSP}" + NBSP.join(tail.split(" "))


def level_pm(values, metric: str = "test_acc") -> str:
    """Mean ± sample standard deviation over seeds of a level: '70.3 ± 0.5 %', '0.912 ± 0.010 nats';
    one value: '70.3 %' (no-break spaces inside, see ``NBSP``)."""
    m, s, n = _spread(values)
    if n == 0:
        return "–"
    if n == 1:
        return _glue(level(m, metric))
    if metric in NOT_A_PROPORTION:
        return _glue(f"{m:.3f} ± {s:.3f} nats")
    return _glue(f"{100 * m:.{_d(metric)}f} ± {100 * s:.{_d(metric)}f} %")


def diff_pm(values, metric: str = "test_acc") -> str:
    """Mean ± sample standard deviation over seeds of a difference: '+6.4 ± 1.2 pt',
    '+0.012 ± 0.004 nats'; one value: '+6.4 pt' (no-break spaces inside, see ``NBSP``)."""
    m, s, n = _spread(values)
    if n == 0:
        return "–"
    if n == 1:
        return _glue(pt(m, metric))
    a = pt(m, metric)
    num, unit = a.rsplit(" ", 1)
    spread = f"{s:.3f}" if metric in NOT_A_PROPORTION else f"{100 * s:.{_d(metric)}f}"
    return _glue(f"{num} ± {spread} {unit}")
