"""A run in rounds (dboost.rounds): the plan of training units, computed against stand-in results
(``dboost plan``), training and writing nothing.  The executors that train the rounds' units are
tests/test_executors.py's."""
import os

import pytest

from dboost import experiments, rounds


def test_plan_smoke_counts_shared_units_once_and_orders_chains(runs):
    units = rounds.plan("smoke")
    assert not runs.exists()  # the plan writes nothing under runs/
    keys = [u["key"] for u in units]
    assert len(keys) == len(set(keys))  # every unit once
    p = experiments.PROFILES["smoke"]
    # smoke: sweep 2 claim units + 2 grid points (0.25, 4; 1 is m0); heads 3 x 2 (frozen x10 = sweep's
    # pair); archs 4 x 2 (resnet9 = sweep's pair); lengths 4 x 2 heads x 2 (the profile length 2 =
    # the head study's pair); boosting: members 2..3 of 5 rules (member 1 shared: gap 0 for zero and
    # the reverse rules = the sweep's gap-0 unit, gap c = m0 for the constant rules = its gap-m0 unit)
    sweep = 2 + 2
    heads = 2 * (len(p["heads"]) - 1)
    archs = 2 * (len(p["archs"]) - 1)
    lengths = 2 * 2 * (len(p["lengths"]) - 1)
    boosting = len(p["rules"]) * (p["members"] - 1)
    # data size: pairs per (size, head, seed) -- 100: seeds 0, 1; 250 (resample_n): seeds 0, 1, 2 x
    # frozen x10 and Linear; 500 = the profile's own subset and length: seed 0 is the sweep's pair
    data_size = 2 * (2 + 3 * 2 + 1)
    assert len(units) == sweep + heads + archs + lengths + boosting + data_size
    # boosting chains: member t+1 of a chain comes in a later round than member t
    # (member t >= 1 has seed 1000 (s + 1) + t; the constant rules start a round later: c is the
    # gap-0 net's m0, so their first member is the gap-m0 unit of round 2)
    boost = [u for u in units if u["experiment"] == "boosting"]
    assert all(u["round"] >= u["seed"] % 1000 + 1 for u in boost)
    assert sorted({u["round"] for u in boost}) == list(range(2, p["members"] + 2))
    # gap-m0 units come after their gap-0 units
    first = {u["round"] for u in units if u["gap"] == 0.0 and u["epochs"] == p["epochs"]}
    assert min(first) == 1


def test_plan_cpu_counts(runs):
    if not os.environ.get("DBOOST_DATA"):
        pytest.skip("needs CIFAR-10 (DBOOST_DATA)")
    units = rounds.plan("cpu")
    p = experiments.PROFILES["cpu"]
    heads_claim = [h for h in p["heads"] if h[0] in experiments.CLAIM_HEADS]
    per_pair = 2
    sweep = per_pair * len(p["claim_seeds"]) + (len([k for k in p["gap_mults"] if k != 1.0])) * len(p["seeds"])
    heads = per_pair * (sum(len(p["claim_seeds"]) for _ in heads_claim) - len(p["claim_seeds"])
                        + (len(p["heads"]) - len(heads_claim)) * len(p["seeds"]))
    archs = per_pair * (len(p["archs"]) - 1) * len(p["arch_seeds"])
    boosting = len(p["boost_seeds"]) * len(p["rules"]) * (p["members"] - 1)
    assert len(units) == sweep + heads + archs + boosting
    assert len({u["key"] for u in units}) == len(units)


