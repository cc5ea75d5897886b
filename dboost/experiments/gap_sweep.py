"""Claims 1 and 2: gap m0 against gap 0 on every claim seed, and a grid of gaps around m0.

Written as tasks of the scheduler protocol (:mod:`.schedule`): each yields the rows it needs and
receives them.
"""
from __future__ import annotations

from .configure import Config
from .schedule import Fit, drive, gap0, gapm0, pair


def run(cfg: Config) -> None:
    """The claim (gap = m0 beats gap 0) on claim_seeds, and a grid of gaps.

    grid "full": every point of gap_mults (or gap_abs) on every seed of ``seeds``.
    grid "adaptive": the grid on the first seed; while its best point (test accuracy) is the top
    of the grid, the top is doubled (up to gap_mult_max), so the optimum ends up bracketed on both
    sides (gap 0 is always the lower end); then the best point and its two neighbours, and m0's two
    neighbours, are trained on every claim seed, so the book can give the optimum's position
    relative to m0 with a spread, and claim 2b (m0 against each neighbour) has every seed.
    """
    p = cfg.p
    mw = dict(min_width_n=p["min_width_n"])
    claims = [pair("sweep", s, **mw) for s in p["claim_seeds"]]
    if p["grid"] == "full":
        drive(cfg, [*claims, *(_full_grid(p, s, mw) for s in p["seeds"])])
    else:
        drive(cfg, [*claims, _adaptive_grid(p, mw)])


def _point(s: int, k: float, base: dict, mw: dict) -> Fit:
    """Gap k x m0 on seed s (k = 0 and 1: the pair's own rows)."""
    if k == 0:
        return gap0("sweep", s, **mw)
    if k == 1:
        return gapm0("sweep", s, base, **mw)
    m0 = base["train_mean_margin"]
    return Fit(f"sweep_seed{s}_gapm0x{k:g}", dict(mw, seed=s, gap=float(k * max(m0, 0.0)),
                                                   extra=dict(gap_label=f"m0x{k:g}", gap_mult=float(k), m0=m0,
                                                              variant="sweep")))


def _full_grid(p, s: int, mw: dict):
    base, = yield [gap0("sweep", s, **mw)]
    m0 = base["train_mean_margin"]
    grid = [(f"m0x{k:g}", k * m0) for k in p["gap_mults"] if k != 1.0] if p["gap_mults"] else \
           [(f"g{g:.3g}", g) for g in p["gap_abs"]]
    yield [Fit(f"sweep_seed{s}_gap{label}", dict(mw, seed=s, gap=float(g), extra=dict(gap_label=label, m0=m0,
                                                                                       variant="sweep")))
           for label, g in grid]


def _adaptive_grid(p, mw: dict):
    s0 = p["seeds"][0]
    base, = yield [gap0("sweep", s0, **mw)]
    mults = sorted({0.0, 1.0, *map(float, p["gap_mults"])})
    rows = dict(zip(mults, (yield [_point(s0, k, base, mw) for k in mults])))

    def best():
        return max(rows, key=lambda k: rows[k]["test"]["acc"])
    while best() == mults[-1] and 2 * mults[-1] <= p["gap_mult_max"]:
        mults.append(2 * mults[-1])
        rows[mults[-1]], = yield [_point(s0, mults[-1], base, mw)]
    i = mults.index(best())
    # on every claim seed: the best point and its two neighbours (claim 2 locates the optimum on them),
    # and m0's two neighbours (claim 2b compares m0 with each, so each needs every seed too)
    j = mults.index(1.0)
    ks = sorted({*mults[max(i - 1, 0): i + 2], *mults[max(j - 1, 0): j + 2]})
    bases = yield [gap0("sweep", s, **mw) for s in p["claim_seeds"]]
    yield [_point(s, k, b, mw) for s, b in zip(p["claim_seeds"], bases) for k in ks]
