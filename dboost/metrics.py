"""Evaluation metrics: accuracy, ROC-AUC (three score domains), calibration, margins; and
:func:`evaluate`, all of them for a model or an ensemble on a data set.  (The measures that run
the network itself -- minimum width, logged-style margins -- are in :mod:`dboost.probes`.)

Every metric takes torch tensors ``scores`` (N, C) and integer labels ``y`` (N,), runs on the
scores' device (CPU or GPU; no numpy round-trips) and returns a python float.  ``scores`` are
logits, or log-probabilities (an ensemble's output); where a metric needs probabilities it takes
a softmax of them, which leaves log-probabilities unchanged.

Precision, the reason for three ROC-AUC variants (spec, "ROC-AUC" item 3):
a float32 softmax saturates once a margin exceeds ~17 (the top probability rounds to 1.0) and
the small probabilities underflow to 0 past ~100, so many samples *tie* although their logits are
ordered.  The discounted loss pushes margins to 30..100, so AUC on float32 probabilities
(``on="proba"``, what a typical evaluation script reports) and AUC on the exact probabilities
(``on="log_proba"``) can differ.  ``on="log_proba"`` uses a float64 log-softmax whose top entry
is computed as ``-log1p(sum_{j != top} exp(l_j - l_top))``: unlike ``torch.log_softmax`` (whose top
entry rounds to 0.0 once the margin exceeds ~37) it ranks samples exactly as the exact
probabilities do, for margins up to ~700 (where float64 ``exp`` underflows).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .probes import _is_ensemble, _xy

__all__ = ["accuracy", "roc_auc_ovr", "misclassification_auroc", "nll", "ece", "brier", "margin_summary",
           "evaluate", "evaluate_scores", "evaluate_member_logits", "log_softmax_precise"]

AUC_DOMAINS = ("proba", "logits", "log_proba")


# ----------------------------------------------------------------------------- validation

def _check(scores, y) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate (N, C) finite float scores and (N,) integer labels in [0, C); labels moved to the scores' device."""
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2:
        raise ValueError(f"scores must be a 2-D tensor (N, C); got {type(scores).__name__} "
                         f"of shape {tuple(getattr(scores, 'shape', ()))}")
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating-point tensor; got {scores.dtype}")
    n, c = scores.shape
    if n < 1 or c < 2:
        raise ValueError(f"scores need N >= 1 samples and C >= 2 classes; got shape {tuple(scores.shape)}")
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n,):
        raise ValueError(f"labels must be a tensor of shape ({n},) to match scores {tuple(scores.shape)}; "
                         f"got {type(y).__name__} of shape {tuple(getattr(y, 'shape', ()))}")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices; got {y.dtype}")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= c:
        raise ValueError(f"labels must lie in [0, {c - 1}]; got min {lo}, max {hi}")
    if not bool(torch.isfinite(scores).all()):
        raise ValueError("scores hold NaN or inf values")
    return scores, y.to(scores.device, torch.long)


# ----------------------------------------------------------------------------- helpers

def log_softmax_precise(scores: torch.Tensor) -> torch.Tensor:
    """float64 log-softmax with a non-saturating top entry.

    For the top class: ``-log1p(s)`` with ``s = sum_{j != top} exp(l_j - l_top)`` (exact even when
    ``s`` is 1e-30); for the others: ``l_k - l_top - log1p(s)``.  Monotone in the exact
    probabilities, so rankings (ROC-AUC, confidences) match the exact ones; ``torch.log_softmax``
    instead returns 0.0 for every top entry with margin above ~37.  The normaliser is summed in
    sorted order, so rows that are permutations of each other tie exactly (no rounding-order noise).
    """
    z = scores.double()
    top = z.argmax(dim=1, keepdim=True)
    d = z - z.gather(1, top)                      # <= 0, top entry exactly 0
    e = torch.exp(d).scatter(1, top, 0.0)         # others only
    # Summed in sorted order: rows that are permutations of each other (exact ties, common with
    # quantised or saturated scores) get bit-identical normalisers, so exact ties stay ties.
    return d - torch.log1p(e.sort(dim=1).values.sum(dim=1, keepdim=True))


