"""The discounted loss and the logit-domain margin.

Discounted cross-entropy subtracts a gap ``g`` from the true-class logit before the
softmax (poster, section 2):

    L_i = -log( exp(l_y - g_i) / (exp(l_y - g_i) + sum_{j != y} exp(l_j)) )

so a sample only stops contributing once its margin exceeds the gap by a few units.
``gap = 0`` is plain cross-entropy.  The authors also allow a full (N, C) gap matrix
subtracted from every logit; both shapes are accepted here.

Non-finite values (decided in issue 12): :func:`discounted_cross_entropy` refuses NaN or inf
logits, and an empty batch under ``reduction="mean"`` (whose mean is undefined), with a
ValueError -- the check shares the one device read-back the label check already makes, so it
costs no extra synchronisation; ``sum`` of an empty batch is 0 and ``none`` is empty.

Checked and unchecked: every check reads a value back from the device, which stalls a GPU once
per call.  A training loop validates its labels and gaps once with :func:`check_inputs` and then
calls the loss with ``check=False`` (or ``DiscountedCrossEntropy(..., check=False)``): the same
arithmetic, no read-back.  The trainer (:func:`dboost.train.train`) does exactly that.
:func:`margins` is an analysis function and *propagates* NaN (a NaN logit gives that sample a
NaN margin; +inf / -inf give +-inf or NaN as the arithmetic says): a diverged network's margins
are data to record, not an input error.
"""
from __future__ import annotations

import math
import warnings
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F

REDUCTIONS = ("mean", "sum", "none")


def _check_logits_target(logits: torch.Tensor, target: torch.Tensor, finite: bool = False) -> None:
    """Shapes, dtypes and label range (and, if ``finite``, that every logit is finite), with one
    read-back from the device on the common path."""
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"logits must be a torch.Tensor; got {type(logits).__module__}.{type(logits).__name__} "
                         "(convert with torch.as_tensor)")
    if logits.dim() != 2:
        raise ValueError(f"logits must be a 2-D tensor (N, C); got shape {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be a floating-point tensor; got {logits.dtype}")
    n, c = logits.shape
    if c < 2:
        raise ValueError(f"need at least 2 classes (C >= 2); got C = {c}")
    if not isinstance(target, torch.Tensor):
        raise ValueError(f"target must be a torch.Tensor of integer labels; got {type(target).__module__}."
                         f"{type(target).__name__} (convert with torch.as_tensor)")
    if target.shape != (n,):
        raise ValueError(f"target must have shape ({n},) to match logits {tuple(logits.shape)}; "
                         f"got {tuple(getattr(target, 'shape', ()))}")
    if target.dtype.is_floating_point or target.dtype == torch.bool:
        raise ValueError(f"target must hold integer class labels; got {target.dtype}")
    if n:
        mm = torch.aminmax(target)  # one pass
        if finite:  # the logits' sum rides along in the same read-back (float64 holds labels exactly)
            lo, hi, total = torch.stack([mm.min.double(), mm.max.double(), logits.detach().sum(dtype=torch.float64)]).tolist()
        else:
            (lo, hi), total = (int(v) for v in mm), 0.0
        lo, hi = int(lo), int(hi)
        if lo < 0 or hi >= c:
            raise ValueError(f"labels must lie in [0, {c - 1}]; got min {lo}, max {hi}")
        # A finite sum means finite logits; a non-finite one may be overflow of huge finite logits:
        # only then the exact elementwise test (a second read-back, off the common path).
        if finite and not math.isfinite(total) and not bool(torch.isfinite(logits).all()):
            raise ValueError("logits hold NaN or inf values (a diverged network or bad input); the loss of "
                             "non-finite logits is undefined")


def _as_gap(gap, logits: torch.Tensor) -> torch.Tensor | float:
    """Validate ``gap`` and return it as a float or a float32 tensor on the logits' device."""
    n, c = logits.shape
    if isinstance(gap, (int, float)) and not isinstance(gap, bool):
        g = float(gap)
        if g != g or g in (float("inf"), float("-inf")):
            raise ValueError(f"gap must be finite; got {gap}")
        return g
    if not isinstance(gap, torch.Tensor):
        raise ValueError(f"gap must be a float or a tensor of shape ({n},) or ({n}, {c}); got {type(gap).__name__}")
    if gap.dim() == 0:
        return _as_gap(float(gap), logits)
    if tuple(gap.shape) not in ((n,), (n, c)):
        raise ValueError(f"gap must be a float or a tensor of shape ({n},) or ({n}, {c}); got {tuple(gap.shape)}")
    # One reduction on the common path; the exact elementwise check only if the sum is not finite.
    if not bool(torch.isfinite(gap.sum())) and not bool(torch.isfinite(gap).all()):
        raise ValueError("gap holds NaN or inf values; gaps must be finite")
    return gap.to(device=logits.device, dtype=torch.float32 if logits.dtype in (torch.float16, torch.bfloat16) else logits.dtype)


Gap = Union[float, torch.Tensor]


def check_inputs(logits: torch.Tensor, target: torch.Tensor, gap: Gap = 0.0) -> Gap:
    """Validate logits (N, C), integer labels (N,) in [0, C) and a gap; return the gap ready for
    ``check=False`` calls (a float, or a tensor in the loss's dtype on the logits' device).

    A training loop calls this once, with a probe ``torch.zeros(N, C)`` for the whole training set
    and its labels, then indexes the returned per-sample gap per batch.  Raises ValueError.
    """
    _check_logits_target(logits, target)
    return _as_gap(gap, logits)


