"""Fixtures several test modules share."""
import pytest
import torch

from dboost.data import synthetic


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
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path))
    return tmp_path
