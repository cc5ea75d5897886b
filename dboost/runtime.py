"""Where and how a training runs, checked before any work: the device, the CPU thread count, the
torch.compile mode, and the seeds every generator is given."""
from __future__ import annotations

import contextlib
import os

import numpy as np
import torch
import torch.nn as nn


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
