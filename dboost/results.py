"""The results store: one JSON file per trained model, written atomically, plus a tidy CSV.

Layout: ``runs/<profile>/<experiment>/rows/<key>.json`` -- one row per trained model or
ensemble size -- and ``runs/<profile>/<experiment>/results.csv``, rebuilt from the rows after
each write.  Every write goes to a temporary file in the same folder and is renamed into place
(``os.replace`` is atomic on POSIX), so a crash or ``kill -9`` leaves either the old file or
the new one, never half of one; a rerun skips every key whose row exists.

Temporary files are named ``.<name>.<pid>.<random>.tmp`` (the writer's process id), so
:func:`clean_stale_temps` can remove those of dead writers -- left by a ``kill -9`` inside the
write window -- and never one a live process (another worker, an orphaned Jupyter kernel) is
still writing.  Files get the usual umask-based mode (not mkstemp's 0600).

Rows are checked when read: a file that is not a JSON object, or whose ``key`` is not its file
name, raises :class:`CorruptRow` naming the file and what to do (delete it: that model is
retrained on the next run).  :meth:`Store.check` applies the full row schema (required fields
and types, the row's profile / experiment / key matching its path); ``experiments.configure``
runs it on every store it will use, before any training.

Per-member tensors that a resumed boosting run needs (test logits, train margins) go to
``cache/<key>.pt`` beside the rows, loaded with ``weights_only=True``; they are not committed.
"""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import re
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .registry import REGISTRY


