"""The runner: train the selected experiments' units, then render the book's pages with papermill into ``runs/<profile>/``.

    python -m dboost.runner --profile cpu [--only boosting ...] [--device cuda] [--no-notebooks]
    python -m dboost.runner --profile paper --executor ray|slurm      (many GPUs, a cluster)

(``dboost run`` is the same command; see :mod:`dboost.cli`.)

* Validates the profile, the experiment names, the device, the seeds, the data set, the runs
  folder and every row already stored *before* any training (``experiments.configure``); a bad
  argument stops the run with one message (exit code 2) and writes nothing.
* At the start of a run, temporary files left by killed runs are removed (only ours, only those
  of dead processes: see ``results.clean_stale_temps``) and each ``results.csv`` that no longer
  matches its rows is rebuilt from them.
* Training happens here, before any page renders: every unit of the selected experiments on the
  executor (``local``: this process, one unit at a time; ``processes``, ``ray``, ``slurm``:
  :mod:`dboost.executors`), then the experiment rows.  Each unit is resumable (rows land
  atomically in ``runs/``), so a rerun after a crash or ``kill -9`` skips what is finished.
* The pages only read ``runs/`` (:mod:`dboost.pages`; papermill passes them the profile alone),
  so ``--set`` overrides shape what trains and the pages show the rows stored.
* ``--no-train`` renders the pages from the rows already stored (a run still going, in the
  background or on other machines) without training anything, and without the data set.
* ``--no-notebooks`` trains without rendering (for machines with no Jupyter kernel, e.g. a bare
  GPU box); rerunning later with notebooks only renders.
* Finally it *publishes*: the best available executed notebook of each experiment
  (paper > full > interp > gpu > cpu > paper_authors > smoke) is copied to ``book/results/`` and the summary page is
  executed there, so ``jupyter-book build book/`` only renders.
"""
from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from . import executors, experiments, registry
from .config import PROFILE_RANK, PROFILES, resolve
from .executors import EXECUTORS
from .results import Store, atomic_write_bytes, atomic_write_text, check_runs_root, clean_stale_temps, runs_root
from .runtime import cpu_threads

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "book" / "notebooks"
# $DBOOST_RESULTS: where to publish instead of book/results (tests publish into a temporary copy).
RESULTS = Path(os.environ["DBOOST_RESULTS"]) if os.environ.get("DBOOST_RESULTS") else ROOT / "book" / "results"


def executed_path(profile: str, experiment: str) -> Path:
    return runs_root() / profile / experiment / f"{experiment}.ipynb"


def _papermill(src: Path, dst: Path, params: dict, progress: bool) -> None:
    import papermill as pm
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp.ipynb")  # the pid: see results.clean_stale_temps
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(src), str(tmp), parameters=params, cwd=str(src.parent), kernel_name="python3",
                            progress_bar=progress, log_output=False, report_mode=False)
        os.replace(tmp, dst)  # the executed notebook appears whole or not at all
    finally:
        if tmp.exists():
            tmp.unlink()


