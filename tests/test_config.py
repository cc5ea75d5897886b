"""dboost.config: profiles that validate themselves, and resolve() -- the one way a name and settings
become the settings of a run."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from dboost import config
from dboost.config import PROFILES, SEED_KEYS, Profile, resolve


@pytest.mark.parametrize("over,msg", [
    (dict(width=0), "width must be a positive int; got 0"),
    (dict(epochs=2.5), "epochs must be a positive int; got 2.5"),
    (dict(n_train=0), "n_train must be a positive int or None; got 0"),
    (dict(precision="fp16"), "precision must be 'bf16', 'fp32' or None; got 'fp16'"),
    (dict(grid="random"), "grid must be 'full' or 'adaptive'; got 'random'"),
    (dict(grid="adaptive", gap_mults=None, gap_abs=(1.0,)), "an adaptive grid needs gap_mults"),
    (dict(split="test"), "split must be 'standard' or 'authors'; got 'test'"),
    (dict(recipe="sgd"), "unknown recipe 'sgd'; known: "),
    (dict(rules=("zero", "nope")), "unknown rule 'nope'; known: "),
    (dict(claim_seeds="12"), "claim_seeds must be an int or a list of ints; got the string '12'"),
    (dict(compile="fast"), "compile must be False/None"),
    (dict(nope=1), "unknown profile setting 'nope'; settings: dataset, n_train"),
])
def test_bad_settings_are_one_line_errors(over, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")) as e:
        resolve("smoke", over)
    assert "\n" not in str(e.value)


def test_a_profile_validates_itself_without_resolve():
    with pytest.raises(ValueError, match="members must be a positive int; got 0"):
        dataclasses.replace(PROFILES["smoke"], members=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["smoke"].epochs = 3


def test_resolve_applies_overrides_and_seeds_without_touching_the_profile():
    p = resolve("smoke", dict(width=8), seeds=[3, 4])
    assert isinstance(p, Profile) and p.width == p["width"] == 8 and p.name == "smoke"
    assert all(p[k] == (3, 4) for k in SEED_KEYS)
    assert PROFILES["smoke"].width == 4 and PROFILES["smoke"].claim_seeds == (0,)
    assert resolve(PROFILES["interp"]) == PROFILES["interp"]
    with pytest.raises(ValueError, match="unknown profile 'big'; known profiles: smoke, cpu"):
        resolve("big")
    assert p.get("nope", 7) == 7 and "name" not in p.settings() and set(p.settings()) == set(config.SETTINGS)


def test_every_profile_lists_registered_experiments_and_reads_without_torch():
    from dboost import registry
    for p in PROFILES.values():
        assert set(p.experiments) <= set(registry.names()), p.name
    code = "import sys, dboost.config; assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_setup_page_table_is_generated_and_up_to_date():
    page = (Path(__file__).resolve().parents[1] / "book" / "setup.md").read_text()
    assert config.setup_page_with_table(page) == page, "run: python -m dboost.config --write-setup"
    assert config.profile_table() in page


def test_the_table_follows_the_profiles(monkeypatch):
    monkeypatch.setitem(PROFILES, "cpu", dataclasses.replace(PROFILES["cpu"], width=32, lengths=(3, 6),
                                                             gap_mults=(0.5, 2.0), grid="adaptive"))
    rows = {l.split(" | ")[0].strip("| "): l.strip("|").split(" | ")[1:] for l in config.profile_table().splitlines()}
    i = config.TABLE_PROFILES.index("cpu")
    assert rows["ResNet9 width"][i].strip() == "32" and rows["training lengths (epochs)"][i].strip() == "3, 6"
    assert rows["gaps (besides 0)"][i].strip() == "0.5, 2 × m0 and m0; top doubled while best (adaptive)"
    with pytest.raises(ValueError, match="markers once each"):
        config.setup_page_with_table("no table here")


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_experiment_of_every_profile_accepts_its_settings(profile):
    """`dboost run --profile P` runs every experiment P lists: each one's own check of the settings
    (e.g. data_size's sizes) must pass, or the one-command rerun stops before training anything."""
    from dboost import registry
    p = PROFILES[profile]
    for e in p.experiments:
        exp = registry.get(e).load()
        if hasattr(exp, "check"):
            exp.check(p, profile)
