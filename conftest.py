"""pytest configuration shared by the unit tests and nbval.

nbval re-executes the executed smoke notebooks in runs/smoke/; their kernels inherit this
environment, so pointing DBOOST_RUNS at a temporary folder makes them retrain from scratch
(testing the real path) instead of reading the committed rows -- and leaves runs/ untouched.
"""
import os
import tempfile

os.environ.setdefault("DBOOST_RUNS", tempfile.mkdtemp(prefix="dboost-nbval-runs-"))
os.environ.setdefault("PYTHONHASHSEED", "0")