def run(profile: str, only=None, device=None, notebooks: bool = True, seeds=None, data_root=None,
        progress: bool | None = None, publish_book: bool = True, train: bool = True, executor: str = "local",
        executor_kw: dict | None = None, overrides: dict | None = None, time_limit_min: float | None = None) -> dict:
    """Run the selected experiments of ``profile``; returns {experiment: wall seconds}.

    First every unit of the selected experiments trains on ``executor`` (:mod:`dboost.executors`:
    ``local`` is one worker, this process; ``processes`` / ``ray`` / ``slurm`` many) and the
    experiment rows are written; then the notebooks render, and only read ``runs/``
    (:mod:`dboost.pages`: papermill passes them the profile alone).
    overrides: profile settings to change for this run (``--set rules='["zero"]'``); they shape
    what trains, and the pages show whatever rows are stored.
    time_limit_min: no new unit starts after this many minutes from the call; the run stops with
    every finished unit stored (the pages render what is there), and a rerun resumes."""
    t_start = time.monotonic()
    overrides = dict(overrides or {})
    if time_limit_min is not None:
        if not train:
            raise ValueError("--time-limit limits training; it does not combine with --no-train")
        if not time_limit_min > 0:
            raise ValueError(f"--time-limit must be a positive number of minutes; got {time_limit_min!r}")
    only = list(only or PROFILES.get(profile, {}).get("experiments", registry.names()))
    bad = [e for e in only if e not in registry.names()]
    if bad:
        raise ValueError(f"unknown experiment(s) {bad}; known: {', '.join(registry.names())}")
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    progress = sys.stderr.isatty() if progress is None else progress
    # 1. Validate everything (names, sizes, device, seeds, data, runs folder, stored rows) before
    #    the first model trains; configure writes nothing.  A render (train=False) needs no data
    #    set: it checks the profile and the experiment names only.
    p = resolve(profile, overrides, seeds=seeds)
    if train:
        cfgs = {e: experiments.configure(e, profile=profile, device=device, seeds=seeds, data_root=data_root,
                                         progress=progress, **overrides) for e in only}
    else:
        out = [e for e in only if e not in p["experiments"]]
        if out:
            raise ValueError(f"experiment(s) {out} are not part of profile {profile!r} "
                             f"(its experiments: {', '.join(p['experiments'])})")
        cfgs = dict.fromkeys(only)
    # The profile's CPU thread count (smoke: 1) for this process, its notebook kernels and its
    # workers (they inherit OMP_NUM_THREADS); profiles without one keep torch's default.
    threads = p["threads"]
    if executor == "processes" and threads and not (executor_kw or {}).get("threads"):
        executor_kw = dict(executor_kw or {}, threads=threads)
    with cpu_threads(threads):  # refuses a bad count before anything is written
        # 2. Tidy what killed runs may have left: our stale temporary files, results.csv out of step.
        prepare(profile, only)
        times = {}
        if train and cfgs:
            # 3. Train: every unit of the selected experiments, then their rows.
            write_config(profile, p, overrides)
            t0 = time.perf_counter()
            kw = dict(executor_kw or {}, progress=progress)
            if time_limit_min is not None:
                kw["deadline"] = t_start + 60.0 * float(time_limit_min)
            if executor == "local":
                n = executors.run_local(cfgs, **kw)
            elif executor == "processes":
                n = executors.run_processes(cfgs, data_root=str(data_root) if data_root else None, **kw)
            elif executor == "ray":
                n = executors.run_ray(cfgs, data_root=str(data_root) if data_root else None, **kw)
            else:
                n = executors.run_slurm(cfgs, folder=runs_root() / profile / ".submitit",
                                        data_root=str(data_root) if data_root else None, **kw)
            times["units"] = time.perf_counter() - t0
            print(f"[dboost.runner] {profile}: {n} units trained on {executor} in {times['units']:.1f} s", flush=True)
        if notebooks:
            # 4. Render: the pages read the rows just written (and any others stored).
            for e in cfgs:
                t0 = time.perf_counter()
                _papermill(NOTEBOOKS / f"{e}.ipynb", executed_path(profile, e), dict(profile=profile), progress)
                times[e] = time.perf_counter() - t0
                print(f"[dboost.runner] {profile}/{e}: rendered in {times[e]:.1f} s", flush=True)
        if notebooks and publish_book:
            if _publishes_elsewhere():
                print(f"[dboost.runner] not publishing: the runs folder {runs_root()} is not this repository's runs/ "
                      f"and would replace the book's pages in {RESULTS}; set DBOOST_RESULTS to publish elsewhere, or "
                      "use --publish-only", flush=True)
            else:
                publish(progress=progress)
        return times


def _publishes_elsewhere() -> bool:
    """A run on another runs folder ($DBOOST_RUNS: a test, a scratch run) must not overwrite the
    repository's book/results unless publishing was pointed elsewhere too ($DBOOST_RESULTS)."""
    return runs_root().resolve() != (ROOT / "runs").resolve() and not os.environ.get("DBOOST_RESULTS")


def prepare(profile: str, only=None) -> None:
    """Start of a run (after validation), or after rows were rewritten (``dboost calibrate``):
    create the runs folder, remove the temporary files that killed runs left in this profile's
    folders (ours only, of dead processes), and rebuild every results.csv that does not match its
    rows.  ``only``: the experiments' folders (None: every folder of the profile that holds rows)."""
    root = check_runs_root()
    root.mkdir(parents=True, exist_ok=True)
    if only is None:
        only = sorted(d.name for d in (root / profile).glob("*") if (d / "rows").is_dir() and d.name != "units")
    clean_stale_temps(root / profile / "configs")  # write_config's
    for e in [*only, "units"]:
        st = Store(profile, e)
        gone = clean_stale_temps(st.dir, st.rows_dir, st.cache_dir)
        if gone:
            print(f"[dboost.runner] {profile}/{e}: removed {len(gone)} stale temporary file(s) of killed runs", flush=True)
        if st.sync_csv():
            print(f"[dboost.runner] {profile}/{e}: results.csv did not match the rows; rebuilt from them", flush=True)


