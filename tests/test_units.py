"""Units (dboost.experiments.units): one trained network per complete training configuration, shared
by every experiment that asks for it, keyed stably, resumed from the cache or the committed outputs.

Everything runs the ``smoke`` profile (synthetic data, width 4) with tiny overrides, on one CPU
thread, with ``DBOOST_RUNS`` in a temporary folder: nothing lands in ``runs/``.
"""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dboost import experiments
from dboost.results import Store
from dboost.rules import next_gaps
from dboost.runtime import cpu_threads

ROOT = Path(__file__).resolve().parents[1]

# Small enough for seconds per experiment, the same for every experiment (n_train, n_test and the
# batch size are part of a unit's key, so the experiments only share units if these agree).
# 200 samples in batches of 25: 8 optimiser steps per epoch, so lengths 1 and 2 pass the
# one-cycle check; smoke's own epochs = 2 is among the lengths.
SMALL = dict(n_train=200, n_test=100, batch_size=25, lengths=(1, 2), archs=("resnet9", "vgg16"), min_width_n=16)
# frozen_last_layer first, so the gap-0 unit is created *without* min_width and gap_sweep (which
# asks for it) must add it from the cache without retraining.
ORDER = ("frozen_last_layer", "gap_sweep", "architectures", "training_length", "boosting")


def _rows(root: Path, experiment: str) -> dict:
    return {r["key"]: r for r in Store("smoke", experiment, root).rows()}


def _counting_train(calls: list):
    real = experiments.units.train

    def wrapper(model, train_set, **kw):
        calls.append(dict(model=model.config, seed=kw.get("seed"), epochs=kw.get("epochs")))
        return real(model, train_set, **kw)
    return wrapper


def _run_all(root: Path, calls: list) -> None:
    """All five smoke experiments into ``root`` on one thread, counting every call to train()."""
    with cpu_threads(1), pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBOOST_RUNS", str(root))
        mp.setattr(experiments.units, "train", _counting_train(calls))
        for exp in ORDER:
            experiments.run(experiments.configure(exp, "smoke", device="cpu", progress=False, **SMALL))


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """All five smoke experiments in one runs folder, counting every call to train()."""
    root = tmp_path_factory.mktemp("shared") / "runs"
    calls: list = []
    _run_all(root, calls)
    return root, calls


# ----------------------------------------------------------------------------- shared units

@pytest.mark.slow
def test_gap0_unit_is_shared_by_every_experiment(shared_runs):
    root, _ = shared_runs
    sweep, heads, archs = _rows(root, "gap_sweep"), _rows(root, "frozen_last_layer"), _rows(root, "architectures")
    length, boost = _rows(root, "training_length"), _rows(root, "boosting")
    u = sweep["sweep_seed0_gap0"]["unit"]
    assert heads["freeze_lastx10_seed0_gap0"]["unit"] == u
    assert archs["resnet9_seed0_gap0"]["unit"] == u
    assert length["freeze_lastx10_ep2_seed0_gap0"]["unit"] == u
    for rule in ("zero", "save_mean_reverse", "zero_mean_reverse"):
        assert boost[f"{rule}_seed0_m1"]["member_unit"] == u
    # ... and it is the network it claims to be; other configurations are other units
    cfg = json.loads((root / "smoke/units/rows" / f"{u}.json").read_text())["config"]
    assert (cfg["seed"], cfg["gap"], cfg["epochs"], cfg["arch"], cfg["head"]) == \
        (0, 0.0, 2, "resnet9", dict(head="freeze_last", scale=10.0))
    assert length["freeze_lastx10_ep1_seed0_gap0"]["unit"] != u
    assert archs["vgg16_seed0_gap0"]["unit"] != u
    assert heads["Linear_seed0_gap0"]["unit"] != u
    assert boost["zero_seed0_m2"]["member_unit"] != u  # another seed
    # the strong baseline at the profile's own length is shared with the head study too
    assert length["strongLinear_LS0.1_ep2_seed0_gap0"]["unit"] == heads["strongLinear_LS0.1_seed0_gap0"]["unit"]
    # gap_sweep asked for min_width after frozen_last_layer had created the unit without it
    assert sweep["sweep_seed0_gap0"].get("min_width") is not None
    assert heads["freeze_lastx10_seed0_gap0"].get("min_width") is None