def test_plan_missing_lists_the_units_a_resumed_run_trains(runs, one_thread):
    """Train part of a smoke profile (its gap sweep), then plan the sweep and the head study with
    ``missing``: no stored unit is listed, every listed unit that depends on no result (a gap-0
    net) is one the run then trains, and after that run nothing is missing.  (A gap-m0 unit's key
    holds its gap-0 net's m0, which the plan only stands in for: where a real m0 is <= 0 the gap
    is clamped to 0 and the unit is the gap-0 one, so a run may train fewer than listed.)"""
    small = dict(n_train=200, n_test=100, batch_size=25)
    experiments.run(experiments.configure("gap_sweep", "smoke", device="cpu", progress=False, **small))
    stored = {r["key"] for r in experiments.configure("gap_sweep", "smoke", **small).units.rows()}
    assert stored
    only = ["gap_sweep", "frozen_last_layer"]
    full = {u["key"] for u in rounds.plan("smoke", only, **small)}
    missing = {u["key"] for u in rounds.plan("smoke", only, missing=True, **small)}
    assert missing and not missing & stored and len(missing) < len(full)
    gap0 = {u["key"] for u in rounds.plan("smoke", only, missing=True, **small) if u["gap"] == 0.0}
    for e in only:
        experiments.run(experiments.configure(e, "smoke", device="cpu", progress=False, **small))
    after = {r["key"] for r in experiments.configure("gap_sweep", "smoke", **small).units.rows()}
    assert gap0 and gap0 <= after - stored and len(after - stored) <= len(missing)
    assert rounds.plan("smoke", only, missing=True, **small) == []


def test_training_length_runs_on_its_own_seeds_and_defaults_to_the_claim_seeds(runs):
    """interp declares 5 claim seeds but 3 for the training-length study (all 5 at its own length,
    whose nets the claims share); a profile without length_seeds follows its claim seeds, also under
    --set claim_seeds."""
    p = experiments.PROFILES["interp"]
    assert p["claim_seeds"] == p["boost_seeds"] == (0, 1, 2, 3, 4) and p["length_seeds"] == (0, 1, 2)
    smoke = dict(n_train=200, n_test=100, batch_size=25)
    seeds = {u["seed"] for u in rounds.plan("smoke", ["training_length"], claim_seeds=(0, 1), **smoke)}
    assert seeds == {0, 1}
    units = rounds.plan("smoke", ["training_length"], claim_seeds=(0, 1), length_seeds=(1,), **smoke)
    assert {u["seed"] for u in units if u["epochs"] != experiments.PROFILES["smoke"]["epochs"]} == {1}
    # at the profile's own length the claim seeds join: those nets are claim 1's, trained anyway
    assert {u["seed"] for u in units if u["epochs"] == experiments.PROFILES["smoke"]["epochs"]} == {0, 1}
    shared = {u["key"] for u in rounds.plan("smoke", ["gap_sweep", "frozen_last_layer"], claim_seeds=(0, 1), **smoke)}
    assert {u["key"] for u in units if u["seed"] == 0} <= shared  # nothing new to train for them


def test_a_round_sends_the_units_killed_mid_training_first(runs):
    """A resumed run finishes the trainings it already paid for before it starts new ones (else a
    session that ends hard leaves a fresh partial training each time); the others keep their order."""
    from types import SimpleNamespace

    from dboost.results import Store
    units = Store("smoke", "units")
    specs = [SimpleNamespace(key=k) for k in ("ua", "ub", "uc", "ud")]
    units.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    for k in ("uc", "ub"):
        units.checkpoint_path(k).write_bytes(b"")
    assert [s.key for s in rounds.resumed_first(units, specs)] == ["ub", "uc", "ua", "ud"]
    assert [s.key for s in rounds.resumed_first(rounds._MemoryStore(), specs)] == ["ua", "ub", "uc", "ud"]
    # and a run's rounds go through it: the first unit handed to the executor is the checkpointed one
    only = ["gap_sweep", "frozen_last_layer"]
    cfgs = {e: experiments.configure(e, "smoke", progress=False) for e in only}
    first = [u["key"] for u in rounds.plan("smoke", only=only) if u["round"] == 1]  # the gap-0 nets
    assert len(first) >= 3
    units.checkpoint_path(first[-1]).write_bytes(b"")
    seen = []

    def submit(specs):
        seen.extend(s.key for s in specs)
        raise KeyboardInterrupt  # stop before anything trains

    with pytest.raises(KeyboardInterrupt):
        rounds.run_rounds(cfgs, submit, progress=False)
    assert seen == [first[-1], *first[:-1]]