def _auc_rows(s: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Exact ROC-AUC of each row: scores ``s`` (K, N), positives ``pos`` (K, N) bool -> (K,) float64.

    Mann-Whitney U from average ranks (ties count half), vectorised over rows: one sort, then
    tie groups found by comparing neighbours; each group's average rank by scatter_add.
    Rows must hold at least one positive and one negative (checked by the callers).
    """
    k, n = s.shape
    vals, order = torch.sort(s, dim=1)
    pos_sorted = pos.gather(1, order)
    new = torch.ones_like(vals, dtype=torch.bool)
    new[:, 1:] = vals[:, 1:] != vals[:, :-1]
    gid = torch.cumsum(new.reshape(-1), 0) - 1     # each row starts a new group: groups never span rows
    rank = torch.arange(1, n + 1, dtype=torch.float64, device=s.device).repeat(k)
    sums = torch.zeros(k * n, dtype=torch.float64, device=s.device).scatter_add_(0, gid, rank)
    cnt = torch.zeros(k * n, dtype=torch.float64, device=s.device).scatter_add_(0, gid, torch.ones_like(rank))
    avg_rank = (sums / cnt.clamp_min(1.0))[gid].view(k, n)
    n_pos = pos.sum(dim=1).double()
    n_neg = n - n_pos
    r_pos = (avg_rank * pos_sorted).sum(dim=1)
    return (r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


# ----------------------------------------------------------------------------- metrics

def accuracy(scores: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples whose argmax (first index on ties) equals the label; logits or probabilities."""
    scores, y = _check(scores, y)
    return float((scores.argmax(dim=1) == y).double().mean())


def roc_auc_ovr(scores: torch.Tensor, y: torch.Tensor, on: str = "proba") -> float:
    """Macro one-vs-rest ROC-AUC: mean over classes k of AUC(y == k, score_k).

    on="proba":     float32 softmax(scores) (ties where it saturates; what sklearn sees on float32 probabilities).
    on="logits":    the raw scores, as given.
    on="log_proba": float64 :func:`log_softmax_precise` -- the ranking of the exact probabilities, no ties.
    Exact (Mann-Whitney, ties counted half); equals sklearn
    ``roc_auc_score(y, P, multi_class="ovr", average="macro")`` for P = the chosen scores.
    Raises ValueError if a class has no sample in ``y`` (its AUC is undefined).
    """
    if on not in AUC_DOMAINS:
        raise ValueError(f"on must be one of {AUC_DOMAINS}; got {on!r}")
    scores, y = _check(scores, y)
    n, c = scores.shape
    counts = torch.bincount(y, minlength=c)
    missing = torch.nonzero(counts == 0).flatten().tolist()
    if missing:
        raise ValueError(f"ROC-AUC is undefined for classes absent from the labels: {missing}")
    if on == "proba":
        s = torch.softmax(scores.float(), dim=1)
    elif on == "log_proba":
        s = log_softmax_precise(scores)
    else:
        s = scores
    pos = F.one_hot(y, c).bool()
    return float(_auc_rows(s.t(), pos.t()).mean())


def misclassification_auroc(scores: torch.Tensor, y: torch.Tensor) -> float:
    """AUROC of the max-softmax confidence at separating correct (positive) from wrong predictions.

    The confidence is the float64 top log-probability from :func:`log_softmax_precise`, which ranks
    samples exactly as the exact max-softmax probability does (a float64 max-softmax itself rounds
    to 1.0 for margins above ~37 and would create ties).
    Returns NaN when every prediction is correct or every one is wrong: with only one class of
    outcome the AUROC is undefined (0/0).
    """
    scores, y = _check(scores, y)
    conf = log_softmax_precise(scores).max(dim=1).values
    pred = scores.argmax(dim=1)              # same tie rule as accuracy()
    correct = pred == y
    k = int(correct.sum())
    if k == 0 or k == correct.numel():
        return float("nan")
    return float(_auc_rows(conf[None], correct[None])[0])


def nll(scores: torch.Tensor, y: torch.Tensor) -> float:
    """Mean negative log-likelihood: mean over samples of -log softmax(scores)_y (float64).

    ``scores`` are logits or log-probabilities (softmax leaves the latter unchanged).
    """
    scores, y = _check(scores, y)
    return float(-log_softmax_precise(scores).gather(1, y[:, None]).mean())


def _proba64(scores: torch.Tensor) -> torch.Tensor:
    return torch.softmax(scores.double(), dim=1)


def ece(scores: torch.Tensor, y: torch.Tensor, bins: int = 15) -> float:
    """Expected calibration error with ``bins`` equal-width confidence bins (Guo et al. 2017).

    Confidence = max softmax (float64), bins ``(i/B, (i+1)/B]``; ``ECE = sum_b |b|/N * |acc_b - conf_b|``.
    """
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a positive int; got {bins}")
    scores, y = _check(scores, y)
    p = _proba64(scores)
    conf = p.max(dim=1).values
    correct = (scores.argmax(dim=1) == y).double()
    edges = torch.linspace(0.0, 1.0, int(bins) + 1, dtype=torch.float64, device=scores.device)
    b = torch.bucketize(conf, edges[1:-1], right=False)   # edges[b-1] < conf <= edges[b]
    cnt = torch.zeros(int(bins), dtype=torch.float64, device=scores.device).scatter_add_(0, b, torch.ones_like(conf))
    s_conf = torch.zeros_like(cnt).scatter_add_(0, b, conf)
    s_acc = torch.zeros_like(cnt).scatter_add_(0, b, correct)
    return float((s_acc - s_conf).abs().sum() / conf.numel())   # |b|/N * |acc_b - conf_b| = |sum acc - sum conf|/N


def brier(scores: torch.Tensor, y: torch.Tensor) -> float:
    """Multi-class Brier score: mean over samples of sum_k (p_k - onehot_k)^2, p = float64 softmax."""
    scores, y = _check(scores, y)
    p = _proba64(scores)
    return float((p - F.one_hot(y, p.shape[1]).double()).pow(2).sum(dim=1).mean())


MARGIN_KEYS = ("mean", "std", "min", "q05", "q25", "median", "q75", "q95", "max")


def margin_summary(m: torch.Tensor) -> dict:
    """Summary of a 1-D tensor of margins as python floats.

    Keys: mean, std (unbiased, ddof=1, as ``torch.std``; 0.0 for one sample), min, q05, q25,
    median, q75, q95, max (quantiles with linear interpolation, as ``numpy.quantile``).
    """
    if not isinstance(m, torch.Tensor) or m.dim() != 1 or m.numel() == 0:
        raise ValueError(f"margins must be a non-empty 1-D tensor; got {type(m).__name__} "
                         f"of shape {tuple(getattr(m, 'shape', ()))}")
    if not m.is_floating_point() and m.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        raise ValueError(f"margins must be real numbers; got {m.dtype}")
    t = m.double()
    if not bool(torch.isfinite(t).all()):
        raise ValueError("margins hold NaN or inf values")
    q = torch.quantile(t, torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95], dtype=torch.float64, device=t.device)).tolist()
    return dict(mean=float(t.mean()), std=float(t.std()) if t.numel() > 1 else 0.0, min=float(t.min()),
                q05=q[0], q25=q[1], median=q[2], q75=q[3], q95=q[4], max=float(t.max()))


