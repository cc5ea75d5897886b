"""The runner (dboost.runner): validation before compute, atomic rows, resume, training before rendering."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dboost import experiments, runner
from dboost.results import Store, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.mark.parametrize("argv,msg", [
    (["--profile", "nope"], "unknown profile"),
    (["--profile", "smoke", "--only", "gap_sweeep"], "unknown experiment"),
    (["--profile", "smoke", "--device", "cuda:7"], "cuda"),
])
def test_cli_refuses_bad_arguments_and_writes_nothing(runs, capsys, argv, msg):
    if "cuda" in msg and __import__("torch").cuda.is_available():
        pytest.skip("a CUDA device exists here")
    assert runner.main(argv + ["--no-notebooks"]) == 2
    assert msg in capsys.readouterr().err
    assert not runs.exists()


def test_missing_data_stops_before_training(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DBOOST_DATA", str(tmp_path / "no-such-folder"))
    assert runner.main(["--profile", "cpu", "--only", "gap_sweep", "--no-notebooks"]) == 2
    err = capsys.readouterr().err
    assert "CIFAR-10 not found" in err and "no-such-folder" in err
    assert not runs.exists()


@pytest.mark.parametrize("kw", [dict(epochs=-1), dict(width=0), dict(n_train=-5), dict(members=0), dict(bogus=1)])
def test_configure_refuses_bad_sizes(runs, kw):
    with pytest.raises(ValueError):
        experiments.configure("gap_sweep", profile="smoke", **kw)
    assert not runs.exists()


@pytest.mark.slow
def test_rerun_skips_finished_models(runs, monkeypatch):
    cfg = experiments.configure("architectures", profile="smoke", progress=False, archs=("resnet9",))
    df1 = experiments.run(cfg)
    assert len(df1) == 2 and set(df1["gap_label"]) == {"0", "m0"}

    def boom(*a, **k):
        raise AssertionError("a finished model was retrained")
    monkeypatch.setattr(experiments.units, "train", boom)
    df2 = experiments.run(experiments.configure("architectures", profile="smoke", progress=False, archs=("resnet9",)))
    assert df2.sort_values("key")["test_acc"].tolist() == df1.sort_values("key")["test_acc"].tolist()


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "x.json"
    atomic_write_text(p, "old")

    class Boom(str):
        def encode(self, *a):
            raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        atomic_write_text(p, Boom("new"))
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["x.json"]  # no temporary left behind


@pytest.mark.slow
def test_kill_9_then_resume(runs):
    """A run killed with SIGKILL mid-way leaves only whole rows; the rerun finishes the rest."""
    env = dict(os.environ, DBOOST_RUNS=str(runs), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "dboost.runner", "--profile", "smoke", "--only", "boosting", "--no-notebooks"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = runs / "smoke" / "boosting" / "rows"
    # Wait for the event (the third row on disk), however slow a loaded machine is; no wall-clock
    # budget decides where the kill lands.  The run has 15 rows, each a network to train, so a row
    # count polled every 10 ms cannot step from < 3 to all 15 between two looks.
    while len(list(rows.glob("*.json"))) < 3 and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it wrote its third row"
    done = list(rows.glob("*.json"))
    assert 3 <= len(done) < 15, "the kill should land mid-run"
    for f in done:
        json.loads(f.read_text())  # every row on disk is whole
    assert subprocess.run(cmd, env=env).returncode == 0
    store = Store("smoke", "boosting", runs)
    assert len(store.rows()) == 15
    assert not list(rows.parent.rglob("*.tmp"))


def test_a_run_on_another_runs_folder_does_not_republish_the_book(tmp_path, monkeypatch, capsys):
    """DBOOST_RUNS elsewhere (a scratch run, a test) must not replace book/results unless
    DBOOST_RESULTS points the publishing elsewhere too."""
    from dboost import runner
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("DBOOST_RESULTS", raising=False)
    calls = []
    monkeypatch.setattr(runner, "_papermill", lambda *a, **k: None)  # no kernel: only the publishing decision
    monkeypatch.setattr(runner, "publish", lambda **k: calls.append(k))
    runner.run("smoke", only=["gap_sweep"], device="cpu", progress=False, train=False)
    assert calls == [] and "not publishing" in capsys.readouterr().out
    monkeypatch.setenv("DBOOST_RESULTS", str(tmp_path / "results"))
    runner.run("smoke", only=["gap_sweep"], device="cpu", progress=False, train=False)
    assert len(calls) == 1


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


def test_the_runner_trains_before_the_pages_render_and_passes_them_the_profile_alone(runs, monkeypatch):
    """Training happens in the runner (the local executor too), the pages only read: papermill gets
    the profile and nothing that trains, so --set overrides combine with notebooks."""
    from dboost import executors
    calls = []
    monkeypatch.setattr(executors, "run_local", lambda cfgs, **kw: calls.append(("train", sorted(cfgs))) or 0)
    monkeypatch.setattr(runner, "_papermill", lambda src, dst, params, progress: calls.append(("render", src.stem,
                                                                                             params)))
    runner.run("smoke", only=["gap_sweep", "boosting"], device="cpu", progress=False, publish_book=False,
              overrides=dict(members=2))
    assert calls == [("train", ["boosting", "gap_sweep"]), ("render", "gap_sweep", dict(profile="smoke")),
                     ("render", "boosting", dict(profile="smoke"))]
    calls.clear()
    runner.run("smoke", only=["gap_sweep"], progress=False, publish_book=False, train=False)  # a render
    assert calls == [("render", "gap_sweep", dict(profile="smoke"))]


def test_a_page_with_no_rows_says_so_and_trains_nothing(runs):
    import sys as _sys
    from dboost import pages
    page = pages.load("gap_sweep", "interp")
    assert page.empty and page.status() == ("**No results yet** for profile `interp`: run "
                                            "`dboost run --profile interp --only gap_sweep`.")
    with pytest.raises(ValueError, match="unknown profile"):
        pages.load("gap_sweep", "nope")
    with pytest.raises(ValueError, match="unknown experiment"):
        pages.load("gap_swep", "smoke")
    assert not runs.exists()
    r = subprocess.run([_sys.executable, "-c", "import sys, dboost.pages; assert 'torch' not in sys.modules"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_page_counts_the_seeds_its_rows_cover_against_the_profile():
    """On the committed smoke rows: every planned seed has rows, and the note says how many rows."""
    from dboost import pages
    page = pages.load("boosting", "smoke")
    n = len(list((Path(os.environ["DBOOST_RUNS"]) / "smoke" / "boosting" / "rows").glob("*.json")))
    assert n and len(page.rows) == n and page.planned_seeds() == sorted(experiments.PROFILES["smoke"].boost_seeds)
    assert page.status().startswith(f"**Rendered from the {n} rows stored in `runs/smoke/boosting/`**")
    assert "without rows yet" not in page.status()
    fewer = pages.Page("boosting", "smoke", page.p, page.rows.iloc[:0].assign(seed=[]))
    assert fewer.empty


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


def test_the_profile_thread_count_holds_for_the_run_and_is_refused_when_bad(runs, monkeypatch, capsys):
    """smoke trains on 1 thread (tiny nets collapse under contention on more), in this process and
    in what it starts (OMP_NUM_THREADS); the caller's count is back afterwards."""
    import torch
    seen = []
    monkeypatch.setattr(experiments, "run", lambda cfg, **k: seen.append((torch.get_num_threads(),
                                                                         os.environ.get("OMP_NUM_THREADS"))))
    before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(2)
    try:
        runner.run("smoke", only=["gap_sweep"], device="cpu", notebooks=False, progress=False)
        assert seen and set(seen) == {(1, "1")}
        assert torch.get_num_threads() == 2 and os.environ.get("OMP_NUM_THREADS") == before[1]
    finally:
        torch.set_num_threads(before[0])
    shutil.rmtree(runs)
    assert runner.main(["--profile", "smoke", "--no-notebooks", "--set", "threads=0"]) == 2
    assert "threads must be a positive int" in capsys.readouterr().err and not runs.exists()


