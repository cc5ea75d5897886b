"""What a book page reads (dboost.pages): the stored rows and the profile's settings, no torch.

``header()`` and ``status()`` are checked against a temporary ``DBOOST_RUNS`` holding a copy of the
committed smoke runs (the ``world`` fixture), with the counts they state recomputed here from the
row files themselves.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dboost import experiments, pages, runner
from dboost.config import PROFILES
from refusals import listing

ROOT = Path(__file__).resolve().parents[1]


def _seeds(rows_dir: Path) -> list[int]:
    """The seeds of the rows in a rows/ folder, read from the JSON files (not through dboost)."""
    return sorted({json.loads(p.read_text())["seed"] for p in rows_dir.glob("*.json")})


def test_importing_pages_imports_no_torch():
    r = subprocess.run([sys.executable, "-c", "import sys, dboost.pages; assert 'torch' not in sys.modules"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("experiment,profile,msg", [
    ("gap_sweep", "nope", "unknown profile 'nope'; known profiles: " + ", ".join(PROFILES)),
    ("gap_sweep", ["smoke"], "unknown profile \\['smoke'\\]"),  # papermill -y '[smoke]': not a name
    ("gap_swep", "smoke", "unknown experiment 'gap_swep'; known: gap_sweep, "),
])
def test_load_refuses_an_unknown_profile_or_experiment_with_one_clear_error(runs, experiment, profile, msg):
    with pytest.raises(ValueError, match=msg) as e:
        pages.load(experiment, profile)
    assert "\n" not in str(e.value)
    assert not runs.exists()


def test_a_profile_with_rows_says_where_they_come_from_and_that_they_are_a_pipeline_check(world):
    runs, _ = world
    rows_dir = runs / "smoke" / "gap_sweep" / "rows"
    n, seeds = len(list(rows_dir.glob("*.json"))), _seeds(rows_dir)
    page = pages.load("gap_sweep", "smoke")
    assert not page.empty and len(page.rows) == n > 0
    assert page.status() == (
        f"**Rendered from the {n} rows stored in `runs/smoke/gap_sweep/`**: tables and verdicts cover the rows "
        f"present; seeds with rows: {', '.join(map(str, seeds))} (the profile's own: "
        f"{', '.join(map(str, sorted(set(PROFILES['smoke'].claim_seeds) | set(PROFILES['smoke'].seeds))))}). "
        "`dboost run --profile smoke --only gap_sweep` trains what the profile asks for and is not stored "
        "(a run still going, or seeds added since).")
    parts = page.header().split("\n\n")
    assert parts[0].startswith("**Run:** {term}`profile` `smoke`") and f" · {n} rows · " in parts[0]
    assert "dboost run --profile smoke --only gap_sweep" in parts[1]  # the provenance's rerun line
    assert parts[-2] == page.status() and parts[-1].startswith("**Pipeline check only:**")
    page.skip_rest_if_empty()  # rows: the page's later cells run (and outside IPython it is a no-op anyway)


def test_a_planned_seed_without_rows_is_counted_as_missing(world):
    """data_size plans seeds 0, 1, 2 at smoke; drop seed 2's rows from the copy and the page says so."""
    runs, _ = world
    rows_dir = runs / "smoke" / "data_size" / "rows"
    planned = pages.load("data_size", "smoke").planned_seeds()
    assert len(planned) > 1 and _seeds(rows_dir) == planned
    for p in rows_dir.glob("*.json"):
        if json.loads(p.read_text())["seed"] == planned[-1]:
            p.unlink()
    page = pages.load("data_size", "smoke")
    kept = ", ".join(map(str, planned[:-1]))
    assert (f"seeds with rows: {kept} (the profile's own: {', '.join(map(str, planned))}, 1 of them without rows "
            "yet)") in page.status()
    assert len(page.rows) == len(list(rows_dir.glob("*.json")))


def test_a_page_counts_the_seeds_its_rows_cover_against_the_profile(world):
    """On the committed smoke rows: every planned seed has rows, and the note says how many rows."""
    runs, _ = world
    page = pages.load("boosting", "smoke")
    n = len(list((runs / "smoke" / "boosting" / "rows").glob("*.json")))
    assert n and len(page.rows) == n and page.planned_seeds() == sorted(experiments.PROFILES["smoke"].boost_seeds)
    assert page.status().startswith(f"**Rendered from the {n} rows stored in `runs/smoke/boosting/`**")
    assert "without rows yet" not in page.status()
    fewer = pages.Page("boosting", "smoke", page.p, page.rows.iloc[:0].assign(seed=[]))
    assert fewer.empty


