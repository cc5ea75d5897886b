"""Fixtures several test modules share."""
import shutil
from pathlib import Path

import pytest
import torch

from dboost import runner
from dboost.data import synthetic

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_thread():
    """Tiny ops are fastest (and immune to other processes' load) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def syn():
    return synthetic(200, 100, seed=0)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """An empty DBOOST_RUNS (not created: a test can check that nothing made it)."""
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def world(tmp_path, monkeypatch):
    """runs/ (a copy of the committed smoke runs) and book/results (a copy) in tmp; env set, so a
    runner call here can neither read nor write the repository's own."""
    runs, res = tmp_path / "runs", tmp_path / "results"
    shutil.copytree(ROOT / "runs" / "smoke", runs / "smoke",
                    ignore=shutil.ignore_patterns("cache", "*.tmp", "*.tmp.ipynb"))
    shutil.copytree(ROOT / "book" / "results", res, ignore=shutil.ignore_patterns(".*"))
    monkeypatch.setenv("DBOOST_RUNS", str(runs))
    monkeypatch.setenv("DBOOST_RESULTS", str(res))
    monkeypatch.setattr(runner, "RESULTS", res)
    monkeypatch.delenv("DBOOST_DATA", raising=False)
    return runs, res


class RunnerMain:
    """``runner.main`` in this process: ``self(argv)`` is (exit code, stderr); its stdout is ``self.out``."""

    def __init__(self, capsys):
        self.capsys, self.out = capsys, ""

    def __call__(self, argv):
        try:
            rc = runner.main(argv)
        except SystemExit as e:  # argparse's own refusals
            rc = e.code
        cap = self.capsys.readouterr()
        self.out = cap.out
        return rc, cap.err


@pytest.fixture
def runner_main(capsys):
    return RunnerMain(capsys)
