"""Where the training units of a run execute: in-process (``local``), a pool of processes, Ray, or SLURM.

    python -m dboost.runner --profile paper --executor ray     [--ray-address HOST:PORT]
    python -m dboost.runner --profile paper --executor slurm   [--slurm-partition gpu --slurm-time 60 ...]
    python -m dboost.runner --profile gpu   --executor processes --workers 4   [--time-limit 8]

A run is a sequence of *rounds* (:mod:`dboost.rounds`: collect the units whose inputs are
known, submit them, store what comes back); an executor is where a round's units train.

``local`` is one worker, this process: the units of a round train one after another on the
driver's own data (no copy, no pickling), and an exception in one stops the run at once (it would
recur: nothing is retried).  ``processes`` trains the units of a round in a pool of worker
processes on this machine, one GPU per worker where there are several.  Sharing one GPU gains nothing for the gpu profile's
networks (``benchmarks/worker_overlap.py``: one H200 was already busy with one unit).
Ray and submitit are optional extras (``pip install -e ".[ray]"`` / ``".[slurm]"``).

Every executor has the same interface, ``run_<name>(cfgs, *, progress, deadline, ...)`` -> the
number of units trained.  A ``deadline`` (``--time-limit``) stops a run cleanly when a machine is
lent for a fixed time: no unit starts after it, every finished unit is stored and its experiment rows written; a rerun
resumes with the rest.
"""
from __future__ import annotations

import os
import warnings

from . import experiments
from .rounds import execute_unit, past_deadline, run_rounds

EXECUTORS = ("local", "processes", "ray", "slurm")


class ExecutorError(RuntimeError):
    """An engine could not be started or joined (one line for the CLI)."""


