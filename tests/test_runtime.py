"""Tests of dboost.runtime: the accepted spellings of the torch.compile mode.  (The device, seed
and thread checks are exercised where they are used: tests/test_reliability.py, tests/test_units.py.)"""
from dboost.runtime import check_compile


def test_compile_flag_spellings():
    assert check_compile(False) is None and check_compile(None) is None
    assert check_compile(True) == "default" and check_compile("reduce-overhead") == "reduce-overhead"
