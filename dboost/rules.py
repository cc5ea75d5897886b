"""Boosting gap rules: the per-sample gaps of the next member from the margins so far.

Rules live in a registry: :func:`register` adds one (a name, a function of the margins so far,
its parameters, its first member's gap), and the built-in rules below are registered the same
way.  :func:`next_gaps` is the one entry point: ``next_gaps(name, margins_history, n=..., **params)``.

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
counted from 0), then::

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

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence, Union

import torch

RuleFn = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Rule:
    """One registered gap rule.

    ``fn(history, **params)`` returns the (N,) gaps, where ``history`` is a non-empty list of the members'
    training-set margins as float64 (N,) tensors (oldest first) and ``params`` the rule's
    parameters as floats.  ``first`` is the first member's gap (before any margins): a number,
    or the name of one of ``params`` (the built-in rules with a constant c start at c).
    """

    name: str
    fn: RuleFn
    params: tuple[str, ...] = ()
    first: Union[float, str] = 0.0
    description: str = ""

    def first_gap(self, params: dict[str, float]) -> float:
        return params[self.first] if isinstance(self.first, str) else float(self.first)


_REGISTRY: dict[str, Rule] = {}


def register(name: str, fn: RuleFn, *, params: Sequence[str] = (), first: Union[float, str] = 0.0,
             description: str = "", replace: bool = False) -> Rule:
    """Register gap rule ``name``; returns the :class:`Rule`.

    fn: ``fn(history, **params)``, the next member's (N,) gaps from the margins so far (:class:`Rule`).
    params: the names of the rule's required float parameters (passed to :func:`next_gaps`).
    first: the first member's gap, a number or one of ``params``.
    replace: allow overwriting a registered rule (else a ValueError names it).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a rule name must be an identifier string; got {name!r}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"gap rule {name!r} is already registered (pass replace=True to overwrite it)")
    if not callable(fn):
        raise ValueError(f"fn must be callable; got {type(fn).__name__}")
    params = tuple(params)
    if "n" in params or len(set(params)) != len(params) or not all(isinstance(p, str) for p in params):
        raise ValueError(f"params must be distinct names other than 'n' (next_gaps' sample count); got {params}")
    if isinstance(first, str) and first not in params:
        raise ValueError(f"first={first!r} names no parameter of the rule; its params are {list(params)}")
    if not isinstance(first, str) and not math.isfinite(float(first)):
        raise ValueError(f"first must be finite; got {first}")
    rule = Rule(name, fn, params, first if isinstance(first, str) else float(first), description)
    _REGISTRY[name] = rule
    return rule


def unregister(name: str) -> None:
    """Remove a rule added with :func:`register` (the built-in rules cannot be removed)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in gap rule and cannot be removed")
    get(name)
    del _REGISTRY[name]


def get(name: str) -> Rule:
    """The registered rule ``name``; a ValueError lists the known rules."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown gap rule {name!r}; known rules: {', '.join(_REGISTRY)}") from None


def names() -> tuple[str, ...]:
    """The registered rules' names, built-ins first."""
    return tuple(_REGISTRY)


def check_params(name: str, params: dict) -> dict[str, float]:
    """Validate the parameters of rule ``name`` (``n`` is next_gaps' own and ignored here); returns
    them as floats.  Raises ValueError for an unknown rule, a missing, extra or non-finite parameter."""
    rule = get(name)
    extra = set(params) - set(rule.params) - {"n"}
    if extra:
        raise ValueError(f"rule {name!r} takes no parameter(s) {sorted(extra)}; it takes {list(rule.params) or 'none'}")
    out = {}
    for p in rule.params:
        if p not in params:
            raise ValueError(f"rule {name!r} needs the constant {p}=...")
        v = params[p]
        try:
            f = float(v)  # numpy and 0-d torch scalars too
        except (TypeError, ValueError):
            f = float("nan")
        if isinstance(v, (bool, str)) or not math.isfinite(f):
            raise ValueError(f"{p} must be a finite number; got {v!r}")
        out[p] = f
    return out


class _RulesView(Mapping):
    """Read-only ``name -> (needs_c, description)`` over the registry (compatibility with code that
    read ``RULES[rule][0]``; new code: :func:`get`, :func:`names`)."""

    def __getitem__(self, name: str) -> tuple[bool, str]:
        rule = _REGISTRY[name]
        return "c" in rule.params, rule.description

    def __iter__(self) -> Iterator[str]:
        return iter(_REGISTRY)

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"RULES({', '.join(_REGISTRY)})"


RULES: Mapping[str, tuple[bool, str]] = _RulesView()


def _check_rule(rule: str, params: dict):
    """Deprecated (use :func:`check_params`); kept until 0.3 for callers of the old private name."""
    warnings.warn("dboost.rules._check_rule is deprecated; use dboost.rules.check_params", DeprecationWarning,
                  stacklevel=2)
    return check_params(rule, params).get("c")