def runs_root() -> Path:
    """``$DBOOST_RUNS`` or ``runs/`` at the repository root (next to the ``dboost`` package)."""
    env = os.environ.get("DBOOST_RUNS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "runs"


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp's 0600 would make published files private
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


# Temporary files of ours: atomic writes (``.<name>.<pid>.<8 random>.tmp``), papermill's
# output while a notebook runs (``.<name>.<pid>.tmp.ipynb``, see dboost.runner), and the same
# two without a pid (written before pids were part of the name).
_TEMP_PID = (re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.tmp$"), re.compile(r"^\..+\.(\d+)\.tmp\.ipynb$"))
_TEMP_LEGACY = (re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$"), re.compile(r"^\..+\.tmp\.ipynb$"))
LEGACY_TEMP_AGE_S = 3600.0  # a pid-less temp file this old belongs to no write still going


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence check only, nothing is sent
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # exists (another user's) / not a pid at all
    return True


def clean_stale_temps(*folders: Path) -> list[Path]:
    """Remove our temporary files left by dead writers in ``folders`` (not recursive); returns them.

    Only names of our own patterns (see above) are touched.  A file tagged with the pid of a live
    process is kept (a worker or an orphaned kernel may still be writing it); a pid-less one only
    when older than ``LEGACY_TEMP_AGE_S``.
    """
    removed = []
    now = time.time()
    for d in folders:
        d = Path(d)
        if not d.is_dir():
            continue
        for f in d.iterdir():
            name = f.name
            if not name.startswith(".") or not (name.endswith(".tmp") or name.endswith(".tmp.ipynb")):
                continue
            m = next((r.match(name) for r in _TEMP_PID if r.match(name)), None)
            if m is not None:
                stale = not _pid_alive(int(m.group(1)))
            elif any(r.match(name) for r in _TEMP_LEGACY):
                try:
                    stale = now - f.stat().st_mtime > LEGACY_TEMP_AGE_S
                except FileNotFoundError:
                    continue
            else:
                continue
            if stale and f.is_file() and not f.is_symlink():
                try:
                    f.unlink()
                    removed.append(f)
                except FileNotFoundError:
                    pass
    return removed


def check_runs_root(root: Path | None = None) -> Path:
    """The runs folder, checked to be a writable directory (or creatable: nothing is created here).

    Raises ValueError in one line naming the folder (and ``DBOOST_RUNS`` where it came from there).
    """
    root = Path(root) if root is not None else runs_root()
    src = " (DBOOST_RUNS)" if os.environ.get("DBOOST_RUNS") and Path(os.environ["DBOOST_RUNS"]) == root else ""
    if root.exists():
        if not root.is_dir():
            raise ValueError(f"runs folder {root}{src} is not a directory; point DBOOST_RUNS at a folder")
        try:  # a real write: os.access says yes to root on a read-only mount's files, and no to nothing else
            fd, probe = tempfile.mkstemp(dir=root, prefix=f".probe.{os.getpid()}.", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise ValueError(f"runs folder {root}{src} is not writable ({e.strerror}); fix its permissions or "
                             "point DBOOST_RUNS elsewhere") from None
        return root
    parent = root.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"runs folder {root}{src} cannot be created: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"runs folder {root}{src} cannot be created: {parent} is not writable")
    return root


class CorruptRow(ValueError):
    """A row file that cannot be used: unreadable, not a row, or not the row its path says."""


def _load_row(path: Path) -> dict:
    try:
        row = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptRow(f"{path}: damaged row ({e.__class__.__name__}: {e}); delete it to retrain that model "
                         "(or restore it with git checkout)") from None
    if not isinstance(row, dict) or row.get("key") != path.stem:
        what = "not a JSON object" if not isinstance(row, dict) else \
            f"its key is {row.get('key')!r}, not {path.stem!r}" if "key" in row else "it has no key"
        raise CorruptRow(f"{path}: not a complete row ({what}); delete it to retrain that model "
                         "(or restore it with git checkout)")
    return row


_NUM = (int, float)


def _row_problems(row: dict, profile: str, experiment: str) -> list[str]:
    """What makes ``row`` unusable as a row of ``runs/<profile>/<experiment>/`` (empty: nothing)."""
    def kind(v, t):
        return isinstance(v, t) and not isinstance(v, bool)
    req = dict(profile=str, dataset=str, finished_at=str, seed=int, n_train=int, n_test=int, epochs=int,
               test=dict)
    if experiment == "units":
        req.update(unit=str, config=dict, train_mean_margin=_NUM)
    elif experiment in REGISTRY and REGISTRY[experiment].rows == "ensemble":
        req.update(experiment=str, rule=str, members=int)
    else:  # one network per row (the registry's "pair" rows)
        req.update(experiment=str, gap_label=str, train_mean_margin=_NUM)
    out = [f"{k} missing" if k not in row else f"{k} is {type(row[k]).__name__}, not {getattr(t, '__name__', 'a number')}"
           for k, t in req.items() if k not in row or not kind(row[k], t)]
    if isinstance(row.get("test"), dict) and not kind(row["test"].get("acc"), _NUM):
        out.append("test.acc missing or not a number")
    if kind(row.get("profile"), str) and row["profile"] != profile:
        out.append(f"profile {row['profile']!r} in a {profile!r} folder")
    if experiment != "units" and kind(row.get("experiment"), str) and row["experiment"] != experiment:
        out.append(f"experiment {row['experiment']!r} in a {experiment!r} folder")
    if experiment == "units" and kind(row.get("unit"), str) and row["unit"] != row.get("key"):
        out.append(f"unit {row['unit']!r} is not its key {row.get('key')!r}")
    return out


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}_"))
        elif isinstance(v, (list, tuple)):
            out[f"{prefix}{k}"] = json.dumps(v)
        else:
            out[f"{prefix}{k}"] = v
    return out


_ENV_CACHE: dict = {}


def _cpu_model() -> str:
    """The CPU's model name and whether it has native bf16 (float kernels, and bf16 speed, differ
    between e.g. AMD EPYC and Intel Xeon: rows must say which trained them)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "")
    flags = set(next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), []))
    bf16 = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return f"{name or platform.machine()} ({platform.machine()}; native bf16: {', '.join(bf16) if bf16 else 'no'})"


def environment(device=None) -> dict:
    """Hardware, library versions and git commit: recorded in every row."""
    dev = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev not in _ENV_CACHE:
        import torchvision
        hw = torch.cuda.get_device_name(0) if dev.startswith("cuda") else _cpu_model()
        commit = os.environ.get("DBOOST_GIT_COMMIT")  # set where the tree travels without .git (GPU boxes)
        try:
            commit = commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
        except Exception:
            commit = "unknown"
        _ENV_CACHE[dev] = dict(device=dev, hardware=hw,
                               torch=torch.__version__, torchvision=torchvision.__version__,
                               python=platform.python_version(), git_commit=commit)
    return dict(_ENV_CACHE[dev], cpu_threads=torch.get_num_threads())  # live: the count can change in a process


class Store:
    """Rows of one experiment of one profile (``experiment="units"``: the trained networks, see
    :mod:`dboost.experiments`)."""

    def __init__(self, profile: str, experiment: str, root: Path | None = None):
        self.profile, self.experiment = profile, experiment
        self.dir = Path(root or runs_root()) / profile / experiment
        self.rows_dir = self.dir / "rows"
        self.cache_dir = self.dir / "cache"
        self.checkpoints_dir = self.dir / "checkpoints"  # not committed: a training in flight (dboost.train)
        self.outputs_dir = self.dir / "outputs"  # committed: test logits + train margins (save_outputs)

    # rows ---------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        return (self.rows_dir / f"{key}.json").exists()

    def get(self, key: str) -> dict | None:
        p = self.rows_dir / f"{key}.json"
        return _load_row(p) if p.exists() else None

    def put(self, key: str, row: dict) -> None:
        row = dict(row, key=key, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        atomic_write_text(self.rows_dir / f"{key}.json", json.dumps(row, indent=1, sort_keys=True, default=float))
        self.write_csv()

    def rows(self) -> list[dict]:
        if not self.rows_dir.exists():
            return []
        return [_load_row(p) for p in sorted(self.rows_dir.glob("*.json"))]

    def check(self) -> int:
        """Every row file readable and complete (the schema of :func:`_row_problems`); returns the
        number of rows.  Raises :class:`CorruptRow` naming the first bad file and what to do."""
        n = 0
        for p in sorted(self.rows_dir.glob("*.json")) if self.rows_dir.is_dir() else ():
            bad = _row_problems(_load_row(p), self.profile, self.experiment)
            if bad:
                raise CorruptRow(f"{p}: invalid row ({'; '.join(bad)}); delete it to retrain that model "
                                 "(or restore it with git checkout)")
            n += 1
        return n

    def csv_text(self) -> str:
        """results.csv as :meth:`write_csv` writes it, from the rows on disk."""
        flat = [_flatten(r) for r in self.rows()]
        cols: list[str] = []
        for r in flat:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        w.writerows(flat)
        return buf.getvalue()

    def sync_csv(self) -> bool:
        """Rewrite results.csv if it differs from the rows (truncated, emptied, edited, missing
        while rows exist); the rows are the truth.  True if it was rewritten."""
        if not self.rows_dir.is_dir() or not any(self.rows_dir.glob("*.json")):
            return False
        text = self.csv_text()
        path = self.dir / "results.csv"
        try:
            if path.read_bytes() == text.encode():  # bytes: the csv module writes \r\n
                return False
        except OSError:
            pass
        atomic_write_text(path, text)
        return True

    def write_csv(self) -> Path:
        path = self.dir / "results.csv"
        atomic_write_text(path, self.csv_text())
        return path

    def find(self, **match) -> dict | None:
        """The first row whose fields equal ``match`` (None if none)."""
        for r in self.rows():
            if all(r.get(k) == v for k, v in match.items()):
                return r
        return None

    # training checkpoints --------------------------------------------------------------
    def checkpoint_path(self, key: str) -> Path:
        """Where the training of unit ``key`` saves its state while in flight (resumed from after a kill)."""
        return self.checkpoints_dir / f"{key}.pt"

    def drop_checkpoint(self, key: str) -> None:
        """Once the unit is stored its training state is no longer needed."""
        self.checkpoint_path(key).unlink(missing_ok=True)

    # per-member tensors ---------------------------------------------------------------
    def save_tensors(self, key: str, **tensors) -> None:
        """Tensors (and plain str/float metadata) for ``key``, atomically; loaded with weights_only=True."""
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in tensors.items()}, buf)
        atomic_write_bytes(self.cache_dir / f"{key}.pt", buf.getvalue())

    # committed per-unit outputs ---------------------------------------------------------
    def save_outputs(self, key: str, test_logits: torch.Tensor, train_margins: torch.Tensor) -> Path:
        """The outputs later metrics and boosting chains need, small enough to commit (``outputs/<key>.npz``,
        compressed): test logits in float16 -- a metric recomputed from them moves by < 1e-3 of a
        logit, far below seed spread, and 10k x 10 logits cost ~150 KB -- and training margins in
        float32, so the next boosting member's per-sample gaps (and hence its unit key) come out
        bit-identical on any machine, without retraining the predecessors."""
        buf = io.BytesIO()
        np.savez_compressed(buf, test_logits=test_logits.detach().cpu().to(torch.float16).numpy(),
                            train_margins=train_margins.detach().cpu().to(torch.float32).numpy())
        path = self.outputs_dir / f"{key}.npz"
        atomic_write_bytes(path, buf.getvalue())
        return path

    def has_outputs(self, key: str) -> bool:
        return (self.outputs_dir / f"{key}.npz").exists()

    def load_outputs(self, key: str) -> dict | None:
        """``{test_logits (float32 from the stored float16), train_margins}`` of ``key``, or None."""
        path = self.outputs_dir / f"{key}.npz"
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as z:
            return dict(test_logits=torch.from_numpy(z["test_logits"].astype(np.float32)),
                        train_margins=torch.from_numpy(z["train_margins"].copy()))

    def load_tensors(self, key: str) -> dict | None:
        """The cached tensors of ``key``, or None.  A cache file that does not load (truncated by a
        full disk, damaged) is discarded with a warning naming it: it is a cache, the caller rebuilds it."""
        p = self.cache_dir / f"{key}.pt"
        if not p.exists():
            return None
        try:
            out = torch.load(p, weights_only=True)
            if not isinstance(out, dict):
                raise ValueError(f"holds a {type(out).__name__}, not a dict")
        except Exception as e:  # noqa: BLE001 -- whatever torch.load raises on a damaged file
            warnings.warn(f"{p}: unreadable cache ({e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                          "discarded, it is rebuilt", RuntimeWarning, stacklevel=2)
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            return None
        return out
