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


def test_rows_of_several_commits_name_their_span_oldest_first():
    """A resumed experiment's rows come from several sessions: the page must not name the first
    row's commit as if it held for all; the span runs from the commit of the earliest row to the latest."""
    df = pd.DataFrame(dict(env_git_commit=["bbb", "aaa", "ccc", "aaa"],
                           finished_at=["2026-12-01T10:00", "2026-11-30T09:00", "2026-12-01T12:00", "2026-12-01T13:00"]))
    assert provenance.commits_note(df) == "3 commits, aaa to ccc (each row records its own)"
    assert provenance.commits_note(df.iloc[[1, 3]]) == "commit aaa"


def test_boosting_members_are_counted_once_per_machine():
    """An ensemble of k members repeats its first k-1 members' rows: each member network counts once,
    and a row that names only the CPU architecture says the model was not recorded."""
    old = "x86_64 (cpu), torch 2.14.1, commit aaa"
    new = "Intel Xeon (x86_64; native bf16: no) (cpu), torch 2.14.1, commit ccc"
    df = pd.DataFrame(dict(member_unit=["u1", "u1", "u2", "u3", "u4"],
                           member_trained_on=[old, old, old.replace("aaa", "bbb"), new, None]))
    assert provenance.members_note(df) == (
        "members trained on x86_64, CPU model not recorded (cpu), torch 2.14.1: 2 networks, 2 commits; "
        "Intel Xeon (x86_64; native bf16: no) (cpu), torch 2.14.1: 1 network, commit ccc")
    # rows from before member units were recorded: one network per chain position, the first member
    # shared by several rules once (a NaN unit must not merge every such row into one "nan" network)
    df = pd.DataFrame(dict(member_unit=[None, float("nan"), None, None], seed=[0, 0, 0, 1],
                           rule=["zero", "save_mean_reverse", "zero", "zero"], members=[1, 1, 2, 1],
                           shared_first_member=[True, True, False, True], member_trained_on=[old] * 4))
    assert provenance.members_note(df) == ("members trained on x86_64, CPU model not recorded (cpu), torch 2.14.1: "
                                           "3 networks, commit aaa")


def test_training_time_counts_each_shared_network_once():
    """A boosting member in several ensembles (or a gap-0 net in several experiments) trained once."""
    import pandas as pd
    from dboost.render.provenance import _wall_once
    df = pd.DataFrame(dict(member_unit=["u1", "u1", "u2", None], member_wall_time_s=[100.0, 100.0, 50.0, 7.0]))
    assert _wall_once(df) == 157.0
    df = pd.DataFrame(dict(unit=["a", "a", "b"], train_wall_time_s=[10.0, 10.0, 5.0]))
    assert _wall_once(df) == 15.0


def test_unit_times_groups_the_stored_units_by_machine_and_takes_the_median(runs):
    """benchmarks/unit_times.py reads the units' own wall times: one line per (hardware, threads, size,
    length), the median and range of its units."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "unit_times", Path(__file__).resolve().parents[1] / "benchmarks" / "unit_times.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    st = Store("interp", "units")
    for i, (hw, s) in enumerate([("A", 100.0), ("A", 300.0), ("A", 200.0), ("B", 900.0)]):
        st.put(f"u{i}", dict(env=dict(ENV, hardware=hw), n_train=2000, epochs=150, train_wall_time_s=s))
    t = mod.table("interp").set_index("hardware")
    assert t.loc["A", "units"] == 3 and t.loc["A", "median s"] == 200 and (t.loc["A", "min s"], t.loc["A", "max s"]) == (100, 300)
    assert t.loc["B", "units"] == 1 and list(t.index) == ["A", "B"]  # fastest first within one size and length


def test_the_float16_note_counts_one_member_ensembles_off_their_networks_rows(runs):
    """A first member's ensemble accuracy comes from float16 logits: the note counts, in test images,
    how far each lies from its unit's own row, and says so when none does."""
    from fake_rows import boost_row
    from dboost.analysis.rows import rows
    units, bo = Store("cpu", "units"), Store("cpu", "boosting")
    for i, (unit_acc, ens_acc) in enumerate([(0.6510, 0.6509), (0.7000, 0.7000), (0.5000, 0.5002)]):
        units.put(f"u{i}", dict(env=ENV, test=dict(acc=unit_acc, n=10000)))
        bo.put(f"zero_seed{i}_m1", dict(boost_row(i, "zero", 1, ens_acc, 0.9), member_unit=f"u{i}"))
    note = provenance.float16_note(rows("boosting", "cpu"), "cpu")
    assert "2 of the 3 here do, by at most 2 test images" in note
    bo.put("zero_seed0_m1", dict(boost_row(0, "zero", 1, 0.6510, 0.9), member_unit="u0"))
    bo.put("zero_seed2_m1", dict(boost_row(2, "zero", 1, 0.5000, 0.9), member_unit="u2"))
    assert "Each of the 3 one-member ensembles here has the same test accuracy" in \
        provenance.float16_note(rows("boosting", "cpu"), "cpu")