# ----------------------------------------------------------------------------- models

def _scores_of(model_or_ensemble, x, batch_size: int, device) -> tuple[torch.Tensor, int]:
    """(scores, members): float32 logits of a model, or float64 ensemble log-probabilities."""
    from .train import predict_logits
    if _is_ensemble(model_or_ensemble):
        members = list(model_or_ensemble.members)
        if not members:
            raise ValueError("empty ensemble: no members to evaluate")
        acc = None
        for m in members:  # streaming logsumexp over members: one (N, C) float64 buffer
            lp = torch.log_softmax(predict_logits(m, x, batch_size, device).double(), dim=1)
            acc = lp if acc is None else torch.logaddexp(acc, lp)
        return acc - math.log(len(members)), len(members)
    if not isinstance(model_or_ensemble, nn.Module):
        raise ValueError(f"evaluate needs an nn.Module or an Ensemble; got {type(model_or_ensemble).__name__}")
    return predict_logits(model_or_ensemble, x, batch_size, device), 1


def evaluate(model_or_ensemble, data, batch_size: int = 1000, device=None) -> dict:
    """All metrics of a model or an :class:`~dboost.boost.Ensemble` on ``data`` (a Split), as a flat dict.

    Scores: a single model's float32 logits (``predict_logits``: eval mode, no autograd, CPU
    result); an ensemble's float64 log-probability ``logsumexp_m log_softmax(l_m) - log M`` (the
    authors' mean-of-softmax rule in log space; nothing saturates).

    Keys (python floats unless noted)::

      n              number of samples (int)
      members        1 for a model, M for an ensemble (int)
      acc            accuracy
      auc_proba      macro OvR ROC-AUC on float32 softmax probabilities (ties where it saturates)
      auc_logits     macro OvR ROC-AUC on the scores themselves (model logits / ensemble log-probs)
      auc_log_proba  macro OvR ROC-AUC on exact (float64, non-saturating) log-probabilities
      mis_auroc      misclassification AUROC of the max-softmax confidence (NaN if all right/all wrong)
      nll            mean negative log-likelihood
      ece            expected calibration error, 15 equal-width bins
      brier          multi-class Brier score
      mean_margin, margin_std, margin_min, margin_q05, margin_q25, margin_median, margin_q75,
      margin_q95, margin_max
                     logit-domain margins (``dboost.loss.margins``) of the scores: for an
                     ensemble, log p_y - max_{j != y} log p_j.
    """
    x, y = _xy(data)
    from .data import Split
    # a Split carries its data set's normalisation (CIFAR-100's own statistics, not CIFAR-10's)
    scores, n_members = _scores_of(model_or_ensemble, data if isinstance(data, Split) else x, batch_size, device)
    return evaluate_scores(scores, y, n_members)


