"""The results store (dboost.results): the row check, results.csv rebuilt from the rows, the cache,
atomic writes and their temporary files.

Where a property is a run's (a damaged row refused, a stale results.csv or temporary file cleaned
at run start), the runner is called in-process (the ``runner_main`` fixture) on the ``world``
fixture: a temporary ``DBOOST_RUNS`` holding a copy of the committed smoke runs.  Nothing here
writes into runs/ or book/results.  Smoke profile and tiny synthetic data only.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from dboost import experiments
from dboost import results as results_mod
from dboost.results import CorruptRow, Store, atomic_write_bytes, atomic_write_text, clean_stale_temps
from refusals import listing, refused

ROOT = Path(__file__).resolve().parents[1]
# A tiny boosting run: 4 networks of 200 synthetic images (seconds on one thread).
TINY = dict(n_train=200, n_test=100, batch_size=25, rules=("zero", "constant"), members=2, min_width_n=16)


# ----------------------------------------------------------------------------- rows and their check

@pytest.mark.parametrize("content,msg", [
    ("", "damaged row"),
    ('{"key": "sweep_seed0_gap0", "test": {"acc"', "damaged row"),
    ("{}", "has no key"),
    ("[1, 2]", "not a JSON object"),
    ('{"key": "other"}', "its key is 'other'"),
    ("SCHEMA", "invalid row"),
])
def test_a_damaged_row_is_named_and_refused_before_any_work(world, runner_main, content, msg):
    runs, res = world
    row = runs / "smoke" / "gap_sweep" / "rows" / "sweep_seed0_gap0.json"
    if content == "SCHEMA":  # parseable, right key, but incomplete: a gap-0 row without its margin
        r = json.loads(row.read_text())
        del r["train_mean_margin"]
        content = json.dumps(r)
    row.write_text(content)
    before = listing(runs), listing(res)
    rc, err = runner_main(["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks"])
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
def test_the_row_check_refuses_rows_that_break_the_schema(tmp_path, change, msg):
    src = ROOT / "runs" / "smoke" / "gap_sweep" / "rows" / "sweep_seed0_gap0.json"
    st = Store("smoke", "gap_sweep", tmp_path)
    st.rows_dir.mkdir(parents=True)
    r = dict(json.loads(src.read_text()), **change)
    (st.rows_dir / src.name).write_text(json.dumps(r))
    with pytest.raises(CorruptRow, match=msg):
        st.check()


def test_every_committed_row_passes_the_row_check():
    """The check must not refuse a valid run: every row in runs/ (read only)."""
    n = 0
    for d in sorted((ROOT / "runs").glob("*/*/rows")):
        n += Store(d.parent.parent.name, d.parent.name, ROOT / "runs").check()
    assert n > 100


def test_store_find_returns_the_first_matching_row(tmp_path):
    st = Store("smoke", "units", tmp_path)
    assert st.find(seed=0) is None  # no rows folder yet
    st.put("b", dict(seed=0, gap=1.0, head=dict(head="freeze_last")))
    st.put("a", dict(seed=1, gap=1.0))
    st.put("c", dict(seed=0, gap=2.0))
    assert st.find(gap=1.0)["key"] == "a"  # rows in key order
    assert st.find(seed=0)["key"] == "b" and st.find(seed=0, gap=2.0)["key"] == "c"
    assert st.find(head=dict(head="freeze_last"))["key"] == "b"  # whole-value equality
    assert st.find(seed=0, gap=3.0) is None and st.find(missing=None)["key"] == "a"  # absent field == None


# ----------------------------------------------------------------------------- results.csv

def test_a_results_csv_that_does_not_match_its_rows_is_rebuilt_at_run_start(world, runner_main, monkeypatch):
    runs, res = world
    csv = runs / "smoke" / "gap_sweep" / "results.csv"
    good = Store("smoke", "gap_sweep").csv_text()
    csv.write_text(good[: len(good) // 3])
    (runs / "smoke" / "units" / "results.csv").write_text("")

    def boom(*a, **k):
        raise AssertionError("a finished model was retrained")
    monkeypatch.setattr(experiments.units, "train", boom)
    assert runner_main(["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks"])[0] == 0
    assert "gap_sweep: results.csv did not match the rows; rebuilt" in runner_main.out
    assert csv.read_bytes() == good.encode()
    assert (runs / "smoke" / "units" / "results.csv").read_bytes() == Store("smoke", "units").csv_text().encode()


def test_a_results_csv_that_matches_its_rows_is_left_alone(tmp_path):
    st = Store("smoke", "units", tmp_path)
    st.put("a", dict(x=1))
    t = (st.dir / "results.csv").stat().st_mtime_ns
    assert st.sync_csv() is False and (st.dir / "results.csv").stat().st_mtime_ns == t


def test_the_committed_results_csvs_match_their_rows():
    """So the resync at run start rewrites no committed results.csv (read only; interp is still being written)."""
    for d in sorted((ROOT / "runs").glob("*/*/rows")):
        if d.parent.parent.name in ("smoke", "cpu", "gpu"):
            st = Store(d.parent.parent.name, d.parent.name, ROOT / "runs")
            assert (st.dir / "results.csv").read_bytes() == st.csv_text().encode(), st.dir


# ----------------------------------------------------------------------------- the cache

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


@pytest.mark.slow
def test_an_unreadable_cache_is_discarded_and_its_unit_retrained_bit_for_bit(tiny_runs, tmp_path, monkeypatch):
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


def test_load_tensors_discards_a_damaged_cache_file(tmp_path):
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


# ----------------------------------------------------------------------------- atomic writes and their temporary files

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


def test_an_atomic_writes_temporary_file_carries_the_writers_pid(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        return real(src, dst)
    monkeypatch.setattr(results_mod.os, "replace", spy)
    atomic_write_bytes(tmp_path / "r.json", b"{}")
    assert seen[0].startswith(f".r.json.{os.getpid()}.") and seen[0].endswith(".tmp")
    assert results_mod._TEMP_PID[0].match(seen[0])


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.ipynb", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.ipynb").stat().st_mode) == mode


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporary_files_are_removed_at_run_start_and_live_writers_kept(world, runner_main, monkeypatch):
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
        assert runner_main(["--profile", "smoke", "--only", "gap_sweep", "--no-notebooks"])[0] == 0
        assert not [f for f in stale if f.exists()] and all(f.exists() for f in kept)
        assert "removed 3 stale temporary file(s)" in runner_main.out
        # once the writer is gone (an orphaned kernel exits), its temp is stale too
        sleeper.kill()
        sleeper.wait()
        assert clean_stale_temps(exp / "rows") == [exp / "rows" / f".x.json.{sleeper.pid}.abcd1234.tmp"]
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_temporary_file_names_are_gitignored():
    names = ["runs/smoke/gap_sweep/rows/.a.json.123.abcd1234.tmp", "runs/smoke/gap_sweep/.gap_sweep.ipynb.123.tmp.ipynb",
             "runs/smoke/gap_sweep/.gap_sweep.ipynb.tmp.ipynb", "book/results/.summary.ipynb.9.tmp.ipynb",
             "book/results/.boosting.ipynb.7.abcd1234.tmp"]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("no git checkout")
    out = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True)
    assert sorted(out.stdout.split()) == sorted(names)
