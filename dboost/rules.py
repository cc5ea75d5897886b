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

The authors' published code (``Ens_gap_editor``) differs from the table in two rules.  The rules
above stay as the thesis states them; the code's versions are extra rules under their own names
(spec, "Checked against the authors' published code"):

| rule                              | gap of sample i                                     | first member |
| --------------------------------- | --------------------------------------------------- | ------------ |
| constant_mean_cumulative_code (c) | c + (1/T) sum_t (-1)^(T-t) (mean_j M_t,j - M_t,i)   | c            |
| sample_margin_cumulative          | (1/T) sum_t M_t,i  (each sample its own margin)     | 0            |

(the code's ``base_<c>_mean_cummulative_gap`` and ``gap_is_meanmargin``, without ``base_``).

Both are the code's recursion with g_t the gap member t was trained with (t = 1..T; the code's
``num_model`` is t - 1):  A_t = (g_t (t-1) + M_t) / t  (the spec's (last_gap t + M_t)/(t + 1) with t
counted from 0), then
  constant_mean_cumulative_code:  g_{t+1} = c + mean_j A_t,j - A_t,i
  sample_margin_cumulative:       g_{t+1} = A_t                      (g_1 = 0)
i.e. the code averages the previous *gap* (not the previous reversed margins) with the new margins.
Derivation of the closed form: write r(v) = mean(v) - v (linear; r(const) = 0, r(r(v)) = -r(v))
and h_t = g_t - c.  Then h_1 = 0 and h_{t+1} = r(A_t) = ((t-1) r(g_t) + r(M_t)) / t, where
r(g_t) = r(h_t) = -h_t for t >= 2 (h_t is itself an r(.)), so h_{t+1} = (-(t-1) h_t + r(M_t)) / t
and by induction h_{T+1} = (1/T) sum_t (-1)^(T-t) r(M_t).  Members 1-2 therefore agree with the
thesis (c, then c + r(M_1)); from member 3 on the earlier members enter with alternating signs
(member 3: c + (r(M_2) - r(M_1)) / 2, the thesis has c + (r(M_1) + r(M_2)) / 2).
With c = 0 sample_margin_cumulative is the running mean of the margins; the code's ``base_c_``
prefix (c != 0) would compound c into it and is not offered here.  The thesis's ``mean_margin``
(one mean for all samples) has no counterpart in the code.
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
    # the authors' code's versions (module docstring)
    "constant_mean_cumulative_code": (True, "the authors' code: c + mean(a) - a_i, a = (last gap*(t-1) + m_t)/t"),
    "sample_margin_cumulative": (False, "the authors' code (gap_is_meanmargin): each sample's margin averaged over members"),
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
        start = c if c is not None else 0.0  # every rule with a c starts at c
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
    elif rule == "constant_mean_cumulative":
        g = c + torch.stack([m.mean() - m for m in ms]).mean(0)
    else:  # the authors' code: its recursion, member by member from the first gap
        g = torch.full_like(last, c if c is not None else 0.0)
        for t, m in enumerate(ms):  # t = the code's num_model: members before this one
            a = (g * t + m) / (t + 1)
            g = c + a.mean() - a if rule == "constant_mean_cumulative_code" else a
    return g.to(margin_history[-1].dtype if margin_history[-1].is_floating_point() else torch.float32)
