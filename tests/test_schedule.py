"""The scheduler protocol (dboost.experiments.schedule): tasks yield batches of ``Fit`` requests and
``drive`` answers them -- training what is missing in this process, or, in a run's rounds
(``cfg.collect``), collecting what is missing for the executor and stopping the task there.

The smoke profile on tiny synthetic data, with ``experiments.units.train`` replaced by a stand-in
that records its calls and trains nothing (a unit is still built, evaluated and stored).
"""
import pytest

from dboost import experiments
from dboost.experiments.schedule import Fit, drive, gap0
from dboost.experiments.units import store_unit, unit_spec

SMALL = dict(n_train=200, n_test=100, batch_size=25)


@pytest.fixture
def trained(runs, monkeypatch, one_thread):
    """The (seed, gap) of every unit "trained" from here on."""
    calls = []

    def fake_train(model, train_set, *, seed, gaps, **kw):
        calls.append((seed, float(gaps)))
        return dict(wall_time_s=0.0, losses=[1.0], images_per_s=0.0, steps=1, precision="fp32", compile=False,
                    segments=[])
    monkeypatch.setattr(experiments.units, "train", fake_train)
    return calls


def _cfg():
    return experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, **SMALL)


def _recording(batches, answers, closed):
    """A task that yields ``batches`` in turn, keeping what it is answered, and notes its closing."""
    try:
        for b in batches:
            answers.append((yield b))
    finally:
        closed.append(True)


def _unit(seed, gap=0.0):
    return Fit(None, dict(seed=seed, gap=gap))


def test_in_process_drive_trains_only_the_units_not_stored(trained):
    cfg = _cfg()
    drive(cfg, [_recording([[gap0("t", 0)]], [], [])])  # stores seed 0's gap-0 unit (and row t_seed0_gap0)
    assert trained == [(0, 0.0)]
    trained.clear()
    answers, closed = [], []
    # one batch of which the first two units are stored (one as a new experiment row, one asked for
    # alone) and two are not (one with its outputs)
    batch = [Fit("b_seed0", dict(seed=0, gap=0.0, extra=dict(label="b"))), _unit(0),
             Fit("b_seed1", dict(seed=1, gap=0.0)), Fit(None, dict(seed=2, gap=0.5), need_outputs=True)]
    drive(cfg, [_recording([batch], answers, closed)])
    assert trained == [(1, 0.0), (2, 0.5)]  # the missing ones, in the batch's order
    (rows,) = answers
    assert closed == [True] and len(rows) == 4
    assert rows[0]["unit"] == rows[1]["unit"] == unit_spec(cfg, seed=0).key
    assert rows[0]["label"] == "b" and cfg.store.get("b_seed0")["unit"] == rows[0]["unit"]  # the new experiment row
    assert rows[1] == cfg.units.get(rows[1]["unit"])  # a unit alone: its unit row, no experiment row
    assert rows[2]["unit"] == unit_spec(cfg, seed=1).key and cfg.store.has("b_seed1")
    row, out = rows[3]  # with its outputs: the unit's train margins, one per training image
    assert row["unit"] == unit_spec(cfg, seed=2, gap=0.5).key and out["train_margins"].shape == (SMALL["n_train"],)
    assert sorted(p.stem for p in cfg.store.rows_dir.glob("*.json")) == ["b_seed0", "b_seed1", "t_seed0_gap0"]
    trained.clear()
    drive(cfg, [_recording([batch], [], [])])  # everything is stored now: nothing trains
    assert trained == []


def _no_training(*a, **k):
    pytest.fail("a unit was trained while collecting")


def test_collecting_drive_collects_the_missing_units_and_stops_the_task_for_the_round(trained, monkeypatch):
    cfg = _cfg()
    drive(cfg, [_recording([[gap0("t", 0)]], [], [])])
    fake_train = experiments.units.train
    monkeypatch.setattr(experiments.units, "train", _no_training)
    try:
        cfg.collect = {}
        first, later = [gap0("t", 0), gap0("t", 1), _unit(2)], [_unit(3)]
        answers, closed = [], []
        done, done_closed = [], []
        drive(cfg, [_recording([first, later], answers, closed),
                    _recording([[gap0("t", 0)]], done, done_closed)])  # all stored: this task runs to its end
        want = {unit_spec(cfg, seed=s).key for s in (1, 2)}
        assert set(cfg.collect) == want and all(cfg.collect[k].key == k for k in want)
        assert answers == [] and closed == [True]  # stopped before its later batch; nothing of seed 3 asked
        assert len(done) == 1 and done[0][0]["unit"] == unit_spec(cfg, seed=0).key and done_closed == [True]
        # an executor trains the collected units and the driver stores them; the next round replays
        # the task: its first batch is answered from the store, its later batch collected
        monkeypatch.setattr(experiments.units, "train", fake_train)
        for spec in cfg.collect.values():
            store_unit(cfg.units, *experiments.units.measure_unit(cfg, spec))
        monkeypatch.setattr(experiments.units, "train", _no_training)
        cfg.collect, answers, closed = {}, [], []
        drive(cfg, [_recording([first, later], answers, closed)])
        assert set(cfg.collect) == {unit_spec(cfg, seed=3).key}
        assert len(answers) == 1 and [r["unit"] for r in answers[0]] == [unit_spec(cfg, seed=s).key for s in (0, 1, 2)]
        assert closed == [True]
    finally:
        cfg.collect = None


def test_collecting_drive_collects_a_stored_unit_whose_outputs_are_asked_for_and_gone(trained):
    """A unit counts as stored only with what the request needs: a boosting member's outputs are
    its cache or its committed outputs; with neither, it is collected (to be retrained)."""
    cfg = _cfg()
    drive(cfg, [_recording([[_unit(0)]], [], [])])
    key = unit_spec(cfg, seed=0).key
    (cfg.units.cache_dir / f"{key}.pt").unlink()
    (cfg.units.outputs_dir / f"{key}.npz").unlink()
    cfg.collect = {}
    try:
        drive(cfg, [_recording([[_unit(0)]], [], [])])  # the row alone is stored: answered
        assert cfg.collect == {}
        drive(cfg, [_recording([[Fit(None, dict(seed=0, gap=0.0), need_outputs=True)]], [], [])])
        assert set(cfg.collect) == {key}
    finally:
        cfg.collect = None


def test_a_fit_asking_for_outputs_with_a_key_is_refused():
    with pytest.raises(ValueError, match="outputs are a unit's; ask for the unit alone"):
        Fit("sweep_seed0_gap0", dict(seed=0), need_outputs=True)
    assert Fit(None, dict(seed=0), need_outputs=True).need_outputs
