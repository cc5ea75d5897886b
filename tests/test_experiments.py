"""The experiments package and its registry: one list every reader uses, unit keys that never change,
and a new experiment added as one module (plus its notebook and claim declarations)."""
import json
import textwrap
from pathlib import Path

import pytest

from dboost import experiments, registry, runner
from dboost.analysis import CLAIMS, Claim, verdicts
from dboost.analysis.claims import arm

ROOT = Path(__file__).resolve().parents[1]
UNIT_ROWS = sorted((ROOT / "runs").glob("*/units/rows/*.json"))


def test_every_committed_unit_row_keeps_its_key():
    """A unit's key is the hash of its configuration; a refactoring that changed unit_config's
    hashing (or unit_key) would orphan every trained network.  Recompute each committed one."""
    assert len(UNIT_ROWS) > 100  # the interp and gpu profiles' units are committed
    for path in UNIT_ROWS:
        row = json.loads(path.read_text())
        assert experiments.unit_key(row["config"]) == row["unit"] == path.stem, path


def test_committed_unit_configs_are_what_unit_config_builds_today():
    """The other half: unit_config, given a committed unit's settings, rebuilds its config exactly
    (so an experiment asking for that network again finds it as done)."""
    seen = 0
    for path in UNIT_ROWS:
        row = json.loads(path.read_text())
        c = row["config"]
        if c["dataset"] != "synthetic" or isinstance(c["gap"], dict):
            continue  # the real-data profiles need CIFAR-10 to configure; per-sample gaps need the chain
        cfg = experiments.configure("gap_sweep", row["profile"], device="cpu", progress=False,
                                    n_train=c["n_train"], n_test=c["n_test"], epochs=c["epochs"])
        build_kw = {k: v for k, v in c["head"].items()}
        rebuilt = experiments.unit_config(cfg, seed=c["seed"], gap_desc=c["gap"], arch=c["arch"], width=c["width"],
                                          build_kw=build_kw, train_kw=c["train_kw"], epochs=c["epochs"],
                                          n_train=c["n_train"], subset_seed=c["subset_seed"])
        assert rebuilt == c, path
        seen += 1
    if not seen:
        pytest.skip("no committed synthetic unit with a scalar gap")


def test_the_registry_is_the_one_list():
    names = registry.names()
    assert experiments.EXPERIMENTS == registry.EXPERIMENTS == names[:len(registry.EXPERIMENTS)]
    for name in registry.EXPERIMENTS:
        e = registry.get(name)
        assert callable(e.load().run), name
        assert (ROOT / "book" / "notebooks" / f"{name}.ipynb").is_file(), name  # its page
        # the claim ids it declares are exactly the claims that test its rows
        assert set(e.claims) == {c.id for c in CLAIMS if c.experiment == name}, name
    assert {c.experiment for c in CLAIMS} <= set(names)
    for p in experiments.PROFILES.values():
        assert set(p["experiments"]) <= set(names)
    with pytest.raises(ValueError, match="unknown experiment 'nope'; known: gap_sweep, "):
        registry.get("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.Experiment("gap_sweep", "dboost.experiments.gap_sweep"))
    with pytest.raises(ValueError, match="rows must be one of"):
        registry.Experiment("x", "m", rows="table")


TOY = '''
"""A toy experiment: gap m0 against gap 0 of the profile's network, on each claim seed."""
from dboost.experiments.schedule import Fit, drive


def pair(s):  # one task: the rows it needs, yielded in the order they can be trained
    base, = yield [Fit(f"toy_seed{s}_gap0", dict(seed=s, gap=0.0, extra=dict(variant="toy", gap_label="0")))]
    m0 = base["train_mean_margin"]
    yield [Fit(f"toy_seed{s}_gapm0", dict(seed=s, gap=max(m0, 0.0), extra=dict(variant="toy", gap_label="m0")))]


def run(cfg):
    drive(cfg, [pair(s) for s in cfg.p["claim_seeds"]])
'''


@pytest.mark.slow
def test_a_toy_experiment_is_one_module_and_its_claim(tmp_path, monkeypatch):
    """Adding an experiment: its module (here written to a temp folder), one registry entry and its
    claim declaration; the runner validates, trains and stores it like the book's ones, and
    the verdicts test its claim on its rows.  (Its page would be book/notebooks/toy.ipynb.)"""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "toy_experiment.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    runs = tmp_path / "runs"
    monkeypatch.setenv("DBOOST_RUNS", str(runs))
    claim = Claim("toy-1", "toy. gap m0 beats gap 0", "-", "test accuracy, gap m0 − gap 0, paired on seed", True, "toy",
                  treatment=arm(variant="toy", gap_label="m0"), control=(arm(variant="toy", gap_label="0"),))
    registry.register(registry.Experiment("toy", "toy_experiment", claims=("toy-1",)))
    try:
        monkeypatch.setattr(verdicts, "CLAIMS", CLAIMS + (claim,))
        # the profile lists it (here by an override; in the package: its name in the profile's experiments)
        runner.run("smoke", only=["toy"], notebooks=False, publish_book=False, progress=False,
                  overrides=dict(experiments=("toy",), claim_seeds=(0, 1)))
        rows = [json.loads(p.read_text()) for p in sorted((runs / "smoke" / "toy" / "rows").glob("*.json"))]
        assert sorted(r["gap_label"] for r in rows) == ["0", "0", "m0", "m0"]
        assert {r["experiment"] for r in rows} == {"toy"}
        configs = sorted((runs / "smoke" / "configs").glob("*.json"))  # the resolved settings, beside the rows
        assert len(configs) == 1 and configs[0].name == runner.config_path("smoke", configs[0].read_text()).name
        written = json.loads(configs[0].read_text())
        assert written["overrides"]["claim_seeds"] == [0, 1] and written["settings"]["claim_seeds"] == [0, 1]
        assert written["settings"]["width"] == experiments.PROFILES["smoke"].width
        units = {p.stem: json.loads(p.read_text()) for p in (runs / "smoke" / "units" / "rows").glob("*.json")}
        assert {r["unit"] for r in rows} == set(units)  # each row is one unit, keyed like every other
        for r in rows:
            if r["gap_label"] == "m0":  # gap m0 is the train mean margin of that seed's gap-0 unit
                base = next(b for b in rows if b["seed"] == r["seed"] and b["gap_label"] == "0")
                assert r["gap"] == pytest.approx(max(base["train_mean_margin"], 0.0), rel=1e-12)
        t = verdicts.comparisons("smoke")
        prim = t[(t["claim"] == "toy-1") & (t["role"] == "primary")]
        assert len(prim) == 1 and prim["n"].iloc[0] == 2
        diff = [r["test"]["acc"] for r in sorted(rows, key=lambda r: (r["seed"], r["gap_label"] != "m0"))]
        assert prim["mean"].iloc[0] == pytest.approx(((diff[0] - diff[1]) + (diff[2] - diff[3])) / 2, abs=1e-12)
        # a second run finds every row as done and trains nothing
        monkeypatch.setattr(experiments.units, "train", lambda *a, **k: pytest.fail("retrained"))
        runner.run("smoke", only=["toy"], notebooks=False, publish_book=False, progress=False,
                  overrides=dict(experiments=("toy",), claim_seeds=(0, 1)))
        assert sorted((runs / "smoke" / "configs").glob("*.json")) == configs  # the same configuration: one file
    finally:
        registry.unregister("toy")
    with pytest.raises(ValueError, match="unknown experiment 'toy'"):
        experiments.configure("toy", "smoke")
