"""The runner (dboost.runner): validation before compute, atomic rows, resume, training before rendering.

The refusals run the runner -- in-process through ``runner.main`` (the ``runner_main`` fixture), a
few as a true subprocess -- on the ``world`` fixture (a temporary ``DBOOST_RUNS`` holding a copy of
the committed smoke runs and a temporary book/results), and assert exit code 2, one message line on
stderr without a traceback, and both listings unchanged.  Smoke profile and tiny synthetic data only.
"""
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dboost import experiments, runner
from dboost import results as results_mod
from dboost.results import Store
from refusals import listing, refused
from tiny import fake_npy

ROOT = Path(__file__).resolve().parents[1]


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


# ----------------------------------------------------------------------------- refused before any work, and what a refusal looks like

def _runner_process(argv, world, extra_env=None):
    """python -m dboost.runner as a subprocess on the temporary world; (exit code, stderr)."""
    runs, res = world
    env = dict(os.environ, DBOOST_RUNS=str(runs), DBOOST_RESULTS=str(res), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    env.update(extra_env or {})
    p = subprocess.run([sys.executable, "-m", "dboost.runner", *argv], env=env, capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    return p.returncode, p.stderr


@pytest.mark.slow
def test_the_runner_process_refuses_bad_input_in_one_line_and_writes_nothing(world):
    """``python -m dboost.runner`` as a real process: a bad device, seed, profile, a damaged row and a
    runs folder that is a file each exit 2 with one line and no traceback; runs/ and book/results untouched."""
    runs, res = world
    row = runs / "smoke" / "gap_sweep" / "rows" / "sweep_seed0_gap0.json"
    row.write_text(row.read_text()[:200])  # truncated
    before = listing(runs), listing(res)
    cases = [
        (["--profile", "smoke", "--device", "tpu", "--no-notebooks"], ["tpu"]),
        (["--profile", "smoke", "--seeds", "18446744073709552", "--no-notebooks"], ["2**31"]),
        (["--publish-only", "--profile", "nosuch", "--device", "tpu"], ["nosuch"]),
        (["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks", "--no-publish"],
         [str(row), "delete it"]),
    ]
    for argv, needles in cases:
        refused(*_runner_process(argv, world), *needles)
    assert (listing(runs), listing(res)) == before
    # DBOOST_RUNS is a file
    f = runs.parent / "hostname"
    f.write_text("x")
    refused(*_runner_process(["--profile", "smoke", "--no-notebooks"], world, dict(DBOOST_RUNS=str(f))), "not a directory")
    assert f.read_text() == "x" and (listing(runs), listing(res)) == before


@pytest.mark.parametrize("device", ["tpu", "meta", "CPU", "cpu:1", "cuda:7", "mps", "xla", ""])
def test_a_bad_device_is_refused_before_anything_starts(world, runner_main, device):
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("cuda:7 exists here")
    if device == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("MPS exists here")
    runs, res = world
    before = listing(runs), listing(res)
    rc, err = runner_main(["--profile", "smoke", "--device", device, "--no-notebooks"])
    refused(rc, err, "device")
    assert "start" not in runner_main.out
    assert (listing(runs), listing(res)) == before


@pytest.mark.parametrize("argv", [["--seeds", str(2 ** 31)], ["--seeds", "-1"], ["--seeds", "0", "0"],
                                  ["--seeds", "1.5"]])
def test_seeds_are_range_checked_before_training(world, runner_main, argv):
    runs, res = world
    before = listing(runs), listing(res)
    rc, err = runner_main(["--profile", "smoke", "--no-notebooks", *argv])
    if argv[1] == "1.5":  # argparse's own refusal: usage line + error line, exit 2
        assert rc == 2 and "Traceback" not in err and "invalid int value" in err
    else:
        refused(rc, err, "seeds")
    assert (listing(runs), listing(res)) == before


@pytest.mark.parametrize("argv,msg", [
    (["--publish-only", "--no-publish"], "does not combine with --no-publish"),
    (["--publish-only", "--no-notebooks"], "does not combine with --no-notebooks"),
    (["--publish-only", "--device", "meta"], "meta"),
    (["--publish-only", "--seeds", "-3"], "seeds"),
    (["--publish-only", "--only", "gap_sweeep"], "unknown experiment"),
    (["--publish-only", "--data-root", "no/such/dir"], "no/such/dir"),
])
def test_publish_only_validates_its_arguments_and_refuses_contradictions(world, runner_main, argv, msg):
    runs, res = world
    before = listing(runs), listing(res)
    refused(*runner_main(argv), msg)
    assert (listing(runs), listing(res)) == before
    assert not (ROOT / "no").exists()


def test_publish_only_refuses_an_empty_runs_folder(world, runner_main, tmp_path, monkeypatch):
    runs, res = world
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "empty"))
    before = listing(res)
    refused(*runner_main(["--publish-only"]), "nothing to publish")
    assert listing(res) == before and not (tmp_path / "empty").exists()