@pytest.mark.slow
def test_one_unit_row_per_referenced_unit_each_trained_once(shared_runs):
    root, calls = shared_runs
    referenced = set()
    for exp in ORDER:
        for r in _rows(root, exp).values():
            referenced.add(r["member_unit"] if exp == "boosting" else r["unit"])
    units = {p.stem: json.loads(p.read_text()) for p in (root / "smoke/units/rows").glob("*.json")}
    assert set(units) == referenced
    # every stored key is the hash of its stored configuration
    assert all(experiments.unit_key(r["config"]) == k == r["unit"] for k, r in units.items())
    # each unit needs >= 1 training; as many trainings as units means each was trained exactly once
    assert len(calls) == len(units)


@pytest.mark.slow
def test_constant_rule_first_member(shared_runs):
    root, _ = shared_runs
    sweep, boost = _rows(root, "gap_sweep"), _rows(root, "boosting")
    m0 = sweep["sweep_seed0_gap0"]["train_mean_margin"]
    const = boost["constant_seed0_m1"]
    assert const["c"] == m0  # c is the gap-0 network's train mean margin, unclamped
    assert boost["constant_by_last_seed0_m1"]["member_unit"] == const["member_unit"]
    if m0 < 0:
        # The synthetic smoke gap-0 net has a negative train mean margin at this size.  The sweep
        # clamps its gap to max(m0, 0) = 0 -- so its "gap-m0" network *is* the gap-0 unit -- while
        # the constant rule trains with c = m0 < 0: legitimately another unit.
        assert sweep["sweep_seed0_gapm0"]["unit"] == sweep["sweep_seed0_gap0"]["unit"]
        assert sweep["sweep_seed0_gapm0"]["gap"] == 0.0
        assert const["member_unit"] != sweep["sweep_seed0_gapm0"]["unit"]
        unit = json.loads((root / "smoke/units/rows" / f"{const['member_unit']}.json").read_text())
        assert unit["config"]["gap"] == pytest.approx(m0, rel=1e-6) and unit["gap_std"] == 0.0
    else:
        assert const["member_unit"] == sweep["sweep_seed0_gapm0"]["unit"]


def test_constant_rule_first_member_shares_the_sweep_gap_m0_key_for_positive_m0():
    m0 = 12.345678901234567  # a train mean margin as get_unit records it: float(m.double().mean())
    _, sweep_desc = experiments._gap_spec(max(m0, 0.0))                         # what schedule.gapm0 trains
    _, const_desc = experiments._gap_spec(experiments.member_gap("constant", next_gaps("constant", [], n=50, c=m0), 0,
                                                                 c=m0))  # what _boosting trains
    assert const_desc == sweep_desc
    # next_gaps' own float32 copy would NOT share the key: this is why member_gap exists
    assert experiments._gap_spec(next_gaps("constant", [], n=50, c=m0))[1] != sweep_desc
    # later members and other rules train their per-sample gaps as they are
    g = next_gaps("save_mean_reverse", [torch.randn(50)])
    assert experiments.member_gap("save_mean_reverse", g, 1) is g


def test_boosting_seeds_share_no_member():
    cfg = experiments.configure("boosting", "smoke", device="cpu", progress=False)
    n = len(cfg.train_set)

    def key(seed, gaps):
        return experiments.unit_key(experiments.unit_config(cfg, seed=seed, gap_desc=experiments._gap_spec(gaps)[1],
                                                            arch="resnet9", width=4))
    m = torch.randn(n)  # margins of member 1: the zero rule ignores them
    seed0_member2 = key(experiments.member_seed(0, 1), next_gaps("zero", [m], n=n))
    seed1_member1 = key(experiments.member_seed(1, 0), next_gaps("zero", [], n=n))
    assert seed0_member2 != seed1_member1
    seeds = [experiments.member_seed(s, t) for s in (0, 1, 2) for t in range(5)]
    assert len(set(seeds)) == len(seeds)


# ----------------------------------------------------------------------------- keys

def test_gap_spec_constant_tensor_is_keyed_as_its_float():
    for gaps in (torch.full((7,), 1.5), torch.full((7,), 1.5, dtype=torch.float64)):
        g, desc = experiments._gap_spec(gaps)
        assert (g, desc) == experiments._gap_spec(1.5) == (1.5, 1.5)
        assert isinstance(g, float)
    assert experiments._gap_spec(0) == (0.0, 0.0)


