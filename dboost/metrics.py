"""Evaluation metrics: accuracy, ROC-AUC (three score domains), calibration, margins, minimum width.

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

import copy
import math
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["accuracy", "roc_auc_ovr", "misclassification_auroc", "nll", "ece", "brier", "margin_summary",
           "evaluate", "min_width", "log_softmax_precise"]

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

    Confidence = max softmax (float64), bins (i/B, (i+1)/B]; ECE = sum_b |b|/N * |acc_b - conf_b|.
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

def _is_ensemble(obj) -> bool:
    """A :class:`dboost.boost.Ensemble` or anything shaped like one -- by its attributes, so that
    metrics (which boost uses) need not import boost."""
    return hasattr(obj, "members") and hasattr(obj, "member_logits")


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


def _xy(data) -> tuple[torch.Tensor, torch.Tensor]:
    if not (hasattr(data, "x") and hasattr(data, "y")):
        raise ValueError(f"data must have .x images and .y labels (a dboost.data.Split); got {type(data).__name__}")
    x, y = data.x, data.y
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not isinstance(y, torch.Tensor) or tuple(y.shape) != (x.shape[0],):
        raise ValueError(f"data.x must be (N, C, H, W) and data.y (N,); got {tuple(getattr(x, 'shape', ()))} and "
                         f"{tuple(getattr(y, 'shape', ()))}")
    if x.shape[0] == 0:
        raise ValueError("data is empty")
    return x, y


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


# ----------------------------------------------------------------------------- minimum width

def _f32(t: torch.Tensor) -> torch.Tensor:
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    """[a, b) ranges of ``size`` covering range(n); a trailing range of length 1 is merged into the one before."""
    out = [(a, min(a + size, n)) for a in range(0, n, size)]
    if len(out) > 1 and out[-1][1] - out[-1][0] == 1:
        out[-2:] = [(out[-2][0], n)]
    return out


def _norm(data) -> dict:
    """The normalisation a data set carries (a Split's mean/std), for :func:`dboost.train.to_input`."""
    return {k: getattr(data, k) for k in ("mean", "std") if hasattr(data, k)}


def _normalise_input(x: torch.Tensor, device, norm: dict | None = None) -> torch.Tensor:
    from .train import to_input
    return to_input(x, device, **(norm or {})).contiguous()


def min_width(model: nn.Module, data, n: int = 1000, batch_size: int = 100, device=None) -> float:
    """The thesis' minimum width (spec "Minimum width", eq. 5); smaller = wider minimum.

    mean over the first ``n`` samples of ``data`` (all of them if fewer; un-augmented, normalised
    as ``predict_logits`` does) of ``|| grad_{theta_bar} CE(f(x; theta_bar), y) ||_2`` where
    ``theta_bar = theta / ||theta||``, theta = all trainable parameters (``requires_grad``; a frozen
    head is not in theta) concatenated, one global norm.

    Steps, on a deep copy (``model`` is untouched):
      1. divide every trainable parameter by the global norm;
      2. re-estimate BatchNorm running statistics on the n samples at the new weights: reset, then
         one no-grad pass in batches of ``batch_size`` with ``momentum=None`` (cumulative average,
         equal weight per batch; a trailing batch of one sample is merged into the one before),
         BatchNorm layers in train mode and everything else (dropout) in eval mode;
      3. eval mode; per-sample gradients with ``torch.func`` (``functional_call`` +
         ``vmap(grad(...))``), ``batch_size`` samples per chunk.  If vmap fails for the model
         (an op without a batching rule), a warning is issued and a per-sample backward loop is
         used instead (same numbers, slower).
    device: None = the model's parameter device.  Returns a float.
    """
    if not isinstance(model, nn.Module) or _is_ensemble(model):
        raise ValueError(f"min_width needs a single model (nn.Module, not an ensemble); got {type(model).__name__}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive int; got {n}")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size}")
    x, y = _xy(data)
    x, y = x[: int(n)], y[: int(n)].long()
    if device is None:
        p0 = next(model.parameters(), None)
        device = p0.device if p0 is not None else torch.device("cpu")
    device = torch.device(device)

    net = copy.deepcopy(model).to(device)
    trainable = {k: p for k, p in net.named_parameters() if p.requires_grad}
    if not trainable:
        raise ValueError("the model has no trainable parameters (requires_grad=True): theta is empty")
    dtype = next(iter(trainable.values())).dtype
    with torch.no_grad():
        norm = torch.sqrt(sum(p.double().pow(2).sum() for p in trainable.values()))
        if not float(norm) > 0:
            raise ValueError("the trainable parameters are all zero: theta / ||theta|| is undefined")
        for p in trainable.values():
            p.div_(norm.to(p.dtype))

    # 2. BatchNorm statistics at the normalised weights.
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if bns:
        net.eval()
        saved = [(m, m.momentum) for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        try:
            with torch.no_grad():
                for a, b in _chunks(x.shape[0], batch_size):
                    net(_normalise_input(x[a:b], device, _norm(data)).to(dtype))
        finally:
            for m, mom in saved:
                m.momentum = mom
    net.eval()

    # 3. per-sample gradient norms.
    params = {k: p.detach() for k, p in trainable.items()}
    rest = {k: p.detach() for k, p in net.named_parameters() if not p.requires_grad}
    rest.update(dict(net.named_buffers()))

    def loss_one(prm, xi, yi):
        out = torch.func.functional_call(net, (prm, rest), (xi[None],))
        return F.cross_entropy(_f32(out), yi[None])

    per_sample_grad = torch.func.vmap(torch.func.grad(loss_one), in_dims=(None, 0, 0))
    norms = []
    use_vmap = True
    for a, b in _chunks(x.shape[0], batch_size):
        xb = _normalise_input(x[a:b], device, _norm(data)).to(dtype)
        yb = y[a:b].to(device)
        if use_vmap:
            try:
                g = per_sample_grad(params, xb, yb)
                sq = sum(t.double().pow(2).flatten(1).sum(1) for t in g.values())
                norms.append(sq.sqrt())
                continue
            except Exception as e:  # noqa: BLE001 - any vmap failure -> the slow, always-valid loop
                warnings.warn(f"min_width: torch.func.vmap failed ({type(e).__name__}: {e}); "
                              "using a per-sample backward loop", RuntimeWarning)
                use_vmap = False
        norms.append(_grad_norms_loop(net, list(trainable.values()), xb, yb))
    return float(torch.cat(norms).mean())


def _grad_norms_loop(net: nn.Module, params: list, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    out = []
    for xi, yi in zip(xb, yb):
        loss = F.cross_entropy(_f32(net(xi[None])), yi[None])
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        out.append(torch.sqrt(sum(g.double().pow(2).sum() for g in grads if g is not None)))
    return torch.stack(out)


# ----------------------------------------------------------------------------- logged-style margins

@torch.no_grad()
def logged_style_mean_margin(model: nn.Module, data, *, batch_size: int, crop_pad: int = 4, flip: bool = True,
                             seed: int = 0, device=None, **augment_kw) -> float:
    """The mean training margin *as the authors' code logs it* (spec, "Logged margins").

    Their dashboards measure margins in **train mode** (batch statistics, head dropout on), on
    **augmented** inputs, with the true class masked by **-1** instead of -inf before the max over
    the other classes -- so when every wrong logit is below -1 the margin reads ``f_y + 1``, lower
    than the true ``f_y - max_{j!=y} f_j``.  This is only here to compare our m0 with the poster's
    m0 ~ 29, which may be of this kind; true margins (:func:`dboost.loss.margins`) drive everything
    else.  Runs on a deep copy, so ``model``'s BatchNorm statistics are untouched; one pass over
    ``data`` in its stored order, batches of ``batch_size``, the recipe's augmentation.
    """
    from .train import augment, to_input
    x, y = _xy(data)
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    net = copy.deepcopy(model).to(dev).train()
    gen = torch.Generator(device=dev).manual_seed(seed) if dev.type == "cuda" else torch.Generator().manual_seed(seed)
    total, n = 0.0, 0
    # Head dropout draws from the global generator: seed a forked one so the value is a function of
    # (model, data, seed) and the caller's random stream is left alone.
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        for a, b in _chunks(x.shape[0], batch_size):  # no batch of one: train-mode BatchNorm needs two
            xb = augment(x[a:b].to(dev), crop_pad, flip, gen, **augment_kw)
            logits = net(to_input(xb, dev, **_norm(data))).float()
            yb = y[a:b].to(dev)
            true = logits.gather(1, yb[:, None]).squeeze(1)
            other = logits.scatter(1, yb[:, None], -1.0).amax(1)  # the authors' mask: -1, not -inf
            total += float((true - other).double().sum())
            n += xb.shape[0]
    return total / n