def test_a_page_with_no_rows_says_so_and_trains_nothing(world):
    """interp has no rows in the copy: the header is the one "No results yet" line (no provenance, no
    smoke banner), and nothing is written."""
    runs, _ = world
    before = listing(runs)
    page = pages.load("gap_sweep", "interp")
    assert page.empty and page.status() == ("**No results yet** for profile `interp`: run "
                                            "`dboost run --profile interp --only gap_sweep`.")
    assert page.header() == page.status()
    assert listing(runs) == before and not (runs / "interp").exists()


def test_an_experiment_outside_the_profile_says_it_is_not_part_of_it(world):
    assert "data_size" not in PROFILES["cpu"]["experiments"]
    page = pages.load("data_size", "cpu")
    assert page.empty and page.header() == page.status() == (
        "**No results** for profile `cpu`: the experiment `data_size` is not part of it (its experiments: "
        + ", ".join(PROFILES["cpu"]["experiments"]) + ").")


def test_committed_smoke_notebooks_render_the_rows_without_training():
    """nbval re-executes these notebooks: their only parameter is the profile and their first cell
    reads the committed rows (dboost.pages), so every checked output is a function of the rows,
    the same on any CPU."""
    for nb in sorted((ROOT / "runs" / "smoke").glob("*/*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        injected = [c for c in cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(injected) == 1 and [l for l in "".join(injected[0]["source"]).splitlines()
                                       if not l.startswith("#")] == ['profile = "smoke"'], \
            f"{nb}: re-render it with dboost render --profile smoke --no-publish"
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert "pages.load(" in code and "experiments." not in code, f"{nb}: a page only reads runs/"


@pytest.mark.slow
def test_rendering_a_page_with_no_rows_runs_every_cell(runs, tmp_path, monkeypatch):
    """A render where runs/ holds nothing: the page says "No results yet" and no cell fails."""
    monkeypatch.setenv("DBOOST_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    runner.run("interp", only=["gap_sweep", "boosting"], progress=False, publish_book=False, train=False)
    for e in ("gap_sweep", "boosting"):
        nb = json.loads((runs / "interp" / e / f"{e}.ipynb").read_text())
        outs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        assert not [o for o in outs if o.get("output_type") == "error"]
        assert any("No results yet" in "".join(o.get("data", {}).get("text/markdown", "")) for o in outs)
    assert not list(runs.rglob("units/rows/*.json"))


@pytest.mark.slow
def test_a_notebook_given_an_unknown_profile_fails_with_loads_message(world):
    """The notebook itself (a real kernel): papermill's -p profile nosuch stops at its first cell with
    pages.load's one message, and nothing is written."""
    pm = pytest.importorskip("papermill")
    runs, _ = world
    before = listing(runs)
    out = runs.parent / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(ROOT / "book/notebooks/gap_sweep.ipynb"), str(out), parameters=dict(profile="nosuch"),
                            cwd=str(ROOT / "book/notebooks"), kernel_name="python3", progress_bar=False)
    assert e.value.ename == "ValueError" and "unknown profile 'nosuch'; known profiles: " in e.value.evalue
    assert listing(runs) == before


def test_a_boosting_page_says_how_far_each_seeds_chains_got(world):
    """Smoke boosting has one seed, its chains 3 long; a copy of seed 0's chains as seed 1, cut to 2
    members on one rule, makes the page name each seed's length (the shortest over the rules)."""
    runs, _ = world
    rows_dir = runs / "smoke" / "boosting" / "rows"
    assert "members on every rule" not in pages.load("boosting", "smoke").status()  # one seed: nothing to say
    for p in list(rows_dir.glob("*_seed0_m*.json")):
        r = json.loads(p.read_text())
        if r["rule"] == "zero" and r["members"] == 3:
            continue
        r["seed"] = 1
        (rows_dir / p.name.replace("_seed0_", "_seed1_")).write_text(json.dumps(r))
    assert "members on every rule, per seed: seed 0: 3, seed 1: 2" in pages.load("boosting", "smoke").status()
