"""Temperature-scaled ("calibrated") NLL and ECE from stored test logits -- numpy and scipy only.

Why: gap m0 makes the raw NLL much worse (2.45 -> 3.52 at interp).  A network whose logits are
merely too large (a temperature problem) is fixed by one scalar T; the calibrated NLL of Ashukha
et al. (2020, "Pitfalls of in-domain uncertainty estimation") compares models after that fix.
T must not be fitted on the samples it is scored on, and the test set is the only held-out data
our profiles have (the training set is fitted to 100 %), so we **cross-fit**: a fixed seeded
permutation splits the test set into halves A and B; T fitted on A scores B, T fitted on B scores
A, and the two halves' metrics are averaged (weighted by their sizes).  Every number here is a
function of the committed float16 test logits (``runs/<profile>/units/outputs/``) and the data
set's test labels.

    dboost calibrate --profile interp     # adds `test_cal` to every row with logits (dboost.cli)
"""
from __future__ import annotations

import json
import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

METHOD = "temperature scaling cross-fitted on two halves of the test set (split seed 0), NLL-optimal T"
ECE_BINS = 15  # as dboost.metrics.ece
LOG_T_BOUNDS = (-6.0, 6.0)  # T in [0.0025, 403]: far outside any fitted value; bounded search is robust


def _scores(logits) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or not np.isfinite(z).all():
        raise ValueError(f"logits must be a finite (N, C) array; got shape {z.shape}")
    return z


def nll(logits, y, temperature: float = 1.0) -> float:
    """Mean -log softmax(logits / T)_y in float64."""
    z, y = _scores(logits), np.asarray(y, dtype=np.int64)
    return float(-log_softmax(z / temperature, axis=1)[np.arange(len(y)), y].mean())


def ece(logits, y, temperature: float = 1.0, bins: int = ECE_BINS) -> float:
    """Expected calibration error with equal-width confidence bins (i/B, (i+1)/B] (Guo et al. 2017)."""
    z, y = _scores(logits), np.asarray(y, dtype=np.int64)
    p = np.exp(log_softmax(z / temperature, axis=1))
    conf, correct = p.max(1), (z.argmax(1) == y).astype(np.float64)
    b = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    return float(np.abs(np.bincount(b, correct - conf, minlength=bins)).sum() / len(y))


def fit_temperature(logits, y) -> float:
    """The T > 0 that minimises the NLL of softmax(logits / T) on (logits, y)."""
    z, y = _scores(logits), np.asarray(y, dtype=np.int64)
    res = minimize_scalar(lambda lt: nll(z, y, math.exp(lt)), bounds=LOG_T_BOUNDS, method="bounded",
                          options=dict(xatol=1e-6))
    return float(math.exp(res.x))


def halves(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of range(n), from a fixed seeded permutation (the same for every model)."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


def cross_fit(logits, y, seed: int = 0) -> dict:
    """Calibrated NLL / ECE: fit T on one half of the test set, score the other, swap, average.

    Returns ``temperature`` (the geometric mean of the two fitted T), ``temperature_a``/``_b``,
    ``nll`` and ``ece`` (calibrated, size-weighted over the halves) and ``nll_raw``/``ece_raw``
    (T = 1 on the same logits, for a like-for-like comparison)."""
    z, y = _scores(logits), np.asarray(y, dtype=np.int64)
    if len(y) != len(z) or len(y) < 4:
        raise ValueError(f"need >= 4 samples with one label each; got {len(z)} logits, {len(y)} labels")
    a, b = halves(len(y), seed)
    t_a, t_b = fit_temperature(z[a], y[a]), fit_temperature(z[b], y[b])
    w_a, w_b = len(a) / len(y), len(b) / len(y)
    return dict(method=METHOD, temperature=math.sqrt(t_a * t_b), temperature_a=t_a, temperature_b=t_b,
                nll=w_b * nll(z[b], y[b], t_a) + w_a * nll(z[a], y[a], t_b),
                ece=w_b * ece(z[b], y[b], t_a) + w_a * ece(z[a], y[a], t_b),
                nll_raw=nll(z, y), ece_raw=ece(z, y))


def ensemble_scores(member_logits) -> np.ndarray:
    """log of the mean softmax over members (M, N, C) -> (N, C): the ensemble's log-probabilities."""
    lp = log_softmax(np.asarray(member_logits, dtype=np.float64), axis=2)
    return np.logaddexp.reduce(lp, axis=0) - math.log(lp.shape[0])


# ----------------------------------------------------------------------------- rows

def backfill(profile: str, y_test, root=None) -> dict:
    """Add ``test_cal`` (:func:`cross_fit`) to every row of ``profile`` whose logits are stored:
    unit rows, the experiment rows that copy them (matched by their ``unit`` key), and boosting
    rows whose members all have logits (the ensemble of members 1..t).  Rows are rewritten
    atomically and only when the value changes; returns counts per kind."""
    from pathlib import Path

    from .results import atomic_write_text, runs_root
    base = Path(root or runs_root()) / profile
    y = np.asarray(y_test, dtype=np.int64)
    out_dir = base / "units" / "outputs"
    logits = {}

    def unit_logits(key):
        if key not in logits:
            p = out_dir / f"{key}.npz"
            logits[key] = None
            if p.exists():
                with np.load(p, allow_pickle=False) as f:
                    logits[key] = f["test_logits"].astype(np.float64)
                if len(logits[key]) != len(y):
                    raise ValueError(f"{p}: {len(logits[key])} test logits, but the test set has {len(y)} labels")
        return logits[key]

    cal = {}  # unit key -> cross_fit of its logits
    counts = dict(units=0, experiment_rows=0, boosting_rows=0, without_logits=0)
    for folder in sorted(p for p in base.iterdir() if (p / "rows").is_dir()):
        rows = {p: json.loads(p.read_text()) for p in sorted((folder / "rows").glob("*.json"))}
        by_key = {r.get("key"): r for r in rows.values()}
        for path, row in rows.items():
            if folder.name == "boosting":
                members = _members(row, by_key)
                z = [unit_logits(k) for k in members] if members else [None]
                if any(v is None for v in z):
                    counts["without_logits"] += 1
                    continue
                new, kind = cross_fit(ensemble_scores(np.stack(z)), y), "boosting_rows"
            else:
                key = row.get("unit")
                if key is None or unit_logits(key) is None:
                    counts["without_logits"] += 1
                    continue
                if key not in cal:
                    cal[key] = cross_fit(unit_logits(key), y)
                new, kind = cal[key], "units" if folder.name == "units" else "experiment_rows"
            if row.get("test_cal") != new:
                atomic_write_text(path, json.dumps(dict(row, test_cal=new), indent=1, sort_keys=True, default=float))
                counts[kind] += 1
    return counts


def _members(row: dict, by_key: dict) -> list | None:
    """Unit keys of members 1..t of a boosting row, following ``previous_member_unit`` back through
    the rows of the same rule and seed (None if a link is missing)."""
    same = {r["member_unit"]: r for r in by_key.values()
            if r.get("rule") == row.get("rule") and r.get("seed") == row.get("seed") and r.get("member_unit")}
    keys, r = [], row
    while r is not None:
        keys.append(r["member_unit"])
        prev = r.get("previous_member_unit")
        r = same.get(prev) if prev else None
        if prev and r is None:
            return None
    return keys[::-1] if len(keys) == row.get("members") else None