def _validated_history(margins_history: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    ms = []
    for t, m in enumerate(margins_history):
        if not isinstance(m, torch.Tensor) or m.dim() != 1:
            raise ValueError(f"margins_history[{t}] must be a 1-D tensor of margins; got {getattr(m, 'shape', type(m))}")
        if m.shape != margins_history[0].shape:
            raise ValueError(f"margins_history[{t}] has {m.shape[0]} samples, margins_history[0] has "
                             f"{margins_history[0].shape[0]}")
        if not torch.isfinite(m).all():
            raise ValueError(f"margins_history[{t}] holds NaN or inf")
        ms.append(m.double())  # float64: the mean of 5e4 margins of size ~1e2 must be exact enough to test
    return ms


def next_gaps(name: str, margins_history: Sequence[torch.Tensor], *, n: int | None = None,
              **params: float) -> torch.Tensor:
    """Per-sample gaps (N,) for the next boosting member under rule ``name``.

    name: a registered rule (:func:`names`; add one with :func:`register`).
    margins_history: the training-set margins of each member so far, oldest first, each (N,) in
    the same sample order; empty for the first member.
    n: the number of training samples; required when ``margins_history`` is empty (the first
    member's gap is the rule's ``first`` value repeated n times), checked against N otherwise.
    params: the rule's own parameters, e.g. ``c=34.0`` for "constant" (``get(name).params``).
    Returns float32 for an empty history, else the dtype of the last margins (float32 for
    integer margins).  Raises ValueError before computing anything for bad input.
    """
    rule = get(name)
    p = check_params(name, params)
    if not margins_history:
        if n is None or isinstance(n, bool) or int(n) != n or n < 0:
            raise ValueError("an empty margins_history needs n=<number of training samples> (a non-negative int)")
        return torch.full((int(n),), rule.first_gap(p))
    ms = _validated_history(margins_history)
    if n is not None and n != ms[0].shape[0]:
        raise ValueError(f"n={n} does not match the {ms[0].shape[0]} margins given")
    g = rule.fn(ms, **p)
    if not isinstance(g, torch.Tensor) or g.shape != ms[-1].shape:
        raise ValueError(f"rule {name!r} returned {getattr(g, 'shape', type(g).__name__)}; it must return a tensor "
                         f"of shape {tuple(ms[-1].shape)}")
    last = margins_history[-1]
    return g.to(last.dtype if last.is_floating_point() else torch.float32)


# ----------------------------------------------------------------------------- built-in rules
# Each expression is evaluated exactly as before the registry existed (same operations in the same
# order): the gaps are part of a unit's key, and a last-bit change would orphan every cached unit.

def _code_recursion(ms: list[torch.Tensor], c: float, cumulative_margin: bool) -> torch.Tensor:
    """The authors' code (module docstring), member by member from the first gap."""
    g = torch.full_like(ms[-1], c)
    for t, m in enumerate(ms):  # t = the code's num_model: members before this one
        a = (g * t + m) / (t + 1)
        g = a if cumulative_margin else c + a.mean() - a
    return g


register("zero", lambda ms: torch.zeros_like(ms[-1]), description="0: a plain deep ensemble")
register("constant", lambda ms, c: torch.full_like(ms[-1], c), params=("c",), first="c",
         description="c for every sample and member")
register("mean_margin", lambda ms: torch.full_like(ms[-1], float(ms[-1].mean())),
         description="mean margin of the last member")
register("save_mean_reverse", lambda ms: 2 * ms[-1].mean() - ms[-1],
         description="2*mean(m) - m_i: reversed margins, mean kept")
register("zero_mean_reverse", lambda ms: ms[-1].mean() - ms[-1], description="mean(m) - m_i: reversed margins, zero mean")
register("constant_by_last", lambda ms, c: c + ms[-1].mean() - ms[-1], params=("c",), first="c",
         description="c + mean(m) - m_i of the last member")
register("constant_mean_cumulative", lambda ms, c: c + torch.stack([m.mean() - m for m in ms]).mean(0),
         params=("c",), first="c", description="c + average over members of (mean(m_t) - m_t,i)")
# the authors' code's versions (module docstring)
register("constant_mean_cumulative_code", lambda ms, c: _code_recursion(ms, c, cumulative_margin=False),
         params=("c",), first="c",
         description="the authors' code: c + mean(a) - a_i, a = (last gap*(t-1) + m_t)/t")
register("sample_margin_cumulative", lambda ms: _code_recursion(ms, 0.0, cumulative_margin=True),
         description="the authors' code (gap_is_meanmargin): each sample's margin averaged over members")
_BUILTIN = frozenset(_REGISTRY)
