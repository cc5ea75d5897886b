"""Where the training units of a batch run execute: in-process (``local``), on Ray, or on SLURM.

    python -m dboost.runner --profile paper --executor ray     [--ray-address HOST:PORT]
    python -m dboost.runner --profile paper --executor slurm   [--slurm-partition gpu --slurm-time 60 ...]
    python -m dboost.runner --profile gpu   --executor processes --workers 4   [--time-limit 8]

A run is a sequence of *rounds*.  In each round the experiment functions are executed in
*collect* mode (:mod:`dboost.experiments`): every unit whose inputs are known but which is not
in ``runs/`` yet is collected instead of trained -- the gap-0 nets first, then the gap-m0 nets
(whose gap is the gap-0 net's margin), the grid, and one boosting member per chain and round
(member t+1 needs member t's margins).  The collected units are sent to the engine; the
*driver* (this process) writes every returned unit into the row store, atomically, so workers
need no shared filesystem for results and a unit already in ``runs/`` is never sent again.
When a round collects nothing, the experiments run once more normally, which only writes the
experiment rows from the stored units.

``local`` is one worker, this process: the units of a round train one after another on the
driver's own data (no copy, no pickling), and an exception in one stops the run at once (it would
recur: nothing is retried).  ``processes`` trains the units of a round in a pool of worker processes on this machine, one GPU
per worker where there are several.  Sharing one GPU gains nothing for the gpu profile's
networks (``benchmarks/worker_overlap.py``: one H200 was already busy with one unit).
Ray and submitit are optional extras (``pip install -e ".[ray]"`` / ``".[slurm]"``).

Every executor has the same interface, ``run_<name>(cfgs, *, progress, deadline, ...)`` -> the
number of units trained.  A ``deadline`` (``--time-limit``) stops a run cleanly when a machine is lent for a fixed time:
no unit starts after it, every finished unit is stored and its experiment rows written; a rerun
resumes with the rest.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import warnings

from . import experiments

EXECUTORS = ("local", "processes", "ray", "slurm")
_WORKER_CFGS: dict = {}  # a worker process keeps its loaded data between units


class ExecutorError(RuntimeError):
    """An engine could not be started or joined (one line for the CLI)."""


def _need(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError:
        raise ValueError(f"--executor {extra} needs {module}: pip install -e \".[{extra}]\" (or pip install {module})") \
            from None


def execute_unit(spec: experiments.UnitSpec, device: str, data_root: str | None = None, threads: int | None = None,
                 executor: str = "ray", gpu_index: int | None = None):
    """Train one unit on a worker; returns (row, outputs).  Runs in a Ray task or a SLURM job.

    The worker loads the data set itself (``data_root`` or ``$DBOOST_DATA`` on the worker) once per
    process.  ``gpu_index`` pins the job to one GPU where the engine does not (submitit's local
    executor); Ray sets ``CUDA_VISIBLE_DEVICES`` per task itself.
    """
    if gpu_index is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_index)
    fault = os.environ.get("DBOOST_FAULT_KILL_ONCE")  # fault injection for the tests: die once, mid-unit
    if fault and not os.path.exists(fault):
        open(fault, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    import torch
    if threads:
        torch.set_num_threads(threads)
    k = (spec.profile, spec.experiment, device, data_root, tuple(sorted(spec.overrides.items())))
    if k not in _WORKER_CFGS:
        _WORKER_CFGS[k] = experiments.configure(spec.experiment, spec.profile, device=device, data_root=data_root,
                                                progress=False, **spec.overrides)
    cfg = _WORKER_CFGS[k]
    cfg.executor = executor
    t0 = time.time()
    row, out = experiments.measure_unit(cfg, spec)
    row["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    row["worker_span"] = [t0, time.time()]  # wall-clock interval on the worker: which units overlapped
    return row, out


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _rounds(cfgs: dict, submit, progress: bool, max_rounds: int = 10_000, deadline: float | None = None) -> int:
    """Collect, submit, store -- until nothing is left to train, or until ``deadline`` (a
    ``time.monotonic()`` value) has passed.  Returns the number of units trained."""
    done, failed_before, stopped = 0, set(), False
    bar = None
    if progress:
        from tqdm.auto import tqdm
        # The total (hence the ETA) from a stand-in plan of the units still to train; the real run
        # may need more (an adaptive grid that widens), and the total then grows.
        profile = next(iter(cfgs.values())).profile
        bar = tqdm(total=len(_stand_in_plan(cfgs, profile, remaining=True)), desc="units", unit="unit",
                   dynamic_ncols=True, smoothing=0.05)
    try:
        for round_no in range(1, max_rounds + 1):
            if _past(deadline):
                stopped = True
                break
            pending: dict = {}
            for cfg in cfgs.values():
                cfg.collect = pending
                experiments.run(cfg)
            if not pending:
                break
            if bar is not None:
                bar.total = max(bar.total or 0, done + len(pending))
                bar.set_postfix_str(f"round {round_no}: {len(pending)} unit(s)")
            failed = set()
            for key, result in submit(list(pending.values())):
                if isinstance(result, BaseException):
                    failed.add(key)
                    print(f"[dboost.runner] unit {key} failed: {type(result).__name__}: {result}", file=sys.stderr,
                          flush=True)
                    continue
                row, out = result
                any_cfg = next(iter(cfgs.values()))
                experiments.store_unit(any_cfg.units, row, out)
                done += 1
                if bar is not None:
                    bar.update(1)
            if failed and failed <= failed_before:
                raise RuntimeError(f"{len(failed)} unit(s) failed twice, e.g. {sorted(failed)[0]}; "
                                   "see the messages above (errors in dboost are not retried blindly)")
            failed_before |= failed
    finally:
        if bar is not None:
            bar.close()
        for cfg in cfgs.values():
            cfg.collect = None
    # Write the experiment rows of every stored unit.  All units are stored unless the deadline
    # stopped the run: then the rest are collected (counted), not trained.
    left: dict = {}
    for cfg in cfgs.values():
        cfg.collect = left if stopped else None
        experiments.run(cfg)
        cfg.collect = None
    if stopped:
        print(f"[dboost.runner] time limit reached after {done} unit(s); at least {len(left)} unit(s) left: "
              "rerun the same command to resume", file=sys.stderr, flush=True)
    return done


# ----------------------------------------------------------------------------- one worker: this process

def run_local(cfgs: dict, *, progress: bool = False, deadline: float | None = None) -> int:
    """The units of each round one after another in this process, on the configured data and
    device of the experiment that asked for each."""
    def submit(specs):
        for s in specs:
            if _past(deadline):
                return  # no unit starts after the deadline
            yield s.key, experiments.measure_unit(cfgs[s.experiment], s)
    return _rounds(cfgs, submit, progress, deadline=deadline)


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
            while queue and len(running) < int(workers) and not _past(deadline):
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
                except Exception as e:  # noqa: BLE001 -- reported per unit by _rounds
                    yield key, e
            if pool[0] is None:  # a worker died: the pool is gone; the rest of the round fails too
                for f, key in running.items():
                    yield key, RuntimeError("the worker pool broke (a worker process died)")
                for s in queue:
                    yield s.key, RuntimeError("the worker pool broke (a worker process died)")
                return
    try:
        return _rounds(cfgs, submit, progress, deadline=deadline)
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
            except Exception as e:  # noqa: BLE001 -- reported per unit by _rounds
                yield key, e
    return _rounds(cfgs, submit, progress, deadline=deadline)


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
    return _rounds(cfgs, submit, progress, deadline=deadline)


def _has_slurm() -> bool:
    import shutil
    return shutil.which("sbatch") is not None


def _visible_gpus() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# ----------------------------------------------------------------------------- the plan, without training

def plan(profile: str, only=None, seeds=None, data_root=None, **overrides) -> list[dict]:
    """The units a run of ``profile`` trains, in the rounds an executor would send them, without
    training anything: each collected unit is answered by a stand-in result (test accuracy falling
    with the gap, so an adaptive grid is assumed to peak inside its first grid; random margins, so
    per-sample gaps differ as real ones do).  Shared units appear once.  Nothing is written under
    ``runs/`` (the stand-in rows live in memory).  Returns one dict per unit:
    round, key, experiment (the first that asked for it), seed, epochs, gap (mean), head.
    """
    only = list(only or experiments.PROFILES[profile]["experiments"])
    cfgs = {e: experiments.configure(e, profile, seeds=seeds, data_root=data_root, progress=False, **overrides)
            for e in only}
    return _stand_in_plan(cfgs, profile, remaining=False)


def _stand_in_plan(cfgs: dict, profile: str, remaining: bool) -> list[dict]:
    """:func:`plan` over configured experiments.  ``remaining``: units already in ``runs/`` count as
    trained (their rows and outputs are read), so only the units still to train are listed -- the
    total of a resumed run's progress bar.  The configs' stores are restored afterwards."""
    import torch

    units: list[dict] = []
    saved = {e: (cfg.store, cfg.units) for e, cfg in cfgs.items()}
    # every store in memory: nothing is written, and no CSV is rebuilt per row
    shared = _OverlayStore(next(iter(cfgs.values())).units) if remaining else _MemoryStore()
    for cfg in cfgs.values():
        cfg.store, cfg.units = (_OverlayStore(cfg.store) if remaining else _MemoryStore()), shared
    n_round = [0]

    def submit(specs):
        n_round[0] += 1
        for s in specs:
            cfg = cfgs[s.experiment]
            g = torch.Generator().manual_seed(int(s.key[1:9], 16))
            gap = float(s.gaps.double().mean()) if isinstance(s.gaps, torch.Tensor) else float(s.gaps)
            acc = 1.0 / (2.0 + abs(gap))
            units.append(dict(round=n_round[0], key=s.key, experiment=s.experiment, seed=s.config["seed"],
                              epochs=s.config["epochs"], gap=gap, head=s.config["head"]["head"]))
            m = torch.randn(len(cfg.train_set), generator=g) + 1.0
            row = dict(unit=s.key, config=s.config, profile=profile, seed=s.config["seed"], gap=gap,
                       train_acc=1.0, train_mean_margin=float(m.double().mean()), test=dict(acc=acc),
                       precision=s.config["precision"], min_width=0.0 if s.min_width_n else None)
            out = dict(test_logits=torch.zeros(len(cfg.test_set), cfg.test_set.num_classes), train_margins=m,
                       wall=torch.tensor(0.0), trained_on="plan", state={})
            yield s.key, (row, out)
    try:
        _rounds(cfgs, submit, progress=False)
    finally:
        for e, cfg in cfgs.items():
            cfg.store, cfg.units = saved[e]
    return units


class _MemoryStore:
    """The :class:`dboost.results.Store` interface in memory (for :func:`plan`)."""

    def __init__(self):
        self._rows, self._tensors = {}, {}

    def has(self, key):
        return key in self._rows

    def get(self, key):
        return self._rows.get(key)

    def put(self, key, row):
        self._rows[key] = dict(row, key=key)

    def rows(self):
        return [self._rows[k] for k in sorted(self._rows)]

    def save_tensors(self, key, **tensors):
        self._tensors[key] = tensors

    def load_tensors(self, key):
        return self._tensors.get(key)

    def save_outputs(self, key, test_logits, train_margins):
        pass  # load_tensors already has them

    def load_outputs(self, key):
        return None


class _OverlayStore(_MemoryStore):
    """A :class:`_MemoryStore` over a real store: reads fall through to ``base`` (what is already in
    ``runs/``), writes stay in memory (for :func:`_stand_in_plan` of a resumed run)."""

    def __init__(self, base):
        super().__init__()
        self._base = base

    def has(self, key):
        return key in self._rows or self._base.has(key)

    def get(self, key):
        return self._rows[key] if key in self._rows else self._base.get(key)

    def rows(self):
        return sorted({**{r["key"]: r for r in self._base.rows()}, **self._rows}.values(), key=lambda r: r["key"])

    def load_tensors(self, key):
        return self._tensors[key] if key in self._tensors else self._base.load_tensors(key)

    def load_outputs(self, key):
        return None if key in self._rows else self._base.load_outputs(key)