def evaluate_member_logits(member_logits: torch.Tensor, y: torch.Tensor) -> dict:
    """:func:`evaluate` for precomputed member logits (M, N, C): the ensemble of M members.

    Used by resumed experiments, which keep each member's test logits rather than the model.
    """
    if member_logits.dim() != 3:
        raise ValueError(f"member_logits must be (M, N, C); got {tuple(member_logits.shape)}")
    m = member_logits.shape[0]
    lp = torch.log_softmax(member_logits.double(), dim=2)
    return evaluate_scores(torch.logsumexp(lp, 0) - math.log(m), y, m)


def evaluate_scores(scores: torch.Tensor, y: torch.Tensor, members: int = 1) -> dict:
    """The metrics of :func:`evaluate` from scores (logits or ensemble log-probabilities)."""
    from .loss import margins
    n_members = members
    y = y.to(scores.device, torch.long)
    _check(scores, y)
    out = dict(n=int(y.numel()), members=n_members, acc=accuracy(scores, y),
               auc_proba=roc_auc_ovr(scores, y, on="proba"), auc_logits=roc_auc_ovr(scores, y, on="logits"),
               auc_log_proba=roc_auc_ovr(scores, y, on="log_proba"), mis_auroc=misclassification_auroc(scores, y),
               nll=nll(scores, y), ece=ece(scores, y), brier=brier(scores, y))
    ms = margin_summary(margins(scores, y))
    out["mean_margin"] = ms.pop("mean")
    out.update({f"margin_{k}": v for k, v in ms.items()})
    return out
