"""Training: one recipe dict per recipe, a data path that never leaves the device.

The hot loop (airbench-style):
  * the whole training set sits on the training device as uint8 (150 MB for CIFAR-10);
  * each batch is gathered by index, augmented and normalised as a few tensor ops on that device
    -- no per-sample Python, no DataLoader.  Augmentation, in this order: random crop (pad 4 with
    zeros or by reflection, crop back = translation by up to 4 px), horizontal flip, and optionally
    a random rotation by up to +-``rotate_deg`` (nearest, zero fill: torchvision's
    ``RandomRotation`` defaults), as the authors' ``Compose`` lists them;
  * per-sample gaps are gathered with the *same* indices, so they stay aligned with their images
    through shuffling and augmentation;
  * CUDA: channels_last + bf16 autocast (loss in float32); CPU: channels_last, float32 (bf16
    autocast opt-in with ``precision="bf16"``);
  * opt-in ``compile=``: the model's forward and backward through ``torch.compile`` (see
    :data:`COMPILE_MODES`), off by default on every device.
"""
from __future__ import annotations

import contextlib
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn

from .data import CIFAR10_MEAN, CIFAR10_STD, Split
from .loss import check_inputs, discounted_cross_entropy

# Every hyper-parameter of a recipe lives here; `train(..., **overrides)` may replace any of them.
RECIPES = {
    # The authors' run script for ResNet9 (spec, "The training recipe"): Adam with its L2-style
    # weight decay, one-cycle schedule stepped per batch, batch 500, 50 epochs; their augmentation
    # (spec, "Checked against the authors' published code"): reflect-padded crop, flip, +-20 deg.
    "authors": dict(optimizer="adam", lr=3.2e-3, weight_decay=1e-3, epochs=50, batch_size=500,
                    pct_start=0.3, label_smoothing=0.0, crop_pad=4, flip=True, pad_mode="reflect",
                    rotate_deg=20.0, version=2),
    # Ours: the same optimiser family (so the gap means the same thing), a shorter cycle.
    # A larger peak lr and an earlier peak make up for the 3x fewer steps; tuned on the GPU
    # benchmark (benchmarks/gpu.py), see README "Performance".
    "fast": dict(optimizer="adam", lr=4e-3, weight_decay=1e-3, epochs=15, batch_size=500,
                 pct_start=0.25, label_smoothing=0.0, crop_pad=4, flip=True, pad_mode="zeros",
                 rotate_deg=0.0, version=1),
}
# `version` changes whenever a recipe's training changes; rows record it (in their `hp`), so results
# of different versions are never mixed silently.  authors v1 = zero-padded crop + flip, v2 = the
# authors' own augmentation (reflect padding, +-20 deg rotation).  fast is unchanged since v1.
PAD_MODES = ("zeros", "reflect")
# Settings a recipe dict written before they existed did not have, and what it then meant.
_LEGACY_DEFAULTS = dict(pad_mode="zeros", rotate_deg=0.0)


def resolve_recipe(recipe: str | dict, **overrides) -> dict:
    """The recipe dict with overrides applied (None values are ignored); validated.

    A custom dict without ``pad_mode`` / ``rotate_deg`` gets zero padding and no rotation (what
    such dicts meant before these settings existed).  ``version`` is bookkeeping, not a setting.
    """
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; known recipes: {', '.join(RECIPES)}")
        hp = dict(RECIPES[recipe], name=recipe)
    else:
        hp = dict(recipe)
        hp.setdefault("name", "custom")
    for k, v in _LEGACY_DEFAULTS.items():
        hp.setdefault(k, v)
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in RECIPES["authors"] or k == "version":
            raise ValueError(f"unknown recipe setting {k!r}; settings: {', '.join(RECIPES['authors'])}")
        hp[k] = v
    for k in ("epochs", "batch_size"):
        if int(hp[k]) != hp[k] or hp[k] < 1:
            raise ValueError(f"{k} must be a positive int; got {hp[k]}")
    if hp["optimizer"] not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd'; got {hp['optimizer']!r}")
    for k in ("lr", "weight_decay", "crop_pad", "label_smoothing", "pct_start"):
        if not hp[k] >= 0:
            raise ValueError(f"{k} must be >= 0; got {hp[k]}")
    if hp["pad_mode"] not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}; got {hp['pad_mode']!r}")
    if isinstance(hp["rotate_deg"], bool) or not (0 <= hp["rotate_deg"] < math.inf):  # also refuses NaN
        raise ValueError(f"rotate_deg must be a finite number >= 0 (0 = no rotation); got {hp['rotate_deg']!r}")
    return hp


