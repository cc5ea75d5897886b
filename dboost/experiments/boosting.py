"""Claim 5: per-sample gaps turn deep ensembles into boosting (thesis Algorithm 1), rule by rule."""
from __future__ import annotations

import numpy as np
import torch

from .. import calibration
from ..boost import chain
from ..metrics import evaluate_member_logits, margin_summary
from ..rules import RULES
from .configure import Config
from .seeds import member_seed
from .units import common, train_unit


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
    rebuilds the ensemble metrics and the next gaps from the unit cache (or retrains a unit whose
    cache is gone).
    """
    p, st = cfg.p, cfg.store
    y_te = cfg.test_set.y
    for s in p["boost_seeds"]:
        for rule in p["rules"]:
            if all(st.has(f"{rule}_seed{s}_m{t + 1}") for t in range(p["members"])):
                continue  # finished
            const = RULES[rule][0]
            c = _boost_m0(cfg, s) if const else None
            if const and c is None:
                continue  # collecting: c is the m0 of a gap-0 unit still to train
            params = dict(c=c) if const else {}
            trained = []  # (unit row, outputs) of each member so far

            def train_member(t, gaps):  # one member = one unit; None while collecting
                unit, out = train_unit(cfg, seed=member_seed(s, t), gap=member_gap(rule, gaps, t, **params),
                                       need_outputs=True)
                if unit is not None:
                    # ensemble metrics from the float16 test logits that are committed: a chain resumed
                    # from runs/ (no cache), an uninterrupted one and a recomputation all agree exactly
                    trained.append((unit, dict(out, test_logits=out["test_logits"].half().float())))
                return None if out is None else out["train_margins"]

            for t, gaps, m in chain(rule, p["members"], len(cfg.train_set), train_member, **params):
                key = f"{rule}_seed{s}_m{t + 1}"
                unit, out = trained[t]
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


def _boost_m0(cfg: Config, seed: int) -> float | None:
    """c of the constant rules: m0, the train mean margin of the shared gap-0 first member (None
    while collecting, before that unit is trained)."""
    for r in cfg.store.rows():  # a finished constant-rule row already records it
        if r.get("seed") == seed and r.get("c") is not None:
            return float(r["c"])
    unit, _ = train_unit(cfg, seed=member_seed(seed, 0), gap=0.0)
    return None if unit is None else float(unit["train_mean_margin"])
