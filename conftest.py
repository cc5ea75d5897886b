"""pytest configuration shared by the unit tests and nbval.

* nbval re-executes the executed smoke notebooks in ``runs/smoke/``.  A page only reads the rows
  (``dboost.pages``; its one parameter is the profile, ``dboost render --profile smoke``), so
  every checked output is a function of the committed rows and
  is the same on any CPU.  Their kernels inherit this environment: ``DBOOST_RUNS`` points at a
  temporary copy of ``runs/smoke`` (the committed rows, byte for byte), so nothing a test or a
  kernel does can write into ``runs/``; at the end of the session ``runs/smoke`` is compared with
  its state at the start and any change fails the run.  Training is tested by the unit tests
  (tests/test_train.py, tests/test_units.py), never against another machine's numbers.
* One CPU thread unless ``OMP_NUM_THREADS`` says otherwise: the tests' models are tiny, and two
  threads on two cores with one core busy elsewhere run ~20x slower (OpenMP barriers wait for
  scheduler slices; measured in issue 16).  Subprocesses and kernels inherit the setting.
* Tiers: ``@pytest.mark.slow`` (training, executors, the book build, nbval) --
  ``python -m pytest -m "not slow"`` is the fast tier; plain ``python -m pytest`` runs everything.
"""
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
COMMITTED = ROOT / "runs" / "smoke"

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: kernels and subprocesses inherit it
os.environ.setdefault("PYTHONHASHSEED", "0")
_runs = None  # the temporary runs folder made here (removed at the end of the session)
if "DBOOST_RUNS" not in os.environ:
    _runs = Path(tempfile.mkdtemp(prefix="dboost-test-runs-"))
    if COMMITTED.is_dir():
        shutil.copytree(COMMITTED, _runs / "smoke", ignore=shutil.ignore_patterns("cache", ".*"))
    os.environ["DBOOST_RUNS"] = str(_runs)

import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # in case a plugin imported torch first


def _snapshot(root: Path) -> dict:
    """Every file under root with its size and mtime: what "nothing was written" is checked on."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()} if root.is_dir() else {}


def pytest_configure(config):
    config._dboost_runs_before = _snapshot(COMMITTED)


def pytest_collection_modifyitems(config, items):
    import pytest
    for item in items:
        if str(item.fspath).endswith(".ipynb"):  # nbval cells: each notebook starts a kernel and renders pages
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    if _runs is not None:
        shutil.rmtree(_runs, ignore_errors=True)
    before = getattr(session.config, "_dboost_runs_before", None)
    if before is None:
        return
    after = _snapshot(COMMITTED)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        print(f"\nERROR: the test run wrote into {COMMITTED} (it must only read it): " + ", ".join(changed[:10]))
        session.exitstatus = 1
