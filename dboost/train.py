"""Training: the loop (:func:`train`) and inference (:func:`predict_logits`).

The recipes' hyper-parameters live in :mod:`dboost.recipes`, the data path (normalisation,
augmentation) in :mod:`dboost.augmentation`, the device, thread and compile checks in
:mod:`dboost.runtime`.

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
    :data:`dboost.runtime.COMPILE_MODES`), off by default on every device;
  * opt-in ``checkpoint=``: the whole loop state (weights, optimiser, schedule, both random
    generators, the record so far) is saved atomically at epoch ends, at most every
    ``checkpoint_every_s`` seconds, and a later call with the same path resumes from it -- on the
    same machine and thread count, bit for bit as if it had never stopped (tests/test_train.py).
    Why: a unit of the ``interp`` profile is 35-50 min on a 2-core CPU without native bf16, and a
    session that ends hard (or ``kill -9``) used to lose the unit in flight.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import torch
import torch.nn as nn

from .augmentation import augment, to_input
from .data import Split
from .loss import check_inputs, discounted_cross_entropy
from .recipes import resolve_recipe
from .runtime import _maybe_compile, _uses_cuda_graphs, check_compile, default_device


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


# ----------------------------------------------------------------------------- resumable state

def _fingerprint(hp: dict, n: int, bs: int, total: int, amp: bool, seed: int, gaps, model: nn.Module) -> str:
    """What a checkpoint must match to be resumed: the recipe, the data size, the schedule, the
    seed, the gaps and the parameter shapes (a checkpoint of another training is refused, not mixed in)."""
    h = hashlib.sha1(repr((sorted(hp.items()), n, bs, total, amp, seed,
                           [(k, tuple(v.shape)) for k, v in model.state_dict().items()])).encode())
    if isinstance(gaps, torch.Tensor):
        h.update(gaps.detach().cpu().to(torch.float32).contiguous().numpy().tobytes())
    else:
        h.update(repr(float(gaps)).encode())
    return h.hexdigest()


def _save_checkpoint(path: Path, state: dict) -> None:
    """Atomically (a crash leaves the previous checkpoint whole): loaded with weights_only=True."""
    from .results import atomic_write_bytes
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load_checkpoint(path: Path, fingerprint: str) -> dict | None:
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != fingerprint:
        raise ValueError(f"checkpoint {path} belongs to another training (different recipe, data, seed, gaps or "
                         "model); delete it to start this one afresh")
    return state


def _machine(dev: torch.device) -> str:
    """What a segment of a training ran on, as the rows' env names it (CPU: with its thread count)."""
    from .results import environment
    e = environment(str(dev))
    return e["hardware"] if dev.type == "cuda" else f"{e['hardware']}, {e['cpu_threads']} thread(s)"


# ----------------------------------------------------------------------------- training

def train(model: nn.Module, train_set: Split, *, recipe: str | dict = "authors", epochs: int | None = None,
          batch_size: int | None = None, gaps=None, device=None, seed: int = 0, progress: bool = True,
          compile: bool | str | None = False, precision: str | None = None, eval_set: Split | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every_s: float = 120.0, **overrides) -> dict:
    """Train ``model`` in place on ``train_set`` with the (possibly per-sample) discounted loss.

    gaps: None/float (one gap for all) or a (N,) tensor aligned with ``train_set``.
    precision: "bf16" (autocast; the loss and the gaps stay float32) or "fp32"; None = bf16 on
    CUDA, fp32 on CPU.  bf16 on a CPU is opt-in: it is fast only where the CPU has native bf16
    (AVX512-BF16 / AMX), and every committed ``cpu`` run is fp32.
    eval_set: if given, test accuracy is measured after each epoch (for epoch/accuracy curves).
    compile: False (default, eager), True or a torch.compile mode of
    :data:`dboost.runtime.COMPILE_MODES`, on any
    device; the same training up to floating-point reassociation (tests/test_train.py holds a
    tiny model's compiled losses to the eager ones), and the first call in a process pays the
    compilation (tens of seconds), which ``wall_time_s`` includes.
    checkpoint: a file to save the loop's state to (at epoch ends, at most every
    ``checkpoint_every_s`` s, and after the last epoch) and to resume from if it exists; the
    caller deletes it once the result is stored.  A resumed record lists its ``segments`` (epochs,
    wall time and machine of each run) and ``wall_time_s`` is their sum.
    Returns a record: recipe, epochs, batch size, steps, per-epoch mean loss, wall time, device,
    compile mode, segments.
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
                  losses=[], eval_acc=[], segments=[])
    ckpt = Path(checkpoint) if checkpoint is not None else None
    fp = _fingerprint(hp, n, bs, total, amp, seed, g, model) if ckpt is not None else None
    start = 0
    resumed = _load_checkpoint(ckpt, fp) if ckpt is not None else None
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        opt.load_state_dict(resumed["optimizer"])
        sched.load_state_dict(resumed["scheduler"])
        gen.set_state(resumed["generator"])
        torch.set_rng_state(resumed["torch_rng"])
        start = int(resumed["epoch"])
        record.update(losses=list(resumed["losses"]), eval_acc=list(resumed["eval_acc"]),
                      segments=list(resumed["segments"]))
    here = dict(machine=_machine(dev), from_epoch=start, to_epoch=start, wall_s=0.0)
    if start < hp["epochs"]:  # a checkpoint of the finished loop adds no segment
        record["segments"].append(here)

    def save(epoch: int) -> None:
        here.update(to_epoch=epoch, wall_s=time.perf_counter() - t0)
        _save_checkpoint(ckpt, dict(fingerprint=fp, epoch=epoch, model=model.state_dict(), optimizer=opt.state_dict(),
                                    scheduler=sched.state_dict(), generator=gen.get_state(),
                                    torch_rng=torch.get_rng_state(), losses=record["losses"],
                                    eval_acc=record["eval_acc"], segments=record["segments"]))

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=hp["epochs"], initial=start, desc=f"train {getattr(model, 'config', {}).get('arch', '')}",
                   leave=False)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = last_save = time.perf_counter()
    for epoch in range(start, hp["epochs"]):
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
        if ckpt is not None and epoch + 1 < hp["epochs"] and time.perf_counter() - last_save >= checkpoint_every_s:
            save(epoch + 1)
            last_save = time.perf_counter()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    here.update(to_epoch=hp["epochs"], wall_s=time.perf_counter() - t0)
    if ckpt is not None and start < hp["epochs"]:
        save(hp["epochs"])  # a crash while measuring the result resumes here, not from the last periodic save
    record["wall_time_s"] = sum(seg["wall_s"] for seg in record["segments"])
    record["images_per_s"] = total * bs / max(record["wall_time_s"], 1e-9)
    if bar is not None:
        bar.close()
    model.eval()
    return record