def test_the_runs_folder_is_checked_before_training(world, runner_main, tmp_path, monkeypatch):
    runs, res = world
    before = listing(runs), listing(res)
    f = tmp_path / "a-file"
    f.write_text("x")
    for bad in (f, f / "runs"):  # a file; a folder under a file
        monkeypatch.setenv("DBOOST_RUNS", str(bad))
        refused(*runner_main(["--profile", "smoke", "--no-notebooks"]), str(f))
    # read-only: chmod where that binds (not root), else a probe write that fails like one
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setenv("DBOOST_RUNS", str(ro))
    if os.geteuid() == 0:
        def denied(*a, **k):
            raise PermissionError(errno.EACCES, "Permission denied")
        monkeypatch.setattr(results_mod.tempfile, "mkstemp", denied)
    else:
        ro.chmod(0o555)
    try:
        refused(*runner_main(["--profile", "smoke", "--no-notebooks"]), "not writable")
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == [] and (listing(runs), listing(res)) == before
    # missing: fine (created at run start, not by a refused call)
    monkeypatch.undo()
    assert results_mod.check_runs_root(tmp_path / "new" / "runs") == tmp_path / "new" / "runs"
    assert not (tmp_path / "new").exists()


def test_a_full_disk_mid_run_is_one_line_and_leaves_no_partial_row(world, runner_main, monkeypatch):
    """ENOSPC on the first write after training: exit 1, one line, rows so far intact."""
    runs, res = world
    shutil.rmtree(runs / "smoke")

    def fake_train(model, train_set, **kw):
        return dict(wall_time_s=0.0, losses=[1.0], images_per_s=0.0, steps=1, precision="fp32", compile=False,
                    segments=[])
    monkeypatch.setattr(experiments.units, "train", fake_train)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(results_mod, "atomic_write_bytes", full)
    rc, err = runner_main(["--profile", "smoke", "--only", "architectures", "--no-notebooks"])
    refused(rc, err, "No space left on device", "disk full", "rerun", code=1)
    assert not list((runs / "smoke").rglob("*.json"))


def test_float_labels_and_too_small_data_sets_are_refused_before_training(world, runner_main, tmp_path):
    runs, res = world
    before = listing(runs), listing(res)
    floats = fake_npy(tmp_path / "floats", labels=np.arange(200) % 10 + 0.5)
    rc, err = runner_main(["--profile", "cpu", "--only", "gap_sweep", "--no-notebooks", "--data-root", str(floats)])
    refused(rc, err, str(floats / "train_y.npy"), "float")
    tiny = fake_npy(tmp_path / "tiny")
    rc, err = runner_main(["--profile", "cpu", "--only", "gap_sweep", "--no-notebooks", "--data-root", str(tiny)])
    refused(rc, err, "50,000", "200 / 50", str(tiny))
    assert (listing(runs), listing(res)) == before
    assert not (runs / "cpu").exists()


def test_a_missing_or_empty_data_root_is_named_and_never_created(world, runner_main, tmp_path, monkeypatch):
    runs, res = world
    before = listing(runs), listing(res)
    monkeypatch.chdir(tmp_path)
    rc, err = runner_main(["--profile", "cpu", "--only", "gap_sweep", "--no-notebooks", "--data-root", "no/such/dir"])
    refused(rc, err, "no/such/dir", "does not exist")
    assert not (tmp_path / "no").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(*runner_main(["--profile", "cpu", "--no-notebooks", "--data-root", str(empty)]), str(empty), "no CIFAR-10")
    assert list(empty.iterdir()) == [] and (listing(runs), listing(res)) == before


def test_a_damaged_data_file_is_named_by_the_runner(world, runner_main, tmp_path):
    runs, res = world
    d = fake_npy(tmp_path / "npy")
    (d / "test_y.npy").write_bytes(b"\x93NUMPY garbage")
    before = listing(runs), listing(res)
    refused(*runner_main(["--profile", "cpu", "--no-notebooks", "--data-root", str(d)]), str(d / "test_y.npy"))
    assert (listing(runs), listing(res)) == before


def test_published_notebooks_are_world_readable(world, monkeypatch):
    runs, res = world
    monkeypatch.setattr(runner, "_papermill", lambda *a, **k: None)  # no kernel for the summary here
    old = os.umask(0o022)
    try:
        done = runner.publish()
    finally:
        os.umask(old)
    assert done and all(stat.S_IMODE((res / f"{d.split(':')[0]}.ipynb").stat().st_mode) == 0o644 for d in done)