def test_gap_spec_per_sample_tensor_is_keyed_by_its_bytes():
    gaps = torch.linspace(-1.0, 3.0, 11)
    g, desc = experiments._gap_spec(gaps)
    assert torch.equal(g, gaps) and set(desc) == {"sha1", "mean", "std"}
    assert desc["mean"] == pytest.approx(1.0) and desc["std"] == pytest.approx(float(gaps.double().std()))
    assert experiments._gap_spec(gaps.clone())[1] == desc                     # same values, same key
    assert experiments._gap_spec(gaps.double())[1] == desc                    # keyed on float32 bytes
    other = gaps.clone()
    other[5] = torch.nextafter(other[5], torch.tensor(10.0))                  # one element, one ulp
    assert experiments._gap_spec(other)[1]["sha1"] != desc["sha1"]


def test_unit_key_is_stable_and_hashes_every_field(runs):
    # Hard-coded keys, computed once (commit 135d927).  Units are looked up by key: if the hash or
    # unit_config changed (a new field, another serialisation), every committed unit would silently
    # be re-keyed -- orphaned and retrained -- instead of reused.  Change these only on purpose.
    literal = dict(dataset="synthetic", seed=0, gap=1.5, epochs=2, precision="fp32",
                   head=dict(head="freeze_last", scale=10.0), train_kw={})
    assert experiments.unit_key(literal) == "ubdc93f7a2dccd5bf"
    cfg = experiments.configure("gap_sweep", "smoke", device="cpu", progress=False)
    base = dict(seed=0, gap_desc=0.0, arch="resnet9", width=4)
    assert experiments.unit_key(experiments.unit_config(cfg, **base)) == "ue7636ac8f3cde167"

    ref = experiments.unit_key(experiments.unit_config(cfg, **base))
    variants = [dict(base, seed=1), dict(base, gap_desc=0.5), dict(base, epochs=3),
                dict(base, build_kw=dict(scale=1.0)), dict(base, build_kw=dict(head="none_linear_none")),
                dict(base, train_kw=dict(label_smoothing=0.1)), dict(base, arch="vgg16"), dict(base, width=8)]
    keys = [experiments.unit_key(experiments.unit_config(cfg, **v)) for v in variants]
    cfg_bf16 = experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, precision="bf16")
    keys.append(experiments.unit_key(experiments.unit_config(cfg_bf16, **base)))
    assert ref not in keys and len(set(keys)) == len(keys)
    # ... and changes nothing that is not a change: the default head spelled out, train_kw in another order
    same = [dict(base, build_kw=dict(head="freeze_last", scale=10.0)), dict(base, epochs=2)]
    assert {experiments.unit_key(experiments.unit_config(cfg, **v)) for v in same} == {ref}
    a = experiments.unit_config(cfg, **base, train_kw=dict(label_smoothing=0.1, lr=1e-3))
    b = experiments.unit_config(cfg, **base, train_kw=dict(lr=1e-3, label_smoothing=0.1))
    assert experiments.unit_key(a) == experiments.unit_key(b)
    # the literal config: one field at a time
    for k, v in dict(seed=1, gap=1.25, epochs=3, precision="bf16", head=dict(head="freeze_last", scale=1.0),
                     train_kw=dict(label_smoothing=0.1)).items():
        assert experiments.unit_key(dict(literal, **{k: v})) != "ubdc93f7a2dccd5bf", k
    assert not runs.exists()


# ----------------------------------------------------------------------------- resume

@pytest.fixture
def boosting_copy(shared_runs, tmp_path, monkeypatch):
    """A copy of the shared smoke runs to resume the boosting chains in, at the one thread the
    fixture trained at (CPU training is deterministic at a fixed count), counting calls to train():
    (root, cfg, the path of the last row the run writes, calls)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = tmp_path / "runs"
        shutil.copytree(shared_runs[0], root)
        monkeypatch.setenv("DBOOST_RUNS", str(root))
        cfg = experiments.configure("boosting", "smoke", device="cpu", progress=False, **SMALL)
        last = f"{cfg.p['rules'][-1]}_seed0_m{cfg.p['members']}"
        calls: list = []
        monkeypatch.setattr(experiments.units, "train", _counting_train(calls))
        yield root, cfg, root / "smoke/boosting/rows" / f"{last}.json", calls
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_boosting_resume_without_cache_recomputes_the_same_row(boosting_copy):
    root, cfg, path, calls = boosting_copy
    shutil.rmtree(root / "smoke/units/cache")
    units_before = {p.name: p.read_text() for p in (root / "smoke/units/rows").glob("*.json")}
    old = json.loads(path.read_text())
    path.unlink()
    experiments.run(cfg)
    new = json.loads(path.read_text())
    # nothing was retrained: the committed outputs (runs/<profile>/units/outputs/*.npz: test logits,
    # train margins) carry the chain, so a fresh clone resumes it on any machine
    assert calls == []
    assert new["test"] == old["test"] and new["test_cal"] == old["test_cal"]
    assert new["member_unit"] == old["member_unit"] and new["gap"] == old["gap"]
    assert {p.name: p.read_text() for p in (root / "smoke/units/rows").glob("*.json")} == units_before
    # without the committed outputs too, the members are retrained (deterministically at a fixed
    # thread count) and the row comes out the same
    shutil.rmtree(root / "smoke/units/outputs")
    path.unlink()
    experiments.run(cfg)
    again = json.loads(path.read_text())
    assert len(calls) == cfg.p["members"]
    assert again["test"] == old["test"] and again["member_unit"] == old["member_unit"]
    assert {p.name: p.read_text() for p in (root / "smoke/units/rows").glob("*.json")} == units_before


@pytest.mark.slow
def test_a_run_in_rounds_resumes_a_chain_from_committed_outputs_training_nothing(boosting_copy):
    """The same resume through the runner's rounds (the local executor): the scheduler finds every
    member's outputs committed, so it collects no unit for training, and the row comes out the same."""
    from dboost import executors
    root, cfg, path, calls = boosting_copy
    shutil.rmtree(root / "smoke/units/cache")
    old = json.loads(path.read_text())
    path.unlink()
    assert executors.run_local({"boosting": cfg}) == 0
    new = json.loads(path.read_text())
    assert calls == [] and _untimed(new) == _untimed(old)


