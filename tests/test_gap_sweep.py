"""The gap sweep (dboost.experiments.gap_sweep): the adaptive grid of gap multiples of m0, which
widens while its top point is best and fills in the best point's neighbours.

The scheduler's ``obtain_unit`` is replaced by a stand-in whose accuracy is a given function of
the gap multiple, so the grid's decisions are checked and nothing trains.
"""
import pytest

from dboost import experiments
from dboost.results import Store


def _rows(root, experiment: str) -> dict:
    return {r["key"]: r for r in Store("smoke", experiment, root).rows()}


M0 = {0: 2.0, 1: 4.0}  # train mean margin of each seed's gap-0 net (powers of 2: gap / m0 is exact)


def _fake_obtain_unit(acc_of_mult, calls):
    def fake(cfg, spec, stored):
        seed, gap = spec.config["seed"], spec.gaps
        mult = float(gap) / M0[seed]
        calls.append((seed, mult))
        row = dict(unit=f"fake_s{seed}_x{mult:g}", seed=seed, gap=float(gap), train_mean_margin=M0[seed],
                   test=dict(acc=acc_of_mult(mult)))
        return row, None
    return fake


def _adaptive(runs, monkeypatch, acc_of_mult, **kw):
    calls: list = []
    monkeypatch.setattr(experiments.schedule, "obtain_unit", _fake_obtain_unit(acc_of_mult, calls))
    # smoke's `seeds` (the grid's seed list) is already (0,); configure's own `seeds=` argument is
    # not that setting: it would set all four seed lists, claim_seeds included.
    cfg = experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, grid="adaptive",
                                claim_seeds=(0, 1), **kw)
    assert cfg.p["seeds"] == (0,) and cfg.p["claim_seeds"] == (0, 1)
    experiments.run(cfg)
    keys = {p.stem for p in (runs / "smoke/gap_sweep/rows").glob("*.json")}
    assert not (runs / "smoke/units").exists()  # the fake trains nothing
    assert len(calls) == len(set(calls)) == len(keys)  # each point fitted once
    rows = _rows(runs, "gap_sweep")
    for k, r in rows.items():  # every grid point's gap is its multiple of *its own seed's* m0
        if "gapm0x" in k:
            assert r["gap"] == r["gap_mult"] * M0[r["seed"]] and r["m0"] == M0[r["seed"]]
    return keys


def _pair(s):
    return {f"sweep_seed{s}_gap0", f"sweep_seed{s}_gapm0"}


def test_adaptive_grid_extends_while_the_top_is_best(runs, monkeypatch):
    keys = _adaptive(runs, monkeypatch, lambda k: 0.5 + 0.01 * k, gap_mults=(0.5, 2.0), gap_mult_max=8.0)
    s0 = _pair(0) | {f"sweep_seed0_gapm0x{k}" for k in ("0.5", "2", "4", "8")}  # doubled to 8, not 16
    # best (the top) and its one neighbour; m0's neighbours 0.5 and 2 (claim 2b's cells)
    s1 = _pair(1) | {"sweep_seed1_gapm0x4", "sweep_seed1_gapm0x8", "sweep_seed1_gapm0x0.5", "sweep_seed1_gapm0x2"}
    assert keys == s0 | s1


def test_adaptive_grid_interior_peak_is_not_extended(runs, monkeypatch):
    keys = _adaptive(runs, monkeypatch, lambda k: 0.9 - 0.01 * abs(k - 2.0), gap_mults=(0.5, 2.0, 4.0),
                     gap_mult_max=64.0)
    s0 = _pair(0) | {f"sweep_seed0_gapm0x{k}" for k in ("0.5", "2", "4")}
    # 1 (= the pair's m0), 2 and 4 around the best; 0.5 and 2 around m0
    s1 = _pair(1) | {"sweep_seed1_gapm0x2", "sweep_seed1_gapm0x4", "sweep_seed1_gapm0x0.5"}
    assert keys == s0 | s1


@pytest.mark.parametrize("peak,extra", [(0.0, {"sweep_seed1_gapm0x0.25"}),
                                        (0.25, {"sweep_seed1_gapm0x0.25"})],
                         ids=["peak_at_gap0", "peak_at_first_multiple"])
def test_adaptive_grid_peak_at_the_low_end(runs, monkeypatch, peak, extra):
    # the interp profile's grid; gap 0 is the grid's first point, its only neighbour is 0.25
    keys = _adaptive(runs, monkeypatch, lambda k: 0.9 - 0.01 * abs(k - peak), gap_mults=(0.25, 0.5, 2.0, 4.0),
                     gap_mult_max=64.0)
    s0 = _pair(0) | {f"sweep_seed0_gapm0x{k}" for k in ("0.25", "0.5", "2", "4")}
    # m0's neighbours 0.5 and 2 on every seed (claim 2b's cells), whatever the peak
    assert keys == s0 | _pair(1) | extra | {"sweep_seed1_gapm0x0.5", "sweep_seed1_gapm0x2"}


def test_adaptive_grid_without_gap_mults_is_refused_before_compute(runs):
    with pytest.raises(ValueError):
        experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, grid="adaptive",
                              gap_mults=None, gap_abs=(1.0, 10.0))
    assert not runs.exists()