def default_device(device=None) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def check_device(device=None) -> str:
    """The device to train on, as a string, validated before any work.

    None: "cuda" if available, else "cpu".  Accepted: "cpu" (or "cpu:0"), "cuda" / "cuda:<i>"
    where torch sees that device, "mps" where available.  Anything else -- a misspelling, "CPU",
    "tpu", "meta", a CUDA index that is not there -- is a ValueError in one line.
    """
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda:0'; got {type(device).__name__} {device!r}")
    try:
        d = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"unknown device {str(device)!r}; use 'cpu', 'cuda', 'cuda:<index>' or 'mps'") from None
    if d.type == "cpu":
        if d.index not in (None, 0):
            raise ValueError(f"device {str(device)!r}: there is one CPU device; use 'cpu'")
    elif d.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} asked for, but torch sees no CUDA device")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} asked for, but torch sees {torch.cuda.device_count()} CUDA "
                             f"device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})")
    elif d.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {str(device)!r} asked for, but torch sees no MPS device")
    else:
        raise ValueError(f"device {str(device)!r} is not supported for training; use 'cpu', 'cuda', "
                         "'cuda:<index>' or 'mps'")
    return str(device) if isinstance(device, str) else str(d)


SEED_MAX = 2 ** 31  # seeds must fit every generator used (torch, numpy) and member seeds 1000 (seed + 1) + t


def check_seeds(seeds, name: str = "seeds") -> tuple[int, ...]:
    """A seed or a list of seeds as a tuple of ints in [0, 2**31), distinct, non-empty.

    Refused with a ValueError in one line: bools, floats (1.5, even 2.0), strings (papermill's
    ``-r seeds 12`` passes the string "12", which would otherwise be read digit by digit), None
    inside the list, negative or too large values, duplicates.
    """
    def one(s):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise ValueError(f"{name} must be ints in [0, 2**31); got {s!r} ({type(s).__name__})"
                             + (" -- pass a list: --seeds 1 2, or with papermill -y \"seeds: [1, 2]\""
                                if isinstance(s, str) else ""))
        if not 0 <= int(s) < SEED_MAX:
            raise ValueError(f"{name} must be ints in [0, 2**31); got {int(s)}")
        return int(s)
    if isinstance(seeds, str):
        raise ValueError(f"{name} must be an int or a list of ints; got the string {seeds!r} -- pass a list: "
                         "--seeds 1 2, or with papermill -y \"seeds: [1, 2]\" (not -r seeds 12)")
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return (one(seeds),)
    if not isinstance(seeds, (list, tuple, np.ndarray, range)):
        raise ValueError(f"{name} must be an int or a list of ints; got {seeds!r} ({type(seeds).__name__})")
    out = tuple(one(s) for s in seeds)
    if not out:
        raise ValueError(f"{name} must be a non-empty list of ints")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} holds duplicates: {list(out)}")
    return out


# ----------------------------------------------------------------------------- data path