# ----------------------------------------------------------------------------- a training run, twice

def _faults():
    """benchmarks/faults.py (not a package): its row reader and whole-row check."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("faults", ROOT / "benchmarks" / "faults.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_a_training_run_writes_valid_rows_and_a_second_run_is_bit_identical(shared_runs, tmp_path):
    """The training path on this machine only: no number is compared with another machine's rows
    (other CPUs' float kernels train other nets).  Every row passes the schema of its kind, every
    unit records the one thread it trained on, and a second run in a fresh folder at the same
    thread count gives the same rows in every field but timings and timestamps, and the same
    committed outputs (test logits, train margins) bit for bit."""
    faults = _faults()
    first, _ = shared_runs
    second = tmp_path / "runs"
    _run_all(second, [])
    assert faults.check_whole(first) == faults.check_whole(second) > 0  # raises on a row of the wrong schema
    units = list(Store("smoke", "units", first).rows())
    assert units and all(u["env"]["cpu_threads"] == 1 for u in units)
    assert faults.compare(second, faults.rows(first)) == []
    outs = sorted(p.relative_to(first) for p in first.rglob("outputs/*.npz"))
    assert outs == sorted(p.relative_to(second) for p in second.rglob("outputs/*.npz")) and outs
    for rel in outs:
        a, b = np.load(first / rel), np.load(second / rel)
        assert a.files == b.files and all(np.array_equal(a[f], b[f]) for f in a.files), rel


_TIMING = ("finished_at", "unit_finished_at", "train_wall_time_s", "eval_wall_time_s", "images_per_s",
           "member_wall_time_s", "worker_host", "env", "train_segments")


def _untimed(row: dict) -> dict:
    """A row without what differs between two runs of the same training (clock, host, commit)."""
    return {k: v for k, v in row.items() if k not in _TIMING}


@pytest.mark.slow  # trains networks (the shared smoke runs / a compiled model)
def test_chain_resumes_from_committed_outputs_training_only_the_missing_member(boosting_copy):
    """A boosting chain resumes on a machine without the unit cache (a fresh clone, a bare GPU box):
    the committed outputs (units/outputs/<key>.npz: test logits, train margins) of the members
    before stand in for their networks.  Here the last member of the last chain is deleted whole
    -- its experiment row, its unit row and its outputs -- and the cache folder with it: the rerun
    must train exactly that one network, with the same key (its gaps come from member t-1's stored
    margins, bit for bit) and the same unit row and outputs; its experiment row equals the first run's."""
    root, cfg, row_path, calls = boosting_copy
    units = root / "smoke/units"
    old = json.loads(row_path.read_text())
    key = old["member_unit"]
    old_unit = json.loads((units / "rows" / f"{key}.json").read_text())
    with np.load(units / "outputs" / f"{key}.npz") as z:
        old_out = {k: z[k].copy() for k in z.files}
    shutil.rmtree(units / "cache")
    for path in (row_path, units / "rows" / f"{key}.json", units / "outputs" / f"{key}.npz"):
        path.unlink()
    others = {p.name: p.read_text() for p in (units / "rows").glob("*.json")}
    experiments.run(cfg)
    assert len(calls) == 1                                     # only the deleted member was trained
    assert calls[0]["seed"] == experiments.member_seed(0, cfg.p["members"] - 1)
    new = json.loads(row_path.read_text())
    new_unit = json.loads((units / "rows" / f"{key}.json").read_text())  # same key: same gaps, bit for bit
    assert _untimed(new_unit) == _untimed(old_unit)
    with np.load(units / "outputs" / f"{key}.npz") as z:
        assert z.files == list(old_out) and all(np.array_equal(z[k], old_out[k]) for k in z.files)
    assert {p.name: p.read_text() for p in (units / "rows").glob("*.json") if p.name != f"{key}.json"} == others
    # the experiment row is the first run's, bit for bit (ensemble metrics included: boosting
    # computes them from the members' committed float16 test logits on the first run too)
    assert _untimed(new) == _untimed(old)


@pytest.mark.slow  # trains networks (the shared smoke runs / a compiled model)
def test_profile_compile_setting_reaches_the_trainer_and_the_unit_row(runs):
    """compile (a profile setting, e.g. --set compile=default) trains the unit compiled, is recorded in
    its row, and leaves the unit's key alone: compiled and eager training are the same configuration."""
    from test_train import _inductor_works
    reason = _inductor_works()
    if reason:
        pytest.skip(reason)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        kw = dict(n_train=200, n_test=100, batch_size=25)
        cfg = experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, compile="default", **kw)
        eager = experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, **kw)
        base = dict(seed=0, gap_desc=0.0, arch="resnet9", width=4)
        assert experiments.unit_key(experiments.unit_config(cfg, **base)) == \
            experiments.unit_key(experiments.unit_config(eager, **base))
        seen = []
        real = experiments.units.train

        def spy(model, train_set, **k):
            seen.append(k.get("compile"))
            return real(model, train_set, **k)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(experiments.units, "train", spy)
            row, _ = experiments.get_unit(cfg, seed=0, gap=0.0)
    finally:
        torch.set_num_threads(threads)
    assert seen == ["default"] and row["compile"] == "default"
    assert math.isfinite(row["train_loss_last"])


