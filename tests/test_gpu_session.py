"""The prepared GPU session (benchmarks/gpu_session.sh): its dry run end to end, and the chain check it relies on.

The dry run (``benchmarks/gpu_session.sh --dry-run``) runs every stage on the CPU at smoke size
in a temporary runs folder (about a minute on 2 cores): marked slow.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from dboost import experiments

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import chains  # noqa: E402


def _snapshot(*folders):
    return {str(p): p.stat().st_mtime_ns for f in folders for p in sorted(f.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_gpu_session_dry_run_end_to_end(tmp_path):
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    out = tmp_path / "out"
    repo_before = _snapshot(ROOT / "runs", ROOT / "benchmarks" / "results")
    env = dict(os.environ, OUT=str(out), DBOOST_SESSION_S="900", OMP_NUM_THREADS="1", PYTHON=sys.executable)
    r = subprocess.run(["bash", str(ROOT / "benchmarks/gpu_session.sh"), "--dry-run"], env=env, capture_output=True,
                       text=True, timeout=900)
    log = (out / "session.log").read_text()
    assert r.returncode == 0, log[-3000:]
    for stage in ("benchmark: best", "probe: chosen epochs: 1", "smoke: units for", "--only data_size", "pack: "):
        assert stage in log, stage
    # stages 3, 4, 5 and the backlog's two batches (5b), each stopped in time
    assert log.count("smoke: units for") == 5, log[-3000:]
    assert _snapshot(ROOT / "runs", ROOT / "benchmarks" / "results") == repo_before  # nothing in the repository
    parts = sorted(out.glob("rows.tar.gz.part-*"))
    assert parts and all(p.stat().st_size <= 15 * 2 ** 20 for p in parts)
    blob = tmp_path / "rows.tar.gz"
    blob.write_bytes(b"".join(p.read_bytes() for p in parts))
    dst = tmp_path / "unpacked"
    with tarfile.open(blob) as t:
        t.extractall(dst, filter="data")
    bench = json.loads((dst / "results/gpu_compile_dry.json").read_text())
    assert bench["variants"]["eager"]["s_per_epoch"] > 0
    probe = json.loads((dst / "results/length_probe_dry.json").read_text())
    assert probe["chosen_epochs"] == 1 and probe["runs"]
    units = [json.loads(p.read_text()) for p in (dst / "runs/smoke/units/rows").glob("*.json")]
    assert units and not list(dst.rglob("*.pt"))                        # the unit cache is not packed
    for u in units:
        assert u["compile"] is None, u["unit"]
        assert (dst / "runs/smoke/units/outputs" / f"{u['unit']}.npz").is_file()  # the outputs came back
    # stage 3 (the "full" stage; smoke in the dry run) trains at the probe's length, and its gap-0
    # unit is the probe's (not trained twice) ...
    def rows(e):
        return [json.loads(p.read_text()) for p in (dst / f"runs/smoke/{e}/rows").glob("*.json")]
    assert rows("gap_sweep") and all(r["epochs"] == 1 and r["n_train"] == 200 for r in rows("gap_sweep"))
    assert {r["unit"] for r in rows("gap_sweep") if r["gap"] == 0} <= {x["unit"] for x in probe["runs"]}
    assert {r["key"] for r in rows("boosting")} == {f"{k}_seed0_m{t}" for k in ("zero", "save_mean_reverse")
                                                   for t in (1, 2)}
    # ... stage 4 (the "gpu" stage) at its own profile's length, without the probe's --set epochs
    heads = rows("frozen_last_layer")
    assert {r["head_label"] for r in heads} == {h[0] for h in experiments.PROFILES["smoke"]["heads"]}
    assert all(r["epochs"] == experiments.PROFILES["smoke"]["epochs"] for r in heads)
    # ... stage 5 (data size) at the sizes the script sets, not the profile's
    assert {r["size"] for r in rows("data_size")} == {100, 250}


def test_chains_without_stored_outputs_are_blocked(tmp_path, monkeypatch):
    """A chain with stored members continues exactly only from their outputs (cache or npz)."""
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "runs"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = experiments.configure("boosting", "smoke", device="cpu", progress=False, n_train=200, n_test=100,
                                    batch_size=25, members=2, rules=("zero",))
        experiments.run(cfg)
    finally:
        torch.set_num_threads(threads)
    assert experiments.PROFILES["smoke"]["members"] > 2   # so the stored chain (2 members) is unfinished
    assert chains.blocked_chains("smoke") == []           # its members' outputs are there
    units = tmp_path / "runs/smoke/units"
    m2 = json.loads((tmp_path / "runs/smoke/boosting/rows/zero_seed0_m2.json").read_text())["member_unit"]
    (units / "outputs" / f"{m2}.npz").unlink()
    assert chains.blocked_chains("smoke") == []           # the cache still holds it
    shutil.rmtree(units / "cache")
    assert chains.blocked_chains("smoke") == ["zero_seed0_m2"]