def config_path(profile: str, text: str) -> Path:
    """Where the resolved configuration ``text`` of a run of ``profile`` is kept: named by a hash of it."""
    return runs_root() / profile / "configs" / f"{hashlib.sha1(text.encode()).hexdigest()[:12]}.json"


def write_config(profile: str, p, overrides: dict) -> Path:
    """The resolved settings of this training run, beside its rows: what the rows were trained with,
    readable without the code that defined the profile (``dboost.config.resolve``).

    One file per distinct configuration (``runs/<profile>/configs/<hash>.json``), written
    atomically: two runs of a profile with other ``--set`` overrides at once each keep theirs,
    and the same configuration run twice is the same file."""
    text = json.dumps(dict(profile=profile, overrides=overrides, settings=p.settings()), indent=1, sort_keys=True,
                      default=str) + "\n"
    path = config_path(profile, text)
    if not path.is_file():
        atomic_write_text(path, text)
    return path


def _sources() -> list[tuple[str, str, Path]]:
    """(experiment, profile, executed notebook) of the best profile per experiment."""
    out = []
    for e in registry.names():
        for p in PROFILE_RANK:
            src = executed_path(p, e)
            if src.is_file():
                out.append((e, p, src))
                break
    return out


def publish(progress: bool = False) -> list[str]:
    """Copy the best executed notebook of each experiment into book/results and run the summary.

    Refuses (ValueError, nothing written) when the runs folder holds no executed notebook at all:
    the summary would otherwise be rebuilt from nothing.
    """
    sources = _sources()
    if not sources:
        raise ValueError(f"nothing to publish: no executed notebook under {runs_root()} "
                         "(runs/<profile>/<experiment>/<experiment>.ipynb); run the experiments first")
    done = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(RESULTS)
    for e, p, src in sources:
        atomic_write_bytes(RESULTS / f"{e}.ipynb", src.read_bytes())
        done.append(f"{e}: {p}")
    _papermill(NOTEBOOKS / "summary.ipynb", RESULTS / "summary.ipynb", {}, progress)
    print("[dboost.runner] published to book/results: " + ", ".join(done), flush=True)
    return done


