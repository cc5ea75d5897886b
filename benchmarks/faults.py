"""Fault injection: SIGKILL a smoke batch at random times, resume, compare with an uninterrupted run.

    python benchmarks/faults.py [--kills 10] [--only boosting gap_sweep] [--seed 0] [--notebooks]

1. A reference run of ``python -m dboost.runner --profile smoke --no-publish`` (``--no-notebooks``
   unless ``--notebooks``) in a temporary ``DBOOST_RUNS``, one thread (results depend on the
   thread count: the reference and every resumed run use the same one).
2. ``--kills`` times: start the same command in a fresh process group, SIGKILL that group at a
   random moment, check that every row on disk is whole and valid (``Store.check``), and start
   again (a resume).  When a run completes before its kill, its rows are compared with the
   reference and the next kills start over in a fresh folder (a new cycle).
3. After the last kill, a final resume completes; its rows must equal the reference's in every
   field except timings and timestamps, no temporary file may be left, and each results.csv must
   match its rows.

Rows record the git commit; the children get ``DBOOST_GIT_COMMIT`` pinned to HEAD at the start,
so a commit made meanwhile does not count as a mismatch (an early run failed on exactly that).
Only process groups this script started are signalled.  The orphaned Jupyter kernel of a killed
``--notebooks`` run (jupyter_client starts it in a session of its own) is not signalled: it exits
by itself when it sees its parent gone, and rows it writes meanwhile are whole (atomic).
Not part of the test suite (minutes); the last output is in ``benchmarks/results/faults.txt``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dboost.results import Store  # noqa: E402

COMMIT = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip() \
    or "unknown"
VOLATILE = {"finished_at", "unit_finished_at", "train_wall_time_s", "eval_wall_time_s", "images_per_s",
            "member_wall_time_s", "env", "train_segments"}


def command(a) -> list[str]:
    cmd = [sys.executable, "-m", "dboost.runner", "--profile", "smoke", "--no-publish"]
    if not a.notebooks:
        cmd.append("--no-notebooks")
    if a.only:
        cmd += ["--only", *a.only]
    return cmd


def start(cmd, runs: Path, log) -> subprocess.Popen:
    env = dict(os.environ, DBOOST_RUNS=str(runs), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("DBOOST_RESULTS", None)
    # Rows record the git commit: pin it, so a commit made while this runs is no "mismatch".
    env.setdefault("DBOOST_GIT_COMMIT", COMMIT)
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)


def rows(runs: Path) -> dict:
    out = {}
    for f in sorted(runs.rglob("rows/*.json")):
        r = json.loads(f.read_text())
        out[str(f.relative_to(runs))] = {k: v for k, v in r.items() if k not in VOLATILE}
    return out


def check_whole(runs: Path) -> int:
    n = 0
    for d in sorted(runs.glob("*/*/rows")):
        n += Store(d.parent.parent.name, d.parent.name, runs).check()  # raises on any broken row
    return n


def temps(runs: Path) -> list[Path]:
    return [p for p in runs.rglob(".*") if p.name.endswith(".tmp") or p.name.endswith(".tmp.ipynb")]


def compare(runs: Path, ref: dict) -> list[str]:
    got = rows(runs)
    bad = []
    for k in sorted(set(ref) | set(got)):
        a, b = ref.get(k), got.get(k)
        if a != b:
            fields = sorted(f for f in set(a or {}) | set(b or {}) if (a or {}).get(f) != (b or {}).get(f))
            bad.append(f"{k}: differs in {', '.join(fields) if a and b else 'presence'}")
    for d in sorted(runs.glob("*/*/rows")):
        st = Store(d.parent.parent.name, d.parent.name, runs)
        if (st.dir / "results.csv").read_bytes() != st.csv_text().encode():
            bad.append(f"{st.dir}/results.csv out of step with its rows")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--only", nargs="+", default=["gap_sweep", "boosting"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--notebooks", action="store_true", help="run the notebooks (papermill) too")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    cmd = command(a)
    work = Path(tempfile.mkdtemp(prefix="dboost-faults-"))
    log = open(work / "log.txt", "wb")
    print(f"command: {' '.join(cmd[1:])}  (OMP_NUM_THREADS=1, DBOOST_RUNS in {work})", flush=True)
    procs: list[subprocess.Popen] = []
    try:
        t0 = time.perf_counter()
        p = start(cmd, work / "ref", log)
        procs.append(p)
        if p.wait() != 0:
            print("reference run failed; see", work / "log.txt")
            return 1
        t_ref = time.perf_counter() - t0
        ref = rows(work / "ref")
        print(f"reference: {len(ref)} rows in {t_ref:.1f} s", flush=True)

        cycle, runs = 0, work / "faults0"
        kills = completed_early = 0
        failures: list[str] = []
        lost = 0
        while kills < a.kills:
            before = check_whole(runs) if runs.exists() else 0
            delay = rng.uniform(0.5, max(1.0, t_ref))
            p = start(cmd, runs, log)
            procs.append(p)
            try:
                rc = p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # this script's own process group only
                except ProcessLookupError:
                    pass
                p.wait()
                kills += 1
                try:
                    n = check_whole(runs)
                except ValueError as e:  # a broken row: the very thing this script looks for
                    failures.append(f"kill {kills}: {e}")
                    print(f"kill {kills:3d} at {delay:5.1f} s: BROKEN ROW {e}", flush=True)
                    break
                if n < before:
                    lost += before - n
                    failures.append(f"kill {kills}: rows went from {before} to {n}")
                print(f"kill {kills:3d} at {delay:5.1f} s: {n:3d} whole rows on disk (was {before}), "
                      f"{len(temps(runs))} temp file(s) left by the kill", flush=True)
                continue
            completed_early += 1
            bad = compare(runs, ref) if rc == 0 else [f"exit code {rc}"]
            failures += [f"cycle {cycle}: {b}" for b in bad]
            print(f"cycle {cycle}: completed before its kill ({delay:.1f} s); rows match the reference: "
                  f"{not bad}", flush=True)
            cycle += 1
            runs = work / f"faults{cycle}"
        p = start(cmd, runs, log)  # the final resume
        procs.append(p)
        rc = p.wait()
        bad = compare(runs, ref) if rc == 0 else [f"final resume: exit code {rc}"]
        left = temps(runs)
        failures += [f"cycle {cycle}: {b}" for b in bad] + [f"temp file left: {t}" for t in left]
        print(f"cycle {cycle}: final resume rc {rc}; rows match the reference: {not bad}; temp files left: {len(left)}")
        print(f"\n{kills} SIGKILLs over {cycle + 1} cycle(s) ({completed_early} run(s) finished before their kill); "
              f"rows lost: {lost}; mismatches and leftovers: {len(failures)}")
        for f in failures:
            print("  FAIL", f)
        print("RESULT:", "PASS" if not failures else "FAIL")
        return 0 if not failures else 1
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        log.close()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
