"""A run in rounds: collect the units whose inputs are known, hand them to an executor, store them.

In each round every experiment's tasks are replayed with ``cfg.collect`` set
(:mod:`dboost.experiments.schedule`): every unit whose inputs are known but which is not in
``runs/`` yet is collected instead of trained -- the gap-0 nets first, then the gap-m0 nets (whose
gap is the gap-0 net's margin), the grid, and one boosting member per chain and round (member t+1
needs member t's margins).  The collected units go to the executor's ``submit``
(:mod:`dboost.executors`); the *driver* (this process) writes every returned unit into the row
store, atomically, so workers need no shared filesystem for results and a unit already in
``runs/`` is never sent again.  When a round collects nothing, the experiments run once more
normally, which only writes the experiment rows from the stored units.

:func:`plan` runs the same rounds against stand-in results, training nothing (``dboost plan``).
"""
from __future__ import annotations

import os
import signal
import sys
import time

from . import experiments

_WORKER_CFGS: dict = {}  # a worker process keeps its loaded data between units


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


def resumed_first(units, specs: list) -> list:
    """``specs`` with the units that have a training checkpoint (killed mid-training) first, else
    in their order: a resumed run finishes the work it already paid for before it starts new units,
    so a session that ends hard leaves at most one partial training per worker."""
    path = getattr(units, "checkpoint_path", None)

    def started(s) -> bool:
        p = path(s.key) if path else None
        return p is not None and p.exists()
    return sorted(specs, key=lambda s: not started(s))  # stable: the others keep their order


def past_deadline(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def run_rounds(cfgs: dict, submit, progress: bool, max_rounds: int = 10_000, deadline: float | None = None) -> int:
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
            if past_deadline(deadline):
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
            any_cfg = next(iter(cfgs.values()))
            for key, result in submit(resumed_first(any_cfg.units, list(pending.values()))):
                if isinstance(result, BaseException):
                    failed.add(key)
                    print(f"[dboost.runner] unit {key} failed: {type(result).__name__}: {result}", file=sys.stderr,
                          flush=True)
                    continue
                row, out = result
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



# ----------------------------------------------------------------------------- the plan, without training

def plan(profile: str, only=None, seeds=None, data_root=None, missing: bool = False, **overrides) -> list[dict]:
    """The units a run of ``profile`` trains, in the rounds an executor would send them, without
    training anything: each collected unit is answered by a stand-in result (test accuracy falling
    with the gap, so an adaptive grid is assumed to peak inside its first grid; random margins, so
    per-sample gaps differ as real ones do).  Shared units appear once.  Nothing is written under
    ``runs/`` (the stand-in rows live in memory).  ``missing``: only the units not yet in ``runs/``
    (the stored ones are read and answer their requests).  Returns one dict per unit:
    round, key, experiment (the first that asked for it), seed, epochs, gap (mean), head.
    """
    only = list(only or experiments.PROFILES[profile]["experiments"])
    cfgs = {e: experiments.configure(e, profile, seeds=seeds, data_root=data_root, progress=False, **overrides)
            for e in only}
    return _stand_in_plan(cfgs, profile, remaining=missing)


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
        run_rounds(cfgs, submit, progress=False)
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

    def checkpoint_path(self, key):
        return None  # nothing in memory survives a kill: train without a checkpoint

    def drop_checkpoint(self, key):
        pass


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