def _check_reduction(reduction: str, label_smoothing: float) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be a float in [0, 1]; got {label_smoothing!r}")


def discounted_cross_entropy(logits: torch.Tensor, target: torch.Tensor, gap: Gap = 0.0, reduction: str = "mean",
                             label_smoothing: float = 0.0, check: bool = True) -> torch.Tensor:
    """Cross-entropy after subtracting ``gap`` from the true-class logit.

    logits: (N, C) float; target: (N,) integer labels in [0, C);
    gap: float, (N,) per-sample gap on the true class, or (N, C) subtracted from all logits.
    reduction: "mean", "sum" or "none" (per-sample losses, (N,)).
    label_smoothing: as in :func:`torch.nn.functional.cross_entropy`, applied to the shifted logits
    (the smoothed target puts 1 - eps + eps/C on the true class and eps/C on every other).
    check: validate shapes, labels, finiteness and the gap (one device read-back).  ``False`` is
    the training-loop fast path: no validation, no read-back; prepare the gap with
    :func:`check_inputs` once.  Bad input then gives wrong numbers or a torch error, not a ValueError.
    Computed in float32 (or float64 if the logits are float64), also under autocast.
    With ``check=True``, NaN / inf logits and an empty batch with reduction "mean" raise
    ValueError (module docstring).
    """
    if check:
        _check_reduction(reduction, label_smoothing)
        _check_logits_target(logits, target, finite=True)
        if logits.shape[0] == 0 and reduction == "mean":
            raise ValueError("empty batch (N = 0): the mean loss over no samples is undefined; use reduction='sum' "
                             "(0) or 'none' (empty)")
        gap = _as_gap(gap, logits)
    elif isinstance(gap, (int, float)):
        gap = float(gap)
    return _kernel(logits, target, gap, reduction, float(label_smoothing))


def _kernel(logits: torch.Tensor, target: torch.Tensor, g: Gap, reduction: str, label_smoothing: float) -> torch.Tensor:
    """The arithmetic of :func:`discounted_cross_entropy`, with no validation (``g`` prepared)."""
    # Half-precision logits from autocast are promoted: the gap can be ~1e2 and the
    # log-sum-exp must not lose the small differences that carry the gradient.
    z = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    target = target.long()
    # Subtract the gap from the true-class entry only: one scatter_add (one (N, C) copy),
    # not a materialised one-hot mask times the gap (three temporaries).
    if isinstance(g, float):
        if g != 0.0:
            z = z.scatter_add(1, target[:, None], z.new_full((z.shape[0], 1), -g))
    elif g.dim() == 1:
        z = z.scatter_add(1, target[:, None], -g.to(z.dtype)[:, None])
    else:
        z = z - g
    # F.cross_entropy uses a max-shifted log-sum-exp: stable for logits and gaps up to 1e4.
    if torch.is_autocast_enabled(z.device.type):  # entering the block costs µs: only when needed
        with torch.autocast(device_type=z.device.type, enabled=False):
            return F.cross_entropy(z, target, reduction=reduction, label_smoothing=label_smoothing)
    return F.cross_entropy(z, target, reduction=reduction, label_smoothing=label_smoothing)


class DiscountedCrossEntropy(nn.Module):
    """Module form of :func:`discounted_cross_entropy`; a per-call ``gap`` overrides the stored one.

    ``DiscountedCrossEntropy(gap=m0, label_smoothing=0.1, check=False)`` is the training-loop
    form: no device read-back per call (validate the data once with :func:`check_inputs`).
    ``reduction`` and ``label_smoothing`` are checked here, once, either way.
    """

    def __init__(self, gap: Gap = 0.0, reduction: str = "mean", label_smoothing: float = 0.0, check: bool = True):
        super().__init__()
        _check_reduction(reduction, label_smoothing)
        self.gap = gap
        self.reduction = reduction
        self.label_smoothing = float(label_smoothing)
        self.check = bool(check)

    def forward(self, logits: torch.Tensor, target: torch.Tensor, gap: Gap | None = None) -> torch.Tensor:
        return discounted_cross_entropy(logits, target, self.gap if gap is None else gap, self.reduction,
                                        self.label_smoothing, self.check)

    def extra_repr(self) -> str:
        g = self.gap if isinstance(self.gap, (int, float)) else f"tensor{tuple(self.gap.shape)}"
        return (f"gap={g}, reduction={self.reduction!r}, label_smoothing={self.label_smoothing}, "
                f"check={self.check}")


def margins(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Logit-domain margin per sample: true-class logit minus the largest other logit, shape (N,).

    Positive means correctly classified.  Returned in the logits' dtype and device.
    NaN logits propagate (that sample's margin is NaN): see the module docstring.
    """
    _check_logits_target(logits, target)
    target = target.long()
    true = logits.gather(1, target[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(target, logits.shape[1]).bool(), float("-inf"))
    return true - others.max(dim=1).values


# Deprecated: the trainer and the benchmarks imported the private kernel ``_discounted_ce`` before
# the public ``check=False`` path existed.  The old name warns and keeps working until 0.3.
def _legacy_discounted_ce(logits, target, g, reduction="mean", label_smoothing=0.0):
    return discounted_cross_entropy(logits, target, g, reduction, label_smoothing, check=False)


def __getattr__(name: str):
    if name == "_discounted_ce":
        warnings.warn("dboost.loss._discounted_ce is deprecated; use "
                      "dboost.loss.discounted_cross_entropy(..., check=False)", DeprecationWarning, stacklevel=2)
        return _legacy_discounted_ce
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
