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
