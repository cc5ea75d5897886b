"""Claim 5: per-sample gaps turn deep ensembles into boosting (thesis Algorithm 1), rule by rule.

One task of the scheduler protocol (:mod:`.schedule`) per (seed, rule) chain: it yields member t
(a unit, with its outputs) and receives its row and outputs, from which it writes the ensemble's
row and the gaps of member t + 1.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import calibration
from ..metrics import evaluate_member_logits, margin_summary
from ..rules import RULES, next_gaps
from .configure import Config
from .seeds import member_seed
from .schedule import Fit, drive
from .units import common


def check(p: dict, profile: str) -> None:
    if any(s >= 1000 for s in p["boost_seeds"]) or p["members"] > 1000:
        raise ValueError("boosting seeds and members must be < 1000 (member seeds are 1000 (seed + 1) + t)")


def member_gap(rule: str, gaps: torch.Tensor, t: int, **params):
    """What member t trains with: ``gaps``, except that the first member of a rule with a constant
    c trains with c itself (a float64), not next_gaps' float32 copy of it -- so it is the very
    unit of the sweep's gap-m0 network (same key), not a near-copy trained twice."""
    if RULES[rule][0] and t == 0 and bool((gaps == gaps[0]).all()):
        return float(params["c"])
    return gaps


def run(cfg: Config) -> None:
    """Each rule x seed: members trained in sequence (thesis Algorithm 1).

    Every member is a unit: member 1 of the rules whose initial gap is 0 (zero, the reverse rules,
    mean_margin) is the gap-0 network of that seed (shared with the other experiments), member 1
    of the constant rule is the sweep's gap-m0 network.  The constant c of the constant-gap rules
    is m0, the train mean margin of that gap-0 network.  Rows are per ensemble size; a resumed run
    rebuilds the ensemble metrics and the next gaps from the unit cache or the committed outputs
    (or retrains a unit whose outputs are gone).
    """
    drive(cfg, [_chain(cfg, s, rule) for s in cfg.p["boost_seeds"] for rule in cfg.p["rules"]])


def _chain(cfg: Config, s: int, rule: str):
    """The chain of ``rule`` on seed ``s``: next_gaps from the members so far, member t, its row."""
    p, st = cfg.p, cfg.store
    y_te = cfg.test_set.y
    if all(st.has(f"{rule}_seed{s}_m{t + 1}") for t in range(p["members"])):
        return  # finished
    params = {}
    if RULES[rule][0]:  # a constant c: m0 of the shared gap-0 first member
        c = _recorded_c(cfg, s)
        if c is None:
            unit, = yield [Fit(None, dict(seed=member_seed(s, 0), gap=0.0))]
            c = float(unit["train_mean_margin"])
        params = dict(c=c)
    trained, history = [], []  # (unit row, outputs) and train margins of each member so far
    for t in range(p["members"]):
        gaps = next_gaps(rule, history, n=len(cfg.train_set), **params)
        (unit, out), = yield [Fit(None, dict(seed=member_seed(s, t), gap=member_gap(rule, gaps, t, **params)),
                                  need_outputs=True)]
        # ensemble metrics from the float16 test logits that are committed: a chain resumed from
        # runs/ (no cache), an uninterrupted one and a recomputation all agree exactly
        out = dict(out, test_logits=out["test_logits"].half().float())
        trained.append((unit, out))
        m = out["train_margins"]
        history.append(m)
        key = f"{rule}_seed{s}_m{t + 1}"
        if st.has(key):
            continue
        st.put(key, dict(common(cfg), seed=s, rule=rule, members=t + 1, c=params.get("c"),
                         gap=dict(mean=float(gaps.double().mean()), std=float(gaps.double().std())),
                         member_seed=member_seed(s, t), member_unit=unit["unit"],
                         previous_member_unit=trained[t - 1][0]["unit"] if t else None,
                         precision=unit.get("precision"),
                         member_train_margin=margin_summary(m),
                         member_train_acc=float((m > 0).double().mean()),
                         member_test_acc=float((out["test_logits"].argmax(1) == y_te).double().mean()),
                         member_wall_time_s=float(out["wall"]), shared_first_member=(t == 0),
                         member_trained_on=out.get("trained_on", "unknown"),
                         executor=unit.get("executor", "local"),
                         test=evaluate_member_logits(torch.stack([o["test_logits"] for _, o in trained]), y_te),
                         test_cal=calibration.cross_fit(calibration.ensemble_scores(np.stack(
                             [o["test_logits"].double().numpy() for _, o in trained])), y_te.numpy()),
                         arch=p["arch"], width=p["width"]))


def _recorded_c(cfg: Config, seed: int) -> float | None:
    """c of the constant rules as a finished constant-rule row of ``seed`` records it (None: no such row)."""
    for r in cfg.store.rows():
        if r.get("seed") == seed and r.get("c") is not None:
            return float(r["c"])
    return None