def _need(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError:
        raise ValueError(f"--executor {extra} needs {module}: pip install -e \".[{extra}]\" (or pip install {module})") \
            from None


# ----------------------------------------------------------------------------- one worker: this process

def run_local(cfgs: dict, *, progress: bool = False, deadline: float | None = None) -> int:
    """The units of each round one after another in this process, on the configured data and
    device of the experiment that asked for each."""
    def submit(specs):
        for s in specs:
            if past_deadline(deadline):
                return  # no unit starts after the deadline
            yield s.key, experiments.measure_unit(cfgs[s.experiment], s)
    return run_rounds(cfgs, submit, progress, deadline=deadline)


# ----------------------------------------------------------------------------- worker processes

def _pin_worker(slots) -> None:
    """Pool initializer: take one GPU index and make it this worker's only visible device (before
    CUDA is initialised in the worker)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = str(slots.get())


def run_processes(cfgs: dict, *, workers: int = 2, threads: int | None = None, data_root: str | None = None,
                  progress: bool = False, deadline: float | None = None, gpu_count: int | None = None) -> int:
    """The units of each round in a pool of ``workers`` processes on this machine.  Each worker
    loads the data once and uses ``threads`` CPU threads (default: the cores divided among the
    workers).  On CUDA with several GPUs (``gpu_count``, default: all that torch sees) the workers
    are pinned round robin, one GPU each (``CUDA_VISIBLE_DEVICES``); on one GPU they share it.
    Processes are spawned, not forked, so CUDA is never initialised before a fork.  A worker that
    dies breaks the pool: its round's units are reported failed and the next round gets a fresh pool."""
    import concurrent.futures as cf
    import multiprocessing as mp
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive int; got {workers!r}")
    device = next(iter(cfgs.values())).device
    threads = threads or max(1, (os.cpu_count() or 1) // int(workers))
    if gpu_count is None:
        gpu_count = _visible_gpus() if device.startswith("cuda") else 0
    ctx = mp.get_context("spawn")
    pin = {}
    if gpu_count > 1:
        if device.startswith("cuda"):
            device = "cuda"  # each worker sees its one GPU as cuda:0
        pin = dict(initializer=_pin_worker, initargs=(ctx.Queue(),))
    pool = [None]

    def new_pool():
        if pin:  # a fresh pool (also after a worker died) hands out the GPUs again
            q = pin["initargs"][0]
            while not q.empty():
                q.get()
            for i in range(int(workers)):
                q.put(i % gpu_count)
        return cf.ProcessPoolExecutor(int(workers), mp_context=ctx, **pin)

    def submit(specs):
        # Hand a unit to the pool only when a worker is free: the pool's own queue would start
        # every unit already handed over, even after the deadline (a future in its queue cannot be
        # cancelled).  So no unit starts after the deadline: the run overshoots it by at most the
        # units running at that moment.
        if pool[0] is None:
            pool[0] = new_pool()
        queue, running = list(specs), {}
        while queue or running:
            while queue and len(running) < int(workers) and not past_deadline(deadline):
                s = queue.pop(0)
                running[pool[0].submit(execute_unit, s, device, data_root, threads, "processes")] = s.key
            if not running:
                return  # past the deadline: the rest of this round is not started
            finished, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for f in finished:
                key = running.pop(f)
                try:
                    yield key, f.result()
                except cf.process.BrokenProcessPool as e:
                    if pool[0] is not None:
                        pool[0].shutdown(wait=False, cancel_futures=True)
                    pool[0] = None
                    yield key, e
                except Exception as e:  # noqa: BLE001 -- reported per unit by run_rounds
                    yield key, e
            if pool[0] is None:  # a worker died: the pool is gone; the rest of the round fails too
                for f, key in running.items():
                    yield key, RuntimeError("the worker pool broke (a worker process died)")
                for s in queue:
                    yield s.key, RuntimeError("the worker pool broke (a worker process died)")
                return
    try:
        return run_rounds(cfgs, submit, progress, deadline=deadline)
    finally:
        if pool[0] is not None:
            pool[0].shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------- Ray

def run_ray(cfgs: dict, *, address: str | None = None, gpus_per_unit: float | None = None, cpus_per_unit: int = 1,
            data_root: str | None = None, progress: bool = False, max_retries: int = 3, init_kw: dict | None = None,
            runtime_env: dict | None = None, deadline: float | None = None) -> int:
    """Each unit a Ray task (``num_gpus`` per unit on GPU machines); a local instance unless
    ``address`` or ``$RAY_ADDRESS`` names a cluster.  Workers that die are retried
    (``max_retries``); exceptions raised by dboost are not (``retry_exceptions=False``)."""
    ray = _need("ray", "ray")
    device = next(iter(cfgs.values())).device
    if gpus_per_unit is None:
        gpus_per_unit = 1 if device.startswith("cuda") else 0
    if not ray.is_initialized():
        where = address or os.environ.get("RAY_ADDRESS")
        try:
            ray.init(address=where, include_dashboard=False, log_to_driver=False, **(init_kw or {}))
        except Exception as e:  # noqa: BLE001 -- Ray raises bare Exceptions for start-up failures
            raise ExecutorError(f"could not {'join the Ray cluster at ' + where if where else 'start a local Ray instance'}:"
                                f" {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    # On a GPU each task sees one device through CUDA_VISIBLE_DEVICES: it trains on "cuda" (= its GPU).
    dev = "cuda" if device.startswith("cuda") else device
    opts = dict(runtime_env=runtime_env) if runtime_env else {}
    task = ray.remote(num_gpus=gpus_per_unit, num_cpus=cpus_per_unit, max_retries=max_retries,
                      retry_exceptions=False, **opts)(execute_unit)

    def submit(specs):
        refs = {task.remote(s, dev, data_root, cpus_per_unit, "ray"): s.key for s in specs}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            key = refs.pop(ready[0])
            try:
                yield key, ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 -- reported per unit by run_rounds
                yield key, e
    return run_rounds(cfgs, submit, progress, deadline=deadline)


# ----------------------------------------------------------------------------- SLURM (submitit)

def run_slurm(cfgs: dict, *, folder, partition: str | None = None, time_min: int = 60, gpus_per_task: int | None = None,
              cpus_per_task: int = 4, array_parallelism: int = 64, cluster: str | None = None,
              data_root: str | None = None, progress: bool = False, deadline: float | None = None) -> int:
    """Each round one submitit job array (``map_array``).  Without SLURM (no ``sbatch``) it falls
    back to submitit's local executor with a one-line warning, as ``AutoExecutor`` does; there
    each job is pinned to one GPU (round robin) since that executor hands GPU 0 to every job."""
    submitit = _need("submitit", "slurm")
    device = next(iter(cfgs.values())).device
    if cluster is None:
        cluster = "slurm" if _has_slurm() else "local"
        if cluster == "local":
            warnings.warn("no SLURM here (sbatch not found): running the jobs with submitit's local executor",
                          stacklevel=2)
    ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    gpus = gpus_per_task if gpus_per_task is not None else (1 if device.startswith("cuda") else 0)
    params = dict(timeout_min=time_min, cpus_per_task=cpus_per_task)
    if cluster == "slurm":
        params.update(slurm_partition=partition, slurm_array_parallelism=array_parallelism, gpus_per_node=gpus)
        params = {k: v for k, v in params.items() if v is not None}
    ex.update_parameters(**params)
    n_gpu = _visible_gpus() if (cluster == "local" and gpus) else 0
    dev = "cuda" if device.startswith("cuda") else device

    def submit(specs):
        n = len(specs)
        gpu_idx = [i % n_gpu for i in range(n)] if n_gpu else [None] * n
        if cluster == "debug":  # in-process: one job after another
            jobs = [ex.submit(execute_unit, s, dev, data_root, cpus_per_task, "slurm", g) for s, g in zip(specs, gpu_idx)]
        else:
            jobs = ex.map_array(execute_unit, specs, [dev] * n, [data_root] * n, [cpus_per_task] * n, ["slurm"] * n,
                                gpu_idx)
        keys = {id(j): s.key for j, s in zip(jobs, specs)}
        for job in submitit.helpers.as_completed(jobs):
            try:
                yield keys[id(job)], job.result()
            except Exception as e:  # noqa: BLE001 -- a failed or preempted job: reported, resubmitted once
                yield keys[id(job)], e
    return run_rounds(cfgs, submit, progress, deadline=deadline)


def _has_slurm() -> bool:
    import shutil
    return shutil.which("sbatch") is not None


def _visible_gpus() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
