"""configure (dboost.experiments.configure): every setting of a run validated, with one clear
error, before anything is trained or written."""
import pytest

from dboost import experiments
from refusals import listing


@pytest.mark.parametrize("kw,msg", [
    (dict(seeds="12"), 'seeds: \\[1, 2\\]'),  # a string where a list belongs (it would iterate as "1", "2")
    (dict(seeds=1.5), "float"),
    (dict(seeds=True), "bool"),
    (dict(seeds=[0, "1"]), "str"),
    (dict(device="tpu"), "tpu"),
    (dict(device=0), "string"),
    (dict(data_root=5), "data_root"),
    (dict(profile=["smoke"]), "unknown profile"),
])
def test_configure_checks_the_types_of_its_settings(world, kw, msg):
    """Types are checked, not coerced: each setting of a wrong type is one clear error, nothing written."""
    runs, res = world
    before = listing(runs)
    kw = dict(dict(profile="smoke"), **kw)
    with pytest.raises(ValueError, match=msg):
        experiments.configure("gap_sweep", progress=False, **kw)
    assert listing(runs) == before


def test_the_device_is_checked_even_when_every_row_exists(world):
    """A bad device is refused even where nothing is left to train (every smoke row is stored)."""
    with pytest.raises(ValueError, match="tpu"):
        experiments.configure("gap_sweep", "smoke", device="tpu", progress=False)
    assert experiments.configure("gap_sweep", "smoke", device="cpu", progress=False).device == "cpu"


@pytest.mark.parametrize("kw", [dict(epochs=-1), dict(width=0), dict(n_train=-5), dict(members=0), dict(bogus=1)])
def test_configure_refuses_bad_sizes(runs, kw):
    with pytest.raises(ValueError):
        experiments.configure("gap_sweep", profile="smoke", **kw)
    assert not runs.exists()


@pytest.mark.parametrize("experiment,profile,kw,msg", [
    ("training_length", "cpu", {}, "not part of profile"),
    ("training_length", "smoke", dict(lengths=()), "lengths"),
    ("training_length", "smoke", dict(lengths=None), "lengths"),
    ("training_length", "smoke", dict(lengths=(2, 1.5)), "lengths"),
    ("training_length", "smoke", dict(lengths=(2, 0)), "lengths"),
    ("training_length", "smoke", dict(length_heads=("freeze_last x10", "freeze_last x3")), "length_heads"),
    # 200 samples in batches of 50: 4 steps per epoch, so 1 epoch is too few (8 are fine)
    ("training_length", "smoke", dict(n_train=200, lengths=(8, 1)), "too few"),
    ("gap_sweep", "smoke", dict(n_train=200, epochs=1), "too few"),
    ("gap_sweep", "smoke", dict(grid="coarse"), "grid"),
    ("gap_sweep", "smoke", dict(precision="fp16"), "precision"),
    ("gap_sweep", "smoke", dict(split="test"), "split"),
    ("gap_sweep", "smoke", dict(compile="fastest"), "compile must be"),
])
def test_configure_refuses_before_any_write(runs, experiment, profile, kw, msg):
    with pytest.raises(ValueError, match=msg):
        experiments.configure(experiment, profile, device="cpu", progress=False, **kw)
    assert not runs.exists()


def test_configure_accepts_the_training_length_study(runs):
    cfg = experiments.configure("training_length", "smoke", device="cpu", progress=False, n_train=200, lengths=(8, 2))
    assert cfg.p["lengths"] == (8, 2) and not runs.exists()