def to_input(x: torch.Tensor, device=None, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> normalised float32, channels_last, on ``device``.

    ``mean``/``std``: per-channel statistics in 0..255 units (a Split's ``.mean``/``.std``; CIFAR-10's
    by default).  Float tensors are taken as already normalised and only moved.
    """
    device = torch.device(device) if device is not None else x.device
    x = x.to(device, non_blocking=True)
    if x.dtype == torch.uint8:
        mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        x = (x.float() - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator | None = None, *,
            pad_mode: str = "zeros", rotate_deg: float = 0.0) -> torch.Tensor:
    """Random crop, flip and (optionally) rotation of a batch, in that order; returns x's dtype.

    crop: pad ``pad`` px (``pad_mode`` "zeros", or "reflect" = torchvision's ``padding_mode=
    "reflect"``, edge not repeated) and crop back at a uniform offset: a translation by up to
    ``pad`` px.  flip: each image mirrored with probability 1/2.  rotation: each image by its own
    uniform angle in [-rotate_deg, rotate_deg) degrees, see :func:`rotate`.
    Works on uint8 or float (N, C, H, W) on any device; random numbers come from ``generator``.
    With pad_mode="zeros" and rotate_deg=0 this is bit-identical to the original crop + flip
    (same ops, same random numbers drawn): the fast recipe trains exactly as before.
    """
    n, c, h, w = x.shape
    dev = x.device
    gdev = generator.device if generator else "cpu"
    if pad:
        off = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=gdev).to(dev)
        rows = (off[0][:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (off[1][:, None] + torch.arange(w, device=dev))[:, None, None, :]
        if pad_mode == "reflect":
            if pad >= min(h, w):
                raise ValueError(f"reflect padding needs pad < image size; got pad={pad} for {h}x{w}")
            # gather straight from x at reflected indices: -k -> k, (h-1)+k -> (h-1)-k
            src, rows, cols = x, _reflect(rows - pad, h), _reflect(cols - pad, w)
        elif pad_mode == "zeros":
            src = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        else:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}; got {pad_mode!r}")
        x = src[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None], rows, cols]
    if flip:
        f = torch.rand(n, generator=generator, device=gdev).to(dev) < 0.5
        x = torch.where(f[:, None, None, None], x.flip(3), x)
    if rotate_deg:  # 0: no op and no random numbers drawn
        angles = (torch.rand(n, generator=generator, device=gdev).to(dev) * 2 - 1) * float(rotate_deg)
        x = rotate(x, angles)
    return x


def _reflect(i: torch.Tensor, size: int) -> torch.Tensor:
    i = i.abs()
    return torch.where(i > size - 1, 2 * (size - 1) - i, i)


def rotate(x: torch.Tensor, degrees) -> torch.Tensor:
    """Rotate each image of (N, C, H, W) ``x`` about its centre by ``degrees`` (float or (N,)), batched.

    Counter-clockwise for positive angles, nearest neighbour, zero fill, same size: the geometry of
    ``torchvision.transforms.functional.rotate(img, a, InterpolationMode.NEAREST)`` (its inverse
    affine map on pixel centres, ``align_corners=False``), as one affine_grid + grid_sample.
    uint8 is sampled in float32 (nearest copies values, so nothing is lost) and returned as uint8.
    """
    n, _, h, w = x.shape
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    a = torch.deg2rad(torch.as_tensor(degrees, dtype=work.dtype, device=x.device).expand(n))
    cos, sin = a.cos(), a.sin()
    zero = torch.zeros_like(a)
    # output pixel (x right, y down, centred) -> input: (cos x - sin y, sin x + cos y), here in
    # grid_sample's normalised coordinates (x / (w/2), y / (h/2)).
    theta = torch.stack([torch.stack([cos, -sin * (h / w), zero], 1),
                         torch.stack([sin * (w / h), cos, zero], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, list(work.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(work, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    if not x.dtype.is_floating_point:
        out = out.round()
    return out.to(x.dtype)


# ----------------------------------------------------------------------------- CPU threads

@contextlib.contextmanager
def cpu_threads(n: int | None):
    """Run the block with ``n`` torch CPU threads (None: leave the count as it is).

    Tiny models (the smoke profile, the tests) gain nothing from a second thread and collapse
    under contention: 2 threads on 2 cores with one core busy elsewhere took 135.7 s for the smoke
    gap sweep, 1 thread 6.1 s (OpenMP barriers wait for scheduler slices; issue 16).  CPU training
    is bit-for-bit reproducible only at a fixed count, which every row records (``env.cpu_threads``).
    ``OMP_NUM_THREADS`` is set too, so processes started inside the block (papermill kernels,
    executor workers) start with the same count.
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"threads must be a positive int or None; got {n!r}")
    old, old_env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(int(n))
    os.environ["OMP_NUM_THREADS"] = str(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
        if old_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old_env


# ----------------------------------------------------------------------------- inference

@torch.no_grad()
def predict_logits(model: nn.Module, x, batch_size: int = 1000, device=None) -> torch.Tensor:
    """Logits (N, C) float32 on the CPU; eval mode, no autograd, batched.

    ``x``: a :class:`Split`, uint8 images (normalised here) or normalised float images.
    Runs in float32 (not bf16) on purpose: margins of ~50 in bf16 are quantised to 0.25 and
    they become the next boosting member's gaps.
    """
    norm = dict(mean=x.mean, std=x.std) if isinstance(x, Split) else {}
    if isinstance(x, Split):
        x = x.x
    device = default_device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = [model(to_input(x[i:i + batch_size], device, **norm)).float().cpu()
               for i in range(0, x.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


# ----------------------------------------------------------------------------- training

# torch.compile modes the trainer accepts (``compile=True`` means "default").  Only the model is
# compiled -- its forward, and through AOTAutograd its backward -- the augmentation (random numbers
# from an explicit generator), the loss (a few kernels on (N, C)) and the fused Adam step stay
# eager.  Every training batch has the same shape (the ragged last batch is dropped), so the modes
# that capture CUDA graphs ("reduce-overhead", "max-autotune") replay one graph per step; the
# evaluation passes (predict_logits) use the uncompiled model and may end in a partial batch.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def check_compile(compile) -> str | None:
    """``compile`` as a torch.compile mode name, or None for eager; a ValueError in one line otherwise.
    False/None: eager; True: "default"; a name of :data:`COMPILE_MODES`."""
    if compile is None or compile is False:
        return None
    if compile is True:
        return "default"
    if isinstance(compile, str) and compile in COMPILE_MODES:
        return compile
    raise ValueError(f"compile must be False/None (eager), True (= 'default') or one of {', '.join(COMPILE_MODES)}; "
                     f"got {compile!r}")


def _uses_cuda_graphs(mode: str | None, dev: torch.device) -> bool:
    return dev.type == "cuda" and mode in ("reduce-overhead", "max-autotune")


def _maybe_compile(model: nn.Module, mode: str | None):
    """torch.compile(model, mode) (None: the model itself); compiled once per architecture per process.

    Dynamo caches graphs by code object and treats parameters as inputs, so later units of the
    same architecture reuse the first unit's compiled graph instead of recompiling (the CUDA
    graphs of the capturing modes are re-recorded for the new parameters' addresses, which is cheap).
    ``dynamic=False``: the shapes never change within a training run.
    """
    return model if mode is None else torch.compile(model, mode=mode, dynamic=False)


def train(model: nn.Module, train_set: Split, *, recipe: str | dict = "authors", epochs: int | None = None,
          batch_size: int | None = None, gaps=None, device=None, seed: int = 0, progress: bool = True,
          compile: bool | str | None = False, precision: str | None = None, eval_set: Split | None = None,
          **overrides) -> dict:
    """Train ``model`` in place on ``train_set`` with the (possibly per-sample) discounted loss.

    gaps: None/float (one gap for all) or a (N,) tensor aligned with ``train_set``.
    precision: "bf16" (autocast; the loss and the gaps stay float32) or "fp32"; None = bf16 on
    CUDA, fp32 on CPU.  bf16 on a CPU is opt-in: it is fast only where the CPU has native bf16
    (AVX512-BF16 / AMX), and every committed ``cpu`` run is fp32.
    eval_set: if given, test accuracy is measured after each epoch (for epoch/accuracy curves).
    compile: False (default, eager), True or a torch.compile mode of :data:`COMPILE_MODES`, on any
    device; the same training up to floating-point reassociation (tests/test_train.py holds a
    tiny model's compiled losses to the eager ones), and the first call in a process pays the
    compilation (tens of seconds), which ``wall_time_s`` includes.
    Returns a record: recipe, epochs, batch size, steps, per-epoch mean loss, wall time, device, compile mode.
    """
    mode = check_compile(compile)
    hp = resolve_recipe(recipe, epochs=epochs, batch_size=batch_size, **overrides)
    if not isinstance(train_set, Split):
        raise ValueError(f"train_set must be a dboost.data.Split; got {type(train_set).__name__}")
    n = len(train_set)
    if n < 2:
        raise ValueError(f"need at least 2 training samples; got {n}")
    dev = default_device(device)
    if precision not in (None, "bf16", "fp32"):
        raise ValueError(f"precision must be 'bf16', 'fp32' or None (bf16 on CUDA, fp32 on CPU); got {precision!r}")
    # Validate labels and gaps once, here, so the hot loop has no device->host syncs.
    probe = torch.zeros(n, train_set.num_classes)
    g = check_inputs(probe, train_set.y, 0.0 if gaps is None else gaps)
    if isinstance(g, torch.Tensor) and g.dim() != 1:
        raise ValueError("train() takes a scalar or per-sample (N,) gap; (N, C) gap matrices go to the loss directly")

    torch.manual_seed(seed)  # dropout
    gen = torch.Generator(device=dev).manual_seed(seed) if dev.type == "cuda" else torch.Generator().manual_seed(seed)
    x_all = train_set.x.to(dev)            # uint8 stays uint8 on the device
    y_all = train_set.y.to(dev)
    g_all = g.to(dev, torch.float32) if isinstance(g, torch.Tensor) else g
    mean = torch.tensor(train_set.mean, device=dev).view(1, 3, 1, 1)  # the data set's own statistics
    std = torch.tensor(train_set.std, device=dev).view(1, 3, 1, 1)

    model.to(dev).to(memory_format=torch.channels_last).train()
    params = [p for p in model.parameters() if p.requires_grad]
    bs = min(hp["batch_size"], n)
    steps_per_epoch = n // bs  # drop the ragged last batch: BN on a tiny batch is noise
    total = hp["epochs"] * steps_per_epoch
    if not 0 < hp["pct_start"] < 1:
        raise ValueError(f"pct_start must lie in (0, 1); got {hp['pct_start']}")
    if total < 5 or hp["pct_start"] * total <= 1:  # OneCycleLR divides by its warm-up and cool-down lengths
        raise ValueError(f"{total} optimiser steps ({n} samples, batch {bs}, {hp['epochs']} epochs) are too few for a "
                         "one-cycle schedule; use >= 5 steps (more data or epochs, or a smaller batch)")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels once
    if hp["optimizer"] == "adam":
        # fused: one kernel for all parameters instead of several per tensor (CUDA only)
        opt = torch.optim.Adam(params, lr=hp["lr"], weight_decay=hp["weight_decay"], fused=dev.type == "cuda")
    else:
        opt = torch.optim.SGD(params, lr=hp["lr"], weight_decay=hp["weight_decay"], momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp["lr"], total_steps=total, pct_start=hp["pct_start"])
    fwd = _maybe_compile(model, mode)
    graphs = _uses_cuda_graphs(mode, dev)
    amp = (precision or ("bf16" if dev.type == "cuda" else "fp32")) == "bf16"

    record = dict(recipe=hp["name"], hp={k: v for k, v in hp.items() if k != "name"}, epochs=hp["epochs"],
                  precision="bf16" if amp else "fp32", batch_size=bs, steps=total, n_train=n, device=str(dev), compile=mode,
                  losses=[], eval_acc=[])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=hp["epochs"], desc=f"train {getattr(model, 'config', {}).get('arch', '')}", leave=False)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for epoch in range(hp["epochs"]):
        perm = torch.randperm(n, device=dev, generator=gen)
        loss_sum = torch.zeros((), device=dev)
        for s in range(steps_per_epoch):
            idx = perm[s * bs:(s + 1) * bs]
            xb = augment(x_all[idx], hp["crop_pad"], hp["flip"], gen, pad_mode=hp["pad_mode"], rotate_deg=hp["rotate_deg"])
            xb = ((xb.float() - mean) / std).contiguous(memory_format=torch.channels_last)
            yb = y_all[idx]
            gb = g_all[idx] if isinstance(g_all, torch.Tensor) else g_all   # same idx: gaps stay aligned
            if graphs:  # a new iteration: the graph's output buffers of the last step may be reused
                torch.compiler.cudagraph_mark_step_begin()
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                logits = fwd(xb)
            loss = discounted_cross_entropy(logits, yb, gb, "mean", hp["label_smoothing"], check=False)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach()
        record["losses"].append(float(loss_sum) / steps_per_epoch)  # one sync per epoch
        if eval_set is not None:
            acc = (predict_logits(model, eval_set.x, device=dev).argmax(1) == eval_set.y).float().mean()
            record["eval_acc"].append(float(acc))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{record['losses'][-1]:.4f}")
    if dev.type == "cuda":
        torch.cuda.synchronize()
    record["wall_time_s"] = time.perf_counter() - t0
    record["images_per_s"] = total * bs / max(record["wall_time_s"], 1e-9)
    if bar is not None:
        bar.close()
    model.eval()
    return record
