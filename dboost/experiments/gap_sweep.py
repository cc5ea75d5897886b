"""Claims 1 and 2: gap m0 against gap 0 on every claim seed, and a grid of gaps around m0."""
from __future__ import annotations

from .configure import Config
from .units import _gap_pair, fit_one


def run(cfg: Config) -> None:
    """The claim (gap = m0 beats gap 0) on claim_seeds, and a grid of gaps.

    grid "full": every point of gap_mults (or gap_abs) on every seed of ``seeds``.
    grid "adaptive": the grid on the first seed; while its best point (test accuracy) is the top
    of the grid, the top is doubled (up to gap_mult_max), so the optimum ends up bracketed on both
    sides (gap 0 is always the lower end); then the best point and its two neighbours are trained
    on every claim seed, so the book can give the optimum's position relative to m0 with a spread.
    """
    p = cfg.p
    mw = dict(min_width_n=p["min_width_n"])
    for s in p["claim_seeds"]:
        _gap_pair(cfg, "sweep", s, **mw)

    def point(s, k):  # the row of gap k x m0 on seed s (None while collecting units still to train)
        base, disc = _gap_pair(cfg, "sweep", s, **mw)
        if k in (0, 1) or base is None:
            return base if k == 0 else disc
        m0 = base["train_mean_margin"]
        return fit_one(cfg, f"sweep_seed{s}_gapm0x{k:g}", seed=s, gap=float(k * max(m0, 0.0)), **mw,
                       extra=dict(gap_label=f"m0x{k:g}", gap_mult=float(k), m0=m0, variant="sweep"))

    if p["grid"] == "full":
        for s in p["seeds"]:
            base, _ = _gap_pair(cfg, "sweep", s, **mw)
            if base is None:
                continue
            m0 = base["train_mean_margin"]
            grid = [(f"m0x{k:g}", k * m0) for k in p["gap_mults"] if k != 1.0] if p["gap_mults"] else \
                   [(f"g{g:.3g}", g) for g in p["gap_abs"]]
            for label, g in grid:
                fit_one(cfg, f"sweep_seed{s}_gap{label}", seed=s, gap=float(g), min_width_n=p["min_width_n"],
                        extra=dict(gap_label=label, m0=m0, variant="sweep"))
        return
    s0 = p["seeds"][0]
    _gap_pair(cfg, "sweep", s0, **mw)
    mults = sorted({0.0, 1.0, *map(float, p["gap_mults"])})
    rows = {k: point(s0, k) for k in mults}
    while None not in rows.values() and max(rows, key=lambda k: rows[k]["test"]["acc"]) == mults[-1] \
            and 2 * mults[-1] <= p["gap_mult_max"]:
        mults.append(2 * mults[-1])
        rows[mults[-1]] = point(s0, mults[-1])
    if None in rows.values():
        return  # collecting: the rest of the grid depends on the points still to train
    i = mults.index(max(rows, key=lambda k: rows[k]["test"]["acc"]))
    for s in p["claim_seeds"]:
        for k in mults[max(i - 1, 0): i + 2]:
            point(s, k)
