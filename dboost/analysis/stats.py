"""The verdict rule's statistics: a paired t interval per comparison, Holm's step-down adjustment
across a family, and the interval that goes with each adjusted decision.

The rule (stated once for readers in ``book/glossary.md``, *verdict*):

1. For each comparison, the paired differences d_s = treatment_s − control_s over the seeds s
   both arms ran; n = their number.  n < 2: *inconclusive (n too small)*, and the comparison
   leaves the family (no variance, no test).
2. Two-sided paired t-test (``scipy.stats.ttest_rel``): mean, standard error sd/√n, p.
3. Holm across the family (the m testable comparisons of one profile with the same role, primary
   or secondary): sort by p; step i (1-based) tests at level α/(m − i + 1); the adjusted p is
   p_adj(i) = max_{j ≤ i} min(1, (m − j + 1) p(j)).
4. The adjusted interval of a comparison is the two-sided t interval at confidence 1 − γ with
   γ = α · p / p_adj.  Before Holm's procedure stops this is exactly its step level
   α/(m − i + 1); after the first step that fails, γ is smaller, so the interval widens just enough
   to contain 0 (Holm rejects nothing after its first failure).  Hence: the adjusted interval
   excludes 0  ⇔  p_adj ≤ α  ⇔  Holm rejects.
5. *Supported*: the adjusted interval excludes 0 on the claimed side; *contradicted*: on the other
   side; *inconclusive* otherwise.

A constant non-zero difference (sd = 0) has p = 0 and the interval [mean, mean]; all-zero
differences have p = 1.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

ALPHA = 0.05


def paired_test(treatment, control) -> dict:
    """n, mean difference, its standard error, the t statistic's degrees of freedom and the two-sided
    paired-t p of ``treatment − control`` (sequences aligned by seed)."""
    t, c = np.asarray(treatment, float), np.asarray(control, float)
    if t.shape != c.shape:
        raise ValueError(f"paired arms differ in length: {t.shape} vs {c.shape}")
    d = t - c
    n = len(d)
    if n < 2:
        return dict(n=n, mean=float(d.mean()) if n else float("nan"), se=float("nan"), df=max(n - 1, 0), p=float("nan"))
    sd = float(d.std(ddof=1))
    mean = float(d.mean())
    if sd == 0.0:
        p = 1.0 if mean == 0.0 else 0.0
    else:
        p = float(stats.ttest_rel(t, c).pvalue)
    return dict(n=n, mean=mean, se=sd / np.sqrt(n), df=n - 1, p=p)


def paired_interval(treatment, control=None, alpha: float = ALPHA) -> dict:
    """:func:`paired_test` with its *unadjusted* two-sided t interval at confidence 1 − ``alpha`` added
    as ``lo``, ``hi`` (nan below 2 pairs): one comparison read alone, as the page tables and the
    prose read it.  ``control`` None: ``treatment`` already holds the paired differences (gains)."""
    t = np.asarray(treatment, float)
    r = paired_test(t, np.zeros_like(t) if control is None else control)
    r["lo"], r["hi"] = t_interval(r["mean"], r["se"], r["df"], alpha) if r["n"] >= 2 else (np.nan, np.nan)
    return r


def t_interval(mean: float, se: float, df: int, gamma: float) -> tuple[float, float]:
    """Two-sided t interval at confidence 1 − gamma."""
    if se == 0.0:
        return mean, mean
    if gamma <= 0.0:
        return -np.inf, np.inf
    h = float(stats.t.ppf(1 - gamma / 2, df)) * se
    return mean - h, mean + h


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p = np.asarray(pvalues, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for i, k in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[k]))
        adj[k] = running
    return adj


def adjusted_gamma(p: float, p_adj: float, alpha: float = ALPHA) -> float:
    """γ of the adjusted interval (rule step 4): α · p / p_adj; α where p = p_adj = 0."""
    return alpha if p_adj == 0.0 else alpha * p / p_adj


def decide(lo: float, hi: float, direction: int) -> str:
    """Rule step 5: the interval [lo, hi] against 0 on the claimed side (direction +1: treatment higher)."""
    if lo > 0 or hi < 0:
        return "supported" if (lo > 0) == (direction > 0) else "contradicted"
    return "inconclusive"
