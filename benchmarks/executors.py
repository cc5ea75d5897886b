"""Local vs Ray on this machine: the smoke profile's units, wall time and ratio in one run.

    python benchmarks/executors.py [--out benchmarks/results/executors.txt]

Both runs train the same units of the smoke profile (gap sweep, head study, boosting; synthetic
data) into temporary runs folders, one thread per unit.  ``local`` trains them one after another
in this process; ``ray`` runs them as Ray tasks on a local instance with one CPU per task (as
many tasks at once as there are cores).  The Ray start-up (``ray.init``) is timed separately and
included in the Ray total.  A benchmark, not a test: run it on an idle machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

ONLY = ("gap_sweep", "frozen_last_layer", "boosting")


def _cfgs():
    from dboost import experiments
    return {e: experiments.configure(e, "smoke", device="cpu", progress=False) for e in ONLY}


def main(argv=None) -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    import ray

    from dboost import executors, experiments, rounds
    torch.set_num_threads(1)
    n_units = len(rounds.plan("smoke", only=ONLY))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DBOOST_RUNS"] = str(Path(tmp) / "local")
        t0 = time.perf_counter()
        for cfg in _cfgs().values():
            experiments.run(cfg)
        t_local = time.perf_counter() - t0
        os.environ["DBOOST_RUNS"] = str(Path(tmp) / "ray")
        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        t_init = time.perf_counter() - t0
        n = executors.run_ray(_cfgs(), gpus_per_unit=0, cpus_per_unit=1)
        t_ray = time.perf_counter() - t0
        ray.shutdown()
    lines = [f"# benchmarks/executors.py, {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, torch {torch.__version__}, ray {ray.__version__}",
             f"smoke profile ({', '.join(ONLY)}): {n_units} units in the plan, {n} trained on ray (the plan assumes "
             "m0 > 0; on the synthetic smoke data m0 < 0, so the clamped gap-m0 nets are the gap-0 units)",
             f"local  (in-process, 1 thread):              {t_local:7.1f} s",
             f"ray    (local instance, {os.cpu_count()} CPUs, 1 per unit):  {t_ray:7.1f} s "
             f"(of which ray.init {t_init:.1f} s)",
             f"ratio local / ray: {t_local / t_ray:.2f}x (ray without its start-up: {t_local / (t_ray - t_init):.2f}x)",
             "At this size Ray's start-up and per-task overhead outweigh two cores of parallelism; it pays off "
             "where a unit takes tens of seconds and there are many devices."]
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
