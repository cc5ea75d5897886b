"""Boosting gap rules: the per-sample gaps of the next member from the margins so far.

Spec table (thesis Table 1).  ``margin_history[t]`` holds member t's training-set margins
M_t (logit domain, un-augmented data, eval mode); T is the last member.

| rule                          | gap of sample i                           | first member |
| ----------------------------- | ----------------------------------------- | ------------ |
| zero                          | 0                                         | 0            |
| constant (c)                  | c                                         | c            |
| mean_margin                   | mean_j M_T,j                              | 0            |
| save_mean_reverse             | 2 mean_j M_T,j - M_T,i                    | 0            |
| zero_mean_reverse             | mean_j M_T,j - M_T,i                      | 0            |
| constant_by_last (c)          | c + mean_j M_T,j - M_T,i                  | c            |
| constant_mean_cumulative (c)  | c + (1/T) sum_t (mean_j M_t,j - M_t,i)    | c            |

Hard samples (small margin) get large gaps: the next member is pushed hardest where the
previous one was least sure.
"""
from __future__ import annotations

import torch

RULES = {
    # name: (needs c, description)
    "zero": (False, "0: a plain deep ensemble"),
    "constant": (True, "c for every sample and member"),
    "mean_margin": (False, "mean margin of the last member"),
    "save_mean_reverse": (False, "2*mean(m) - m_i: reversed margins, mean kept"),
    "zero_mean_reverse": (False, "mean(m) - m_i: reversed margins, zero mean"),
    "constant_by_last": (True, "c + mean(m) - m_i of the last member"),
    "constant_mean_cumulative": (True, "c + average over members of (mean(m_t) - m_t,i)"),
}


def _check_rule(rule: str, params: dict) -> float | None:
    if rule not in RULES:
        raise ValueError(f"unknown gap rule {rule!r}; known rules: {', '.join(RULES)}")
    needs_c, _ = RULES[rule]
    allowed = {"c"} if needs_c else set()
    extra = set(params) - allowed - {"n"}
    if extra:
        raise ValueError(f"rule {rule!r} takes no parameter(s) {sorted(extra)}; it takes {sorted(allowed) or 'none'}")
    if needs_c:
        if "c" not in params:
            raise ValueError(f"rule {rule!r} needs the constant c=...")
        c = float(params["c"])
        if c != c or abs(c) == float("inf"):
            raise ValueError(f"c must be finite; got {params['c']}")
        return c
    return None


def next_gaps(rule: str, margin_history: list[torch.Tensor], **params) -> torch.Tensor:
    """Per-sample gaps (N,) for the next boosting member.

    margin_history: the training-set margins of each member so far (each (N,), same order);
    an empty list gives the rule's initial gap and then needs ``n=`` (the number of samples).
    """
    c = _check_rule(rule, params)
    if not margin_history:
        n = params.get("n")
        if n is None or int(n) != n or n < 0:
            raise ValueError("an empty margin_history needs n=<number of training samples> (a non-negative int)")
        start = c if rule in ("constant", "constant_by_last", "constant_mean_cumulative") else 0.0
        return torch.full((int(n),), float(start))
    ms = []
    for t, m in enumerate(margin_history):
        if not isinstance(m, torch.Tensor) or m.dim() != 1:
            raise ValueError(f"margin_history[{t}] must be a 1-D tensor of margins; got {getattr(m, 'shape', type(m))}")
        if m.shape != margin_history[0].shape:
            raise ValueError(f"margin_history[{t}] has {m.shape[0]} samples, margin_history[0] has {margin_history[0].shape[0]}")
        if not torch.isfinite(m).all():
            raise ValueError(f"margin_history[{t}] holds NaN or inf")
        ms.append(m.double())  # float64: the mean of 5e4 margins of size ~1e2 must be exact enough to test
    if "n" in params and params["n"] != ms[0].shape[0]:
        raise ValueError(f"n={params['n']} does not match the {ms[0].shape[0]} margins given")
    last = ms[-1]
    if rule == "zero":
        g = torch.zeros_like(last)
    elif rule == "constant":
        g = torch.full_like(last, c)
    elif rule == "mean_margin":
        g = torch.full_like(last, float(last.mean()))
    elif rule == "save_mean_reverse":
        g = 2 * last.mean() - last
    elif rule == "zero_mean_reverse":
        g = last.mean() - last
    elif rule == "constant_by_last":
        g = c + last.mean() - last
    else:  # constant_mean_cumulative
        g = c + torch.stack([m.mean() - m for m in ms]).mean(0)
    return g.to(margin_history[-1].dtype if margin_history[-1].is_floating_point() else torch.float32)
