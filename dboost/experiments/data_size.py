"""The data-size study (issue 19): gap 0 against gap m0 at several training-set sizes, each fitted.

Tasks of the scheduler protocol (:mod:`.schedule`): one per (size, seed, head), the pair gap 0,
gap m0 at the length that the size's probe (a loop of yields on the first seed) chose.  Every
task of a size starts with that same probe -- answered from the store once it has run -- so a
pair whose gap-0 net is stored goes on to its gap-m0 net in the same round as the others' gap-0
nets, however a resumed run left them.
"""
from __future__ import annotations

import math

from ..runtime import check_seeds
from .configure import Config, _steps
from .schedule import drive, gap0, pair, slug


def size_epochs(n: int, steps: int, batch_size: int) -> int:
    """Epochs of ``n`` images in batches of ``batch_size`` that give at least ``steps`` optimiser steps."""
    return max(1, math.ceil(steps / (n // min(batch_size, n))))


def check(p: dict, profile: str) -> None:
    sizes, steps = p["sizes"], p["size_steps"]
    if not sizes or any(isinstance(n, bool) or int(n) != n or n < 2 for n in sizes) or list(sizes) != sorted(set(sizes)):
        raise ValueError(f"sizes must be increasing ints >= 2 (training-set sizes); got {sizes!r}")
    if not steps or len(steps) != len(sizes) or any(int(k) != k or k < 1 for k in steps):
        raise ValueError(f"size_steps must give positive optimiser steps for each of the {len(sizes)} sizes; "
                         f"got {steps!r}")
    check_seeds(p["size_seeds"], "size_seeds")
    if p["resample_seeds"]:
        check_seeds(p["resample_seeds"], "resample_seeds")
    labels = [h[0] for h in p["heads"]]
    bad = [h for h in (*p["size_heads"], *p["resample_heads"]) if h not in labels]
    if bad or not p["size_heads"]:
        raise ValueError(f"size_heads / resample_heads {bad or '(empty)'} must be heads of profile {profile!r}; "
                         f"heads: {', '.join(labels)}")
    if p["resample_n"] is not None and p["resample_n"] not in sizes:
        raise ValueError(f"resample_n {p['resample_n']!r} must be one of sizes {tuple(sizes)}")
    if int(p["size_max_doublings"]) != p["size_max_doublings"] or not 0 <= p["size_max_doublings"] <= 6:
        raise ValueError(f"size_max_doublings must be an int in [0, 6]; got {p['size_max_doublings']!r}")


def max_n_train(p: dict) -> int:
    """The largest training set a unit of this experiment draws from (synthetic data is made that large)."""
    return max(p["sizes"] or (0,))


def check_data(p: dict, profile: str, full_train, pct_start: float) -> None:
    """Every size fits in the data set and gets steps enough for a one-cycle schedule."""
    for n, st in zip(p["sizes"], p["size_steps"]):
        if n > len(full_train):
            raise ValueError(f"profile {profile!r} asks for a training-set size of {n:,}; the data set has "
                             f"{len(full_train):,}")
        e = size_epochs(n, st, p["batch_size"])
        if pct_start * _steps(n, p["batch_size"], e) <= 1:
            raise ValueError(f"size {n}: {st} steps are too few for a one-cycle schedule")


def run(cfg: Config) -> None:
    """Gap 0 vs gap m0 at several training-set sizes, in the interpolating regime (issue 19).

    Seed s trains on the class-balanced subset drawn with seed s (nested: a seed's 1k images are
    the first half of its 2k), so the intervals include data-sampling variance.  The length of a
    size is chosen on the first seed: its ``size_steps`` steps, doubled (up to
    ``size_max_doublings`` times) until that seed's gap-0 net reaches ``size_fit`` train accuracy;
    the other seeds train that long (their own train accuracy is in their rows).  Sizes run in
    the order given (smallest first), so a partial run already draws the figure.  At
    ``resample_n`` the seeds are ``resample_seeds`` and ``resample_heads`` are added: claim 1 and
    claim 3 with resampled subsets, beside the fixed-subset rows of the other experiments.
    """
    p = cfg.p
    heads = {h[0]: h for h in p["heads"]}

    def at(n, label, s, ep):
        """The pair's row prefix, labels and unit keywords: head ``label``, seed ``s``, size ``n``, ``ep`` epochs."""
        _, bkw, tkw = heads[label]
        labels = dict(head_label=label, size=int(n), subset_seed=int(s), size_epochs=int(ep),
                      size_steps=int(_steps(n, p["batch_size"], ep)))
        return f"size{n}_{slug(label)}_ep{ep}", labels, dict(build_kw=bkw, train_kw=tkw, epochs=ep, n_train=n,
                                                              subset_seed=s)

    def probe(n, steps):
        """The length of size n, on the first seed and head: doubled until its gap-0 net fits."""
        s0, head0 = p["size_seeds"][0], p["size_heads"][0]
        for d in range(int(p["size_max_doublings"]) + 1):
            ep = size_epochs(n, steps * 2 ** d, p["batch_size"])
            prefix, labels, kw = at(n, head0, s0, ep)
            base, = yield [gap0(prefix, s0, labels, **kw)]
            if base["train_acc"] >= p["size_fit"]:
                break
        return ep

    def size_pair(n, steps, s, label):
        ep = yield from probe(n, steps)
        prefix, labels, kw = at(n, label, s, ep)
        yield from pair(prefix, s, labels, **kw)

    tasks = []
    for n, steps in zip(p["sizes"], p["size_steps"]):
        seeds = sorted(set(p["size_seeds"]) | (set(p["resample_seeds"]) if n == p["resample_n"] else set()))
        labels = list(dict.fromkeys([*p["size_heads"], *(p["resample_heads"] if n == p["resample_n"] else ())]))
        tasks += [size_pair(n, steps, s, label) for s in seeds for label in labels]
    drive(cfg, tasks)