def main(argv=None) -> int:
    """``python -m dboost.runner`` (the same as ``dboost run``)."""
    ap = argparse.ArgumentParser(prog="python -m dboost.runner", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return execute(ap.parse_args(argv))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of a run (shared by ``python -m dboost.runner`` and ``dboost run`` / ``render``)."""
    ap.add_argument("--profile", required=False, default="smoke", help=f"one of {', '.join(PROFILES)}")
    ap.add_argument("--only", nargs="+", metavar="EXPERIMENT", help=f"subset of {', '.join(registry.names())}")
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    ap.add_argument("--seeds", nargs="+", type=int, default=None, help="override the profile's seeds")
    ap.add_argument("--data-root", default=None, help="CIFAR folder (default: $DBOOST_DATA, then download)")
    ap.add_argument("--no-notebooks", action="store_true", help="train only: do not render the pages (no papermill)")
    ap.add_argument("--publish-only", action="store_true", help="only refresh book/results from existing runs")
    ap.add_argument("--no-publish", action="store_true", help="leave book/results as it is")
    ap.add_argument("--executor", default="local", choices=EXECUTORS,
                    help="where units train: in-process (default), a pool of worker processes here (several "
                    "at once on one GPU), Ray tasks, or SLURM jobs via submitit")
    ap.add_argument("--workers", type=int, default=2, help="processes: worker processes (default 2)")
    ap.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                    help="start no new unit after this many minutes; finished units are kept, the pages render "
                    "what is stored, and a rerun resumes")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change one profile setting for this run (VALUE as JSON, e.g. --set "
                    "'rules=[\"zero\",\"constant\"]'); the pages show the rows stored")
    ap.add_argument("--ray-address", default=None, help="join this Ray cluster (default: $RAY_ADDRESS, else a local one)")
    ap.add_argument("--gpus-per-unit", type=float, default=None, help="Ray: GPUs per unit (default 1 on CUDA, else 0)")
    ap.add_argument("--cpus-per-unit", type=int, default=None,
                    help="CPU threads per unit (Ray/SLURM default 1; processes: the cores divided among the workers)")
    ap.add_argument("--slurm-partition", default=None, help="SLURM partition")
    ap.add_argument("--slurm-time", type=int, default=60, help="SLURM time limit per unit, minutes")
    ap.add_argument("--slurm-gpus", type=int, default=None, help="SLURM GPUs per task (default 1 on CUDA, else 0)")
    ap.add_argument("--slurm-parallel", type=int, default=64, help="SLURM array parallelism (jobs at once)")
    ap.add_argument("--no-train", action="store_true", help="render the notebooks from the rows already in runs/ "
                    "(a run still going elsewhere); trains nothing")


def execute(a: argparse.Namespace) -> int:
    """Run parsed arguments; the exit code (0 done, 2 bad arguments and nothing written, 1 failed mid-run)."""
    try:
        if a.only:
            bad = [e for e in a.only if e not in registry.names()]
            if bad:
                raise ValueError(f"unknown experiment(s) {bad}; known: {', '.join(registry.names())}")
        if a.publish_only:
            _check_publish_only(a)
            publish()
            return 0
        if a.no_train and a.no_notebooks:
            raise ValueError("--no-train with --no-notebooks would do nothing")
        cpus = a.cpus_per_unit
        if cpus is not None and cpus < 1:
            raise ValueError(f"--cpus-per-unit must be a positive int; got {cpus}")
        kw = dict(address=a.ray_address, gpus_per_unit=a.gpus_per_unit, cpus_per_unit=cpus or 1) \
            if a.executor == "ray" else dict(partition=a.slurm_partition, time_min=a.slurm_time,
                                             gpus_per_task=a.slurm_gpus, cpus_per_task=cpus or 1,
                                             array_parallelism=a.slurm_parallel) if a.executor == "slurm" else \
            dict(workers=a.workers, threads=cpus) if a.executor == "processes" else {}
        if a.executor == "processes" and a.workers < 1:
            raise ValueError(f"--workers must be a positive int; got {a.workers}")
        overrides = dict(_parse_set(x) for x in a.set)
        if a.executor in ("ray", "slurm"):
            executors._need({"ray": "ray", "slurm": "submitit"}[a.executor], a.executor)  # before any data loads
        run(a.profile, a.only, a.device, notebooks=not a.no_notebooks, seeds=a.seeds, data_root=a.data_root,
            publish_book=not a.no_publish, train=not a.no_train, executor=a.executor, executor_kw=kw,
            overrides=overrides, time_limit_min=a.time_limit)
    except (ValueError, FileNotFoundError) as e:
        print(f"dboost.runner: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a folder made read-only mid-run, ...
        hint = " (disk full)" if e.errno == errno.ENOSPC else ""
        print(f"dboost.runner: error: {e}{hint}; every row written so far is complete: fix this and rerun to "
              "resume", file=sys.stderr)
        return 1
    except executors.ExecutorError as e:
        print(f"dboost.runner: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001
        if type(e).__name__ != "PapermillExecutionError":
            raise
        print(f"dboost.runner: error: a notebook failed: {e.ename}: {e.evalue}; every row written so far is "
              "complete: fix this and rerun to resume", file=sys.stderr)
        return 1
    return 0


def _parse_set(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--set``: VALUE is JSON (lists become tuples, as the profiles hold them),
    or else the plain string."""
    import json
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise ValueError(f"--set needs KEY=VALUE; got {text!r}")
    try:
        v = json.loads(value)
    except json.JSONDecodeError:
        v = value
    return key.strip(), tuple(v) if isinstance(v, list) else v


def _check_publish_only(a) -> None:
    """--publish-only trains nothing, but the arguments it shares with a run must still be valid,
    and flags that contradict it are refused."""
    from .runtime import check_device, check_seeds
    for flag, on in (("--no-publish", a.no_publish), ("--no-notebooks", a.no_notebooks), ("--no-train", a.no_train)):
        if on:
            raise ValueError(f"--publish-only does not combine with {flag} (publishing executes the summary "
                             "notebook, and trains nothing)")
    if a.profile not in PROFILES:
        raise ValueError(f"unknown profile {a.profile!r}; known profiles: {', '.join(PROFILES)}")
    check_device(a.device)
    if a.seeds is not None:
        check_seeds(a.seeds)
    if a.data_root is not None:
        from .data import check_root
        check_root(a.data_root)
    root = runs_root()
    if root.exists() and not root.is_dir():
        raise ValueError(f"runs folder {root} is not a directory; point DBOOST_RUNS at a folder")


if __name__ == "__main__":
    sys.exit(main())