def test_the_deprecated_module_name_still_runs_the_runner(runs):
    """``python -m dboost.batch`` (the runner's old name; two lines) is ``python -m dboost.runner``."""
    env = dict(os.environ, DBOOST_RUNS=str(runs), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "dboost.batch", "--profile", "nope", "--no-notebooks"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "dboost.runner: error: unknown profile 'nope'" in r.stderr
    assert len((ROOT / "dboost" / "batch.py").read_text().splitlines()) == 2
    assert not runs.exists()


def test_each_resolved_configuration_is_its_own_file(runs):
    """Two training runs of one profile with other --set overrides at once (e.g. claim_seeds=[3]
    and [4]) each keep their resolved settings: one file per configuration, named by its hash, so
    neither overwrites the other; the same configuration again is the same file, unchanged."""
    from dboost.config import resolve
    a, b = dict(claim_seeds=(3,)), dict(claim_seeds=(4,))
    pa = runner.write_config("smoke", resolve("smoke", a), a)
    pb = runner.write_config("smoke", resolve("smoke", b), b)
    assert pa != pb and pa.parent == pb.parent == runs / "smoke" / "configs"
    assert sorted(pa.parent.iterdir()) == sorted([pa, pb])  # no temporary file left
    for path, seeds in ((pa, [3]), (pb, [4])):
        written = json.loads(path.read_text())
        assert written["overrides"]["claim_seeds"] == written["settings"]["claim_seeds"] == seeds
        assert path == runner.config_path("smoke", path.read_text())
    before = pa.stat().st_mtime_ns
    assert runner.write_config("smoke", resolve("smoke", dict(a)), dict(a)) == pa and pa.stat().st_mtime_ns == before
    assert len(list(pa.parent.iterdir())) == 2
