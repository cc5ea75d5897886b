"""dboost.render.provenance: what rerunning a page costs, each network counted once."""
import pandas as pd

from dboost.render import provenance
from dboost.results import Store
from fake_rows import ENV


def test_rerun_cost_counts_a_shared_network_once(runs):
    """A boosting member is in every larger ensemble: its training time counts once, on the hardware
    of its own unit row (not where the ensemble was scored)."""
    units = Store("cpu", "units")
    units.put("uA", dict(key="uA", env=dict(device="cuda", hardware="NVIDIA H200")))
    units.put("uB", dict(key="uB", env=dict(device="cuda", hardware="NVIDIA H200")))
    bo = Store("cpu", "boosting")
    for k, members in ((1, ["uA"]), (2, ["uA", "uB"])):
        for u, wall in zip(members, (60.0, 120.0)):
            bo.put(f"zero_seed0_m{k}_{u}", dict(key=f"zero_seed0_m{k}_{u}", profile="cpu", experiment="boosting",
                                                member_unit=u, member_wall_time_s=wall, env=ENV))
    c = provenance.rerun_cost("cpu", "boosting")
    assert c["networks"] == 2 and c["seconds"] == 180.0  # uA's 60 s once, not twice
    assert c["hardware"] == "NVIDIA H200 (cuda)" and c["command"] == "dboost run --profile cpu --only boosting"
    line = provenance.rerun_line(pd.DataFrame([dict(profile="cpu", experiment="boosting")]))
    assert "`dboost run --profile cpu --only boosting`" in line and "2 {term}`units <unit>`, 3 min" in line


def test_a_resumed_row_names_every_machine_it_trained_on():
    """env records the machine that finished a unit; a unit resumed elsewhere after a kill must not
    pass for one machine's work: its stretches' machines are named, and single-stretch rows add nothing."""
    one = [dict(machine="Intel Xeon, 1 thread(s)", from_epoch=0, to_epoch=150, wall_s=2000.0)]
    two = [dict(machine="Intel Xeon, 1 thread(s)", from_epoch=0, to_epoch=60, wall_s=900.0),
           dict(machine="AMD EPYC, 1 thread(s)", from_epoch=60, to_epoch=150, wall_s=200.0)]
    df = pd.DataFrame(dict(train_segments=[one, two, one]))
    note = provenance.resumed_note(df)
    assert note == (" (1 row trained in several stretches, resumed from a checkpoint after an interruption, "
                    "on AMD EPYC, 1 thread(s); Intel Xeon, 1 thread(s))")
    assert provenance.resumed_note(pd.DataFrame(dict(train_segments=[one, one]))) == ""
    assert provenance.resumed_note(pd.DataFrame(dict(seed=[0]))) == ""  # rows from before segments were kept
