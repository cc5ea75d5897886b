"""Issue 12: every bad input refused before any write, corrupt state detected or repaired, no stray files.

One test (or a few) per numbered item of the issue.  CLI items run ``python -m dboost.runner`` --
a few as true subprocesses, the rest in-process through ``runner.main`` -- on a temporary
``DBOOST_RUNS`` holding a copy of the committed smoke runs and a temporary ``DBOOST_RESULTS`` /
``runner.RESULTS`` holding a copy of book/results, and assert: exit code 2, one message line on
stderr without a traceback, and both listings unchanged.  Nothing here writes into runs/ or
book/results.  Smoke profile and tiny synthetic data only.
"""
import errno
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from dboost import data as data_mod, experiments, runner
from dboost import results as results_mod
from dboost.loss import discounted_cross_entropy, margins
from dboost.results import CorruptRow, Store, atomic_write_bytes, clean_stale_temps

ROOT = Path(__file__).resolve().parents[1]
# A tiny boosting run: 4 networks of 200 synthetic images (seconds on one thread).
TINY = dict(n_train=200, n_test=100, batch_size=25, rules=("zero", "constant"), members=2, min_width_n=16)


# ----------------------------------------------------------------------------- fixtures and helpers

def listing(root: Path):
    """Every path under root with its size and mtime (None if root does not exist)."""
    if not root.exists():
        return None
    return sorted((str(p.relative_to(root)), p.is_dir(), 0 if p.is_dir() else p.stat().st_size,
                   0 if p.is_dir() else p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.fixture
def world(tmp_path, monkeypatch):
    """runs/ (a copy of the committed smoke runs) and book/results (a copy) in tmp; env set."""
    runs, res = tmp_path / "runs", tmp_path / "results"
    shutil.copytree(ROOT / "runs" / "smoke", runs / "smoke",
                    ignore=shutil.ignore_patterns("cache", "*.tmp", "*.tmp.ipynb"))
    shutil.copytree(ROOT / "book" / "results", res, ignore=shutil.ignore_patterns(".*"))
    monkeypatch.setenv("DBOOST_RUNS", str(runs))
    monkeypatch.setenv("DBOOST_RESULTS", str(res))
    monkeypatch.setattr(runner, "RESULTS", res)
    monkeypatch.delenv("DBOOST_DATA", raising=False)
    return runs, res


def refused(rc: int, err: str, *needles: str, code: int = 2) -> None:
    assert rc == code, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for n in needles:
        assert n in err, err


LAST_OUT = []


def main_(argv, capsys):
    """runner.main in-process; (exit code, stderr); its stdout goes to LAST_OUT[-1]."""
    try:
        rc = runner.main(argv)
    except SystemExit as e:  # argparse's own refusals
        rc = e.code
    cap = capsys.readouterr()
    LAST_OUT.append(cap.out)
    return rc, cap.err


def cli(argv, world, extra_env=None):
    """python -m dboost.runner as a subprocess on the temporary world; (exit code, stderr)."""
    runs, res = world
    env = dict(os.environ, DBOOST_RUNS=str(runs), DBOOST_RESULTS=str(res), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    env.update(extra_env or {})
    p = subprocess.run([sys.executable, "-m", "dboost.runner", *argv], env=env, capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    return p.returncode, p.stderr


def fake_npy(d: Path, n_train=200, n_test=50, labels=None):
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(d / "train_x_00.npy", rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8))
    np.save(d / "train_y.npy", rng.integers(0, 10, n_train) if labels is None else labels)
    np.save(d / "test_x.npy", rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8))
    np.save(d / "test_y.npy", rng.integers(0, 10, n_test))
    return d


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A finished tiny boosting run (rows, units and their cache), trained once per module."""
    root = tmp_path_factory.mktemp("tiny") / "runs"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DBOOST_RUNS", str(root))
            experiments.run(experiments.configure("boosting", "smoke", device="cpu", progress=False, **TINY))
    finally:
        torch.set_num_threads(threads)
    return root


# ----------------------------------------------------------------------------- true subprocess tests

@pytest.mark.slow
def test_cli_subprocess_refusals(world):
    """Items 1-4 and 8 end to end: exit 2, one line, no traceback, runs/ and book/results untouched."""
    runs, res = world
    row = runs / "smoke" / "gap_sweep" / "rows" / "sweep_seed0_gap0.json"
    row.write_text(row.read_text()[:200])  # truncated (item 8)
    before = listing(runs), listing(res)
    cases = [
        (["--profile", "smoke", "--device", "tpu", "--no-notebooks"], ["tpu"]),                 # 1
        (["--profile", "smoke", "--seeds", "18446744073709552", "--no-notebooks"], ["2**31"]),  # 2
        (["--publish-only", "--profile", "nosuch", "--device", "tpu"], ["nosuch"]),             # 3
        (["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks", "--no-publish"],
         [str(row), "delete it"]),                                                               # 8
    ]
    for argv, needles in cases:
        refused(*cli(argv, world), *needles)
    assert (listing(runs), listing(res)) == before
    # 4: DBOOST_RUNS is a file
    f = runs.parent / "hostname"
    f.write_text("x")
    refused(*cli(["--profile", "smoke", "--no-notebooks"], world, dict(DBOOST_RUNS=str(f))), "not a directory")
    assert f.read_text() == "x" and (listing(runs), listing(res)) == before


# ----------------------------------------------------------------------------- 1. devices

@pytest.mark.parametrize("device", ["tpu", "meta", "CPU", "cpu:1", "cuda:7", "mps", "xla", ""])
def test_1_any_bad_device_refused_up_front(world, capsys, device):
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("cuda:7 exists here")
    if device == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("MPS exists here")
    runs, res = world
    before = listing(runs), listing(res)
    rc, err = main_(["--profile", "smoke", "--device", device, "--no-notebooks"], capsys)
    refused(rc, err, "device")
    assert "start" not in LAST_OUT[-1]
    assert (listing(runs), listing(res)) == before


def test_1_good_devices_pass():
    from dboost.runtime import check_device
    assert check_device("cpu") == "cpu" and check_device("cpu:0") == "cpu:0"
    assert check_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert check_device(torch.device("cpu")) == "cpu"


# ----------------------------------------------------------------------------- 2. seeds

@pytest.mark.parametrize("argv", [["--seeds", str(2 ** 31)], ["--seeds", "-1"], ["--seeds", "0", "0"],
                                  ["--seeds", "1.5"]])
def test_2_seeds_range_checked_before_training(world, capsys, argv):
    runs, res = world
    before = listing(runs), listing(res)
    rc, err = main_(["--profile", "smoke", "--no-notebooks", *argv], capsys)
    if argv[1] == "1.5":  # argparse's own refusal: usage line + error line, exit 2
        assert rc == 2 and "Traceback" not in err and "invalid int value" in err
    else:
        refused(rc, err, "seeds")
    assert (listing(runs), listing(res)) == before


# ----------------------------------------------------------------------------- 3. --publish-only

@pytest.mark.parametrize("argv,msg", [
    (["--publish-only", "--no-publish"], "does not combine with --no-publish"),
    (["--publish-only", "--no-notebooks"], "does not combine with --no-notebooks"),
    (["--publish-only", "--device", "meta"], "meta"),
    (["--publish-only", "--seeds", "-3"], "seeds"),
    (["--publish-only", "--only", "gap_sweeep"], "unknown experiment"),
    (["--publish-only", "--data-root", "no/such/dir"], "no/such/dir"),
])
def test_3_publish_only_validates_and_refuses_contradictions(world, capsys, argv, msg):
    runs, res = world
    before = listing(runs), listing(res)
    refused(*main_(argv, capsys), msg)
    assert (listing(runs), listing(res)) == before
    assert not (ROOT / "no").exists()


def test_3_publish_only_refuses_an_empty_runs_folder(world, capsys, tmp_path, monkeypatch):
    runs, res = world
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "empty"))
    before = listing(res)
    refused(*main_(["--publish-only"], capsys), "nothing to publish")
    assert listing(res) == before and not (tmp_path / "empty").exists()


# ----------------------------------------------------------------------------- 4. runs folder

def test_4_runs_folder_checked_before_training(world, capsys, tmp_path, monkeypatch):
    runs, res = world
    before = listing(runs), listing(res)
    f = tmp_path / "a-file"
    f.write_text("x")
    for bad in (f, f / "runs"):  # a file; a folder under a file
        monkeypatch.setenv("DBOOST_RUNS", str(bad))
        refused(*main_(["--profile", "smoke", "--no-notebooks"], capsys), str(f))
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
        refused(*main_(["--profile", "smoke", "--no-notebooks"], capsys), "not writable")
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == [] and (listing(runs), listing(res)) == before
    # missing: fine (created at run start, not by a refused call)
    monkeypatch.undo()
    assert results_mod.check_runs_root(tmp_path / "new" / "runs") == tmp_path / "new" / "runs"
    assert not (tmp_path / "new").exists()


def test_4_full_disk_mid_run_is_one_line(world, capsys, monkeypatch):
    """ENOSPC on the first write after training: exit 1, one line, rows so far intact."""
    runs, res = world
    shutil.rmtree(runs / "smoke")

    def fake_train(model, train_set, **kw):
        return dict(wall_time_s=0.0, losses=[1.0], images_per_s=0.0, steps=1, precision="fp32", compile=False)
    monkeypatch.setattr(experiments.units, "train", fake_train)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(results_mod, "atomic_write_bytes", full)
    rc, err = main_(["--profile", "smoke", "--only", "architectures", "--no-notebooks"], capsys)
    refused(rc, err, "No space left on device", "disk full", "rerun", code=1)
    assert not list((runs / "smoke").rglob("*.json"))


# ----------------------------------------------------------------------------- 5. labels and sizes

def test_5_float_labels_and_tiny_datasets_refused(world, capsys, tmp_path):
    runs, res = world
    before = listing(runs), listing(res)
    floats = fake_npy(tmp_path / "floats", labels=np.arange(200) % 10 + 0.5)
    rc, err = main_(["--profile", "cpu", "--only", "gap_sweep", "--no-notebooks", "--data-root", str(floats)], capsys)
    refused(rc, err, str(floats / "train_y.npy"), "float")
    tiny = fake_npy(tmp_path / "tiny")
    rc, err = main_(["--profile", "cpu", "--only", "gap_sweep", "--no-notebooks", "--data-root", str(tiny)], capsys)
    refused(rc, err, "50,000", "200 / 50", str(tiny))
    assert (listing(runs), listing(res)) == before
    assert not (runs / "cpu").exists()


def test_5_labels_checked_in_the_loader(tmp_path):
    d = fake_npy(tmp_path / "a", labels=(np.arange(200) % 10).astype(np.float32))
    with pytest.raises(ValueError, match="float"):
        data_mod.cifar10(root=d, download=False)
    d = fake_npy(tmp_path / "b", labels=np.arange(200) % 11)
    with pytest.raises(ValueError, match=r"train_y.npy: labels must lie in \[0, 9\]"):
        data_mod.cifar10(root=d, download=False)
    with pytest.raises(ValueError, match="integers"):
        data_mod._split(np.zeros((2, 32, 32, 3), np.uint8), np.array([1.5, 2.0]), "x")


# ----------------------------------------------------------------------------- 6. --data-root

def test_6_missing_data_root_is_named_and_never_created(world, capsys, tmp_path, monkeypatch):
    runs, res = world
    before = listing(runs), listing(res)
    monkeypatch.chdir(tmp_path)
    rc, err = main_(["--profile", "cpu", "--only", "gap_sweep", "--no-notebooks", "--data-root", "no/such/dir"], capsys)
    refused(rc, err, "no/such/dir", "does not exist")
    assert not (tmp_path / "no").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(*main_(["--profile", "cpu", "--no-notebooks", "--data-root", str(empty)], capsys), str(empty), "no CIFAR-10")
    assert list(empty.iterdir()) == [] and (listing(runs), listing(res)) == before
    # the library call too: an explicit root is never a download target unless download=True
    monkeypatch.setenv("DBOOST_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data_mod.cifar10(root=tmp_path / "typo")
    assert not (tmp_path / "typo").exists()


# ----------------------------------------------------------------------------- 7. papermill parameters

@pytest.mark.parametrize("kw,msg", [
    (dict(seeds="12"), 'seeds: \\[1, 2\\]'),  # papermill -r seeds 12
    (dict(seeds=1.5), "float"),               # -p seeds 1.5
    (dict(seeds=True), "bool"),               # -p seeds true
    (dict(seeds=[0, "1"]), "str"),
    (dict(device="tpu"), "tpu"),              # -p device tpu
    (dict(device=0), "string"),
    (dict(data_root=5), "data_root"),
    (dict(profile=["smoke"]), "unknown profile"),
])
def test_7_configure_types_papermill_parameters(world, kw, msg):
    runs, res = world
    before = listing(runs)
    kw = dict(dict(profile="smoke"), **kw)
    with pytest.raises(ValueError, match=msg):
        experiments.configure("gap_sweep", progress=False, **kw)
    assert listing(runs) == before


def test_7_device_checked_even_when_every_row_exists(world):
    """-p device tpu used to pass when nothing was left to train."""
    with pytest.raises(ValueError, match="tpu"):
        experiments.configure("gap_sweep", "smoke", device="tpu", progress=False)
    assert experiments.configure("gap_sweep", "smoke", device="cpu", progress=False).device == "cpu"


@pytest.mark.slow
def test_7_notebook_refuses_string_seeds(world):
    """The notebook itself (a real kernel): papermill's -r seeds 12 is refused with the CLI's message."""
    pm = pytest.importorskip("papermill")
    runs, _ = world
    before = listing(runs)
    out = runs.parent / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(ROOT / "book/notebooks/gap_sweep.ipynb"), str(out), parameters=dict(seeds="12"),
                            cwd=str(ROOT / "book/notebooks"), kernel_name="python3", progress_bar=False)
    assert e.value.ename == "ValueError" and 'seeds: [1, 2]' in e.value.evalue
    assert listing(runs) == before


# ----------------------------------------------------------------------------- 8. / 9. rows

@pytest.mark.parametrize("content,msg", [
    ("", "damaged row"),
    ('{"key": "sweep_seed0_gap0", "test": {"acc"', "damaged row"),
    ("{}", "has no key"),
    ("[1, 2]", "not a JSON object"),
    ('{"key": "other"}', "its key is 'other'"),
    ("SCHEMA", "invalid row"),
])
def test_8_9_bad_rows_named_and_refused(world, capsys, content, msg):
    runs, res = world
    row = runs / "smoke" / "gap_sweep" / "rows" / "sweep_seed0_gap0.json"
    if content == "SCHEMA":  # parseable, right key, but incomplete: a gap-0 row without its margin
        r = json.loads(row.read_text())
        del r["train_mean_margin"]
        content = json.dumps(r)
    row.write_text(content)
    before = listing(runs), listing(res)
    rc, err = main_(["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks"], capsys)
    refused(rc, err, str(row), msg, "delete it to retrain")
    assert (listing(runs), listing(res)) == before
    with pytest.raises(CorruptRow, match=msg):
        experiments.configure("gap_sweep", "smoke", progress=False)  # the notebooks' call: same check


@pytest.mark.parametrize("change,msg", [
    (dict(profile="cpu"), "profile 'cpu' in a 'smoke' folder"),
    (dict(experiment="boosting"), "experiment 'boosting' in a 'gap_sweep' folder"),
    (dict(test={}), "test.acc"),
    (dict(seed="0"), "seed is str"),
    (dict(seed=True), "seed is bool"),
])
def test_9_row_schema(tmp_path, change, msg):
    src = ROOT / "runs" / "smoke" / "gap_sweep" / "rows" / "sweep_seed0_gap0.json"
    st = Store("smoke", "gap_sweep", tmp_path)
    st.rows_dir.mkdir(parents=True)
    r = dict(json.loads(src.read_text()), **change)
    (st.rows_dir / src.name).write_text(json.dumps(r))
    with pytest.raises(CorruptRow, match=msg):
        st.check()


def test_9_every_committed_row_passes_the_schema():
    """The check must not refuse a valid run: every row in runs/ (read only)."""
    n = 0
    for d in sorted((ROOT / "runs").glob("*/*/rows")):
        n += Store(d.parent.parent.name, d.parent.name, ROOT / "runs").check()
    assert n > 100


# ----------------------------------------------------------------------------- 10. results.csv

def test_10_results_csv_rebuilt_from_the_rows(world, capsys, monkeypatch):
    runs, res = world
    csv = runs / "smoke" / "gap_sweep" / "results.csv"
    good = Store("smoke", "gap_sweep").csv_text()
    csv.write_text(good[: len(good) // 3])
    (runs / "smoke" / "units" / "results.csv").write_text("")

    def boom(*a, **k):
        raise AssertionError("a finished model was retrained")
    monkeypatch.setattr(experiments.units, "train", boom)
    assert main_(["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks"], capsys)[0] == 0
    assert "gap_sweep: results.csv did not match the rows; rebuilt" in LAST_OUT[-1]
    assert csv.read_bytes() == good.encode()
    assert (runs / "smoke" / "units" / "results.csv").read_bytes() == Store("smoke", "units").csv_text().encode()


def test_10_consistent_csv_is_left_alone(tmp_path):
    st = Store("smoke", "units", tmp_path)
    st.put("a", dict(x=1))
    t = (st.dir / "results.csv").stat().st_mtime_ns
    assert st.sync_csv() is False and (st.dir / "results.csv").stat().st_mtime_ns == t


# ----------------------------------------------------------------------------- 11. cache

@pytest.mark.slow
def test_11_unreadable_cache_is_discarded_and_rebuilt(tiny_runs, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(tiny_runs, runs)
    monkeypatch.setenv("DBOOST_RUNS", str(runs))
    boost = Store("smoke", "boosting")
    ref = boost.get("zero_seed0_m2")
    (boost.rows_dir / "zero_seed0_m2.json").unlink()  # unfinished: the resume needs member 1's outputs
    cache = Store("smoke", "units").cache_dir / f"{ref['member_unit']}.pt"
    first = Store("smoke", "units").cache_dir / f"{boost.get('zero_seed0_m1')['member_unit']}.pt"
    first.write_bytes(first.read_bytes()[:100])  # truncated
    # and no committed outputs to fall back on (else the chain would continue from them, untrained)
    (Store("smoke", "units").outputs_dir / first.with_suffix(".npz").name).unlink()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.warns(RuntimeWarning, match=f"{first.name}: unreadable cache"):
            experiments.run(experiments.configure("boosting", "smoke", device="cpu", progress=False, **TINY))
    finally:
        torch.set_num_threads(threads)
    new = boost.get("zero_seed0_m2")
    for k in ("test", "member_train_margin", "member_test_acc", "gap", "member_unit"):
        assert new[k] == ref[k], k  # retrained member 1 bit for bit: the same next member
    assert torch.load(first, weights_only=True)["state"] and cache.exists()


def test_11_load_tensors_on_garbage(tmp_path):
    st = Store("smoke", "units", tmp_path)
    st.save_tensors("k", a=torch.ones(3))
    assert torch.equal(st.load_tensors("k")["a"], torch.ones(3))
    p = st.cache_dir / "k.pt"
    for junk in (b"", b"not a zip", p.read_bytes()[:50]):
        p.write_bytes(junk)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert st.load_tensors("k") is None
        assert str(p) in str(w[0].message) and not p.exists()


# ----------------------------------------------------------------------------- 12. data files

def test_12_damaged_data_files_are_named(tmp_path):
    d = fake_npy(tmp_path / "npy")
    f = d / "train_x_00.npy"
    f.write_bytes(f.read_bytes()[:5000])  # truncated shard
    with pytest.raises(ValueError, match=f"{f}: cannot read"):
        data_mod.cifar10(root=d, download=False)
    b = tmp_path / "cifar-10-batches-py"
    b.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (b / name).write_bytes(pickle.dumps({"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
                                             "labels": [1, 2]}))
    assert len(data_mod.cifar10(root=tmp_path, download=False)[0]) == 10
    (b / "data_batch_3").write_bytes((b / "data_batch_3").read_bytes()[:40])
    with pytest.raises(ValueError, match="data_batch_3: cannot read"):
        data_mod.cifar10(root=tmp_path, download=False)
    (b / "data_batch_3").write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0.5, 1.5]}))
    with pytest.raises(ValueError, match="data_batch_3: labels must be .*integers"):
        data_mod.cifar10(root=tmp_path, download=False)


def test_12_damaged_shard_through_the_cli(world, capsys, tmp_path):
    runs, res = world
    d = fake_npy(tmp_path / "npy")
    (d / "test_y.npy").write_bytes(b"\x93NUMPY garbage")
    before = listing(runs), listing(res)
    refused(*main_(["--profile", "cpu", "--no-notebooks", "--data-root", str(d)], capsys), str(d / "test_y.npy"))
    assert (listing(runs), listing(res)) == before


# ----------------------------------------------------------------------------- 13. / 14. temp files

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_13_14_stale_temps_cleaned_at_run_start(world, capsys, monkeypatch):
    runs, res = world
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        exp = runs / "smoke" / "gap_sweep"
        units = runs / "smoke" / "units"
        (units / "cache").mkdir(exist_ok=True)
        stale = [exp / "rows" / f".sweep_seed0_gap0.json.{dead}.abcd1234.tmp",
                 exp / f".gap_sweep.ipynb.{dead}.tmp.ipynb",
                 units / "cache" / f".u0.pt.{dead}.a_b_c_d_.tmp",
                 exp / ".results.csv.zzzz9999.tmp"]                      # pid-less, old
        kept = [exp / "rows" / f".x.json.{sleeper.pid}.abcd1234.tmp",     # a live writer (another worker, a kernel)
                exp / f".gap_sweep.ipynb.{os.getpid()}.tmp.ipynb",
                exp / ".results.csv.yyyy8888.tmp",                         # pid-less, fresh
                exp / ".notes.tmp", exp / "keep.tmp", exp / "rows" / "notes.txt"]  # not ours
        for f in stale + kept:
            f.write_text("partial")
        old = time.time() - 2 * results_mod.LEGACY_TEMP_AGE_S
        os.utime(exp / ".results.csv.zzzz9999.tmp", (old, old))

        monkeypatch.setattr(experiments.units, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
        assert main_(["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks"], capsys)[0] == 0
        assert not [f for f in stale if f.exists()] and all(f.exists() for f in kept)
        assert "removed 3 stale temporary file(s)" in LAST_OUT[-1]
        # 14: once the writer is gone (an orphaned kernel exits), its temp is stale too
        sleeper.kill()
        sleeper.wait()
        assert clean_stale_temps(exp / "rows") == [exp / "rows" / f".x.json.{sleeper.pid}.abcd1234.tmp"]
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_13_temp_names_are_gitignored():
    names = ["runs/smoke/gap_sweep/rows/.a.json.123.abcd1234.tmp", "runs/smoke/gap_sweep/.gap_sweep.ipynb.123.tmp.ipynb",
             "runs/smoke/gap_sweep/.gap_sweep.ipynb.tmp.ipynb", "book/results/.summary.ipynb.9.tmp.ipynb",
             "book/results/.boosting.ipynb.7.abcd1234.tmp"]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("no git checkout")
    out = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True)
    assert sorted(out.stdout.split()) == sorted(names)


def test_13_atomic_write_temp_carries_the_pid(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        return real(src, dst)
    monkeypatch.setattr(results_mod.os, "replace", spy)
    atomic_write_bytes(tmp_path / "r.json", b"{}")
    assert seen[0].startswith(f".r.json.{os.getpid()}.") and seen[0].endswith(".tmp")
    assert results_mod._TEMP_PID[0].match(seen[0])


# ----------------------------------------------------------------------------- 15. modes

@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_15_files_get_umask_based_modes(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.ipynb", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.ipynb").stat().st_mode) == mode


def test_15_published_notebooks_are_world_readable(world, monkeypatch):
    runs, res = world
    monkeypatch.setattr(runner, "_papermill", lambda *a, **k: None)  # no kernel for the summary here
    old = os.umask(0o022)
    try:
        done = runner.publish()
    finally:
        os.umask(old)
    assert done and all(stat.S_IMODE((res / f"{d.split(':')[0]}.ipynb").stat().st_mode) == 0o644 for d in done)


# ----------------------------------------------------------------------------- 16. the loss API

def test_16_non_finite_logits_refused_margins_propagate():
    y = torch.tensor([0, 1, 2, 0])
    for bad in (float("nan"), float("inf"), float("-inf")):
        z = torch.randn(4, 3)
        z[1, 2] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            discounted_cross_entropy(z, y)
        with pytest.raises(ValueError, match="NaN or inf"):
            discounted_cross_entropy(z.double(), y, torch.ones(4), reduction="none")
    huge = torch.full((4, 3), 3e38)  # finite, though their float32 sum overflows
    assert torch.isfinite(discounted_cross_entropy(huge, y))
    z = torch.randn(4, 3)
    z[1, 0] = float("nan")
    m = margins(z, y)
    assert torch.isnan(m[1]) and torch.isfinite(m[[0, 2, 3]]).all()  # documented: NaN propagates


def test_16_empty_batch_and_numpy_messages():
    e = torch.zeros(0, 3)
    t = torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="empty batch"):
        discounted_cross_entropy(e, t)
    assert float(discounted_cross_entropy(e, t, reduction="sum")) == 0.0
    assert discounted_cross_entropy(e, t, reduction="none").shape == (0,)
    with pytest.raises(ValueError, match=r"logits must be a torch.Tensor; got numpy.ndarray") as ei:
        discounted_cross_entropy(np.zeros((4, 3), np.float32), torch.zeros(4, dtype=torch.long))
    assert "shape" not in str(ei.value)
    with pytest.raises(ValueError, match=r"target must be a torch.Tensor.*numpy.ndarray"):
        discounted_cross_entropy(torch.zeros(4, 3), np.zeros(4, np.int64))


def test_16_check_adds_no_read_back(monkeypatch):
    """The finiteness check shares the label check's single device read-back."""
    calls = []
    for name in ("tolist", "item", "__int__", "__float__", "__bool__"):
        real = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _r=real, _n=name: calls.append(_n) or _r(self, *a))
    discounted_cross_entropy(torch.randn(8, 5), torch.randint(0, 5, (8,)), 2.0)
    assert calls == ["tolist"]


def test_10_committed_csvs_already_match_their_rows():
    """So the resync at run start rewrites no committed results.csv (read only; interp is still being written)."""
    for d in sorted((ROOT / "runs").glob("*/*/rows")):
        if d.parent.parent.name in ("smoke", "cpu", "gpu"):
            st = Store(d.parent.parent.name, d.parent.name, ROOT / "runs")
            assert (st.dir / "results.csv").read_bytes() == st.csv_text().encode(), st.dir