# ----------------------------------------------------------------------------- a kill mid-unit

def test_a_unit_killed_mid_training_resumes_from_its_checkpoint_to_the_same_row(runs, monkeypatch, tmp_path):
    """kill -9 halfway through a unit's training (after its first periodic checkpoint): the rerun
    trains only the remaining epochs, and the unit's row -- train accuracy, margins, every test
    metric -- equals that of the unit trained without a stop, in another runs folder.  Once the unit
    is stored its checkpoint is gone (it is a file of a training in flight, never committed)."""
    import dboost.train

    class Killed(Exception):
        pass

    small = dict(SMALL, epochs=4)

    def unit(root):
        monkeypatch.setenv("DBOOST_RUNS", str(root))
        cfg = experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, **small)
        return cfg, experiments.unit_spec(cfg, seed=0, gap=1.0)

    real_train, real_save = dboost.train.train, dboost.train._save_checkpoint
    every_epoch = lambda *a, **kw: real_train(*a, **{**kw, "checkpoint_every_s": 0.0})  # noqa: E731
    monkeypatch.setattr(experiments.units, "train", every_epoch)
    with cpu_threads(1):
        cfg, spec = unit(tmp_path / "whole")
        whole, _ = experiments.obtain_unit(cfg, spec, None)

        def die_at_epoch_2(path, state):
            real_save(path, state)
            if state["epoch"] == 2:
                raise Killed
        cfg, spec = unit(runs)
        monkeypatch.setattr(dboost.train, "_save_checkpoint", die_at_epoch_2)
        with pytest.raises(Killed):
            experiments.obtain_unit(cfg, spec, None)
        assert cfg.units.checkpoint_path(spec.key).exists() and cfg.units.get(spec.key) is None
        monkeypatch.setattr(dboost.train, "_save_checkpoint", real_save)
        row, _ = experiments.obtain_unit(cfg, spec, None)

    assert [(s["from_epoch"], s["to_epoch"]) for s in row["train_segments"]] == [(0, 2), (2, 4)]
    assert [(s["from_epoch"], s["to_epoch"]) for s in whole["train_segments"]] == [(0, 4)]
    for k in ("train_acc", "train_margin", "train_mean_margin", "test", "test_cal", "train_loss_last"):
        assert row[k] == whole[k], k
    assert not cfg.units.checkpoint_path(spec.key).exists()
    assert not list(cfg.units.checkpoints_dir.glob("*"))
