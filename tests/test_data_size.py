"""The data-size study (dboost.experiments.data_size): validation before any work, each seed on its
own nested subset, units shared with the other experiments where the configuration is the same,
and the length probe that doubles the steps until the first seed's gap-0 net fits."""
import pytest

from dboost import experiments as E


@pytest.mark.parametrize("over, msg", [
    (dict(sizes=(250, 100)), "increasing"),
    (dict(size_steps=(20, 20)), "size_steps"),
    (dict(size_heads=("no such head",)), "size_heads"),
    (dict(resample_n=333), "resample_n"),
    (dict(size_steps=(20, 20, 0)), "size_steps"),
    (dict(size_seeds=(0, -1)), "size_seeds"),
])
def test_bad_settings_are_refused_before_any_work(over, msg, tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path))
    with pytest.raises(ValueError, match=msg):
        E.configure("data_size", "smoke", progress=False, **over)
    assert not any(tmp_path.iterdir())


def test_size_epochs_give_at_least_the_steps():
    assert E.size_epochs(2000, 3000, 100) == 150
    assert E.size_epochs(1000, 2000, 100) == 200
    assert E.size_epochs(5000, 5000, 100) == 100
    assert E.size_epochs(300, 7, 100) == 3  # 3 steps an epoch -> 9 >= 7


@pytest.mark.slow
def test_seeds_draw_their_own_nested_subsets_and_share_units(tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path))
    cfg = E.configure("data_size", "smoke", progress=False)
    E.run(cfg)
    rows = cfg.store.rows()
    units = {r["unit"]: r for r in cfg.units.rows()}
    got = {(r["size"], r["head_label"], r["seed"]) for r in rows}
    for n in (100, 250, 500):
        for s in (0, 1):
            assert (n, "freeze_last x10", s) in got
    assert {(250, "Linear", s) for s in (0, 1, 2)} <= got  # resample_heads at resample_n
    for r in rows:
        c = units[r["unit"]]["config"]
        assert c["n_train"] == r["size"] == r["n_train"] and c["subset_seed"] == r["seed"]
    # seed s's subset of 100 is the first 100 of its 250 (a prefix of one class-balanced draw)
    a, b = cfg.full_train.subset(100, seed=1), cfg.full_train.subset(250, seed=1)
    assert set(a.x.flatten(1).sum(1).tolist()) <= set(b.x.flatten(1).sum(1).tolist())
    # size 500 = the profile's own subset and length on seed 0: the gap sweep's gap-0 unit
    sw = E.configure("gap_sweep", "smoke", progress=False)
    E.run(sw)
    base = sw.store.get("sweep_seed0_gap0")
    assert cfg.store.get("size500_freeze_lastx10_ep2_seed0_gap0")["unit"] == base["unit"]


@pytest.mark.slow
def test_length_probe_doubles_until_the_first_seed_fits(tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path))
    cfg = E.configure("data_size", "smoke", progress=False, sizes=(100,), size_steps=(10,), size_seeds=(0,),
                      size_fit=1.01, size_max_doublings=1, resample_n=None)  # never fits: both lengths tried
    E.run(cfg)
    keys = sorted(r["key"] for r in cfg.store.rows())
    assert keys == ["size100_freeze_lastx10_ep10_seed0_gap0", "size100_freeze_lastx10_ep10_seed0_gapm0",
                    "size100_freeze_lastx10_ep5_seed0_gap0"]
