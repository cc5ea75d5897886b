"""Tests of dboost.runtime: the accepted devices and spellings of the torch.compile mode.  (The
refusals of bad devices, seeds and thread counts are exercised where they are used:
tests/test_runner.py, tests/test_configure.py, tests/test_units.py.)"""
import torch

from dboost.runtime import check_compile, check_device


def test_compile_flag_spellings():
    assert check_compile(False) is None and check_compile(None) is None
    assert check_compile(True) == "default" and check_compile("reduce-overhead") == "reduce-overhead"


def test_check_device_accepts_the_devices_there_are():
    assert check_device("cpu") == "cpu" and check_device("cpu:0") == "cpu:0"
    assert check_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert check_device(torch.device("cpu")) == "cpu"
