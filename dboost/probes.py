"""Measures that run a trained network itself on data, not only its scores: the thesis' minimum
width (:func:`min_width`: per-sample gradients at normalised weights) and the mean margin as the
authors' code logs it (:func:`logged_style_mean_margin`: train mode, augmented inputs); and the
checks of a model and a data set that they share with :func:`dboost.metrics.evaluate`."""
from __future__ import annotations

import copy
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["min_width", "logged_style_mean_margin"]


# ----------------------------------------------------------------------------- models and data

def _is_ensemble(obj) -> bool:
    """A :class:`dboost.boost.Ensemble` or anything shaped like one -- by its attributes, so that
    metrics (which boost uses) need not import boost."""
    return hasattr(obj, "members") and hasattr(obj, "member_logits")


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
    """The normalisation a data set carries (a Split's mean/std), for :func:`dboost.augmentation.to_input`."""
    return {k: getattr(data, k) for k in ("mean", "std") if hasattr(data, k)}


def _normalise_input(x: torch.Tensor, device, norm: dict | None = None) -> torch.Tensor:
    from .augmentation import to_input
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
    from .augmentation import augment, to_input
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
